package results

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteReportGolden(t *testing.T) {
	trials := fixture()
	slo := SLO{1300 * time.Millisecond, 0.01}
	tests := []struct {
		name string
		rec  int
	}{
		{"report.golden.txt", 6},
		{"report-none.golden.txt", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rec >= 0 {
				p, _ := Pick(trials, ModeKnee, slo)
				if p.Number != tc.rec {
					t.Fatalf("fixture's knee is %d", p.Number)
				}
			}
			var b bytes.Buffer
			if err := WriteReport(&b, trials, Front(trials), tc.rec); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestWriteReportClipsLongErrors(t *testing.T) {
	tr := Trial{Number: 0, State: StateFailed, Error: strings.Repeat("é", 300)}
	var b bytes.Buffer
	if err := WriteReport(&b, []Trial{tr}, nil, -1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  trial 0: "+strings.Repeat("é", maxErrorWidth-1)+"…\n") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		trials []Trial
		want   Counts
		text   string
	}{
		{nil, Counts{}, "0 trials: 0 complete, 0 failed, 0 pruned"},
		{[]Trial{{State: StatePruned}}, Counts{Total: 1, Pruned: 1}, "1 trial: 0 complete, 0 failed, 1 pruned"},
		{fixture(), Counts{Total: 10, Complete: 8, Failed: 1, Pruned: 1}, "10 trials: 8 complete, 1 failed, 1 pruned"},
	}
	for _, tc := range tests {
		got := Summary(tc.trials)
		if got != tc.want || got.String() != tc.text {
			t.Errorf("Summary = %+v %q, want %+v %q", got, got, tc.want, tc.text)
		}
	}
}

package results

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// screenedFixture is a screened study's record: trial 5 measured only by a
// 20 s screen, with more TPS than any full load, and trial 8 its promotion
// (the full load of the same configuration).
func screenedFixture() []Trial {
	ts := fixture()[:8]
	ts[5].ScreenS = 20
	ts[5].Metrics.TPS = 140
	promo := ts[5]
	promo.Number, promo.Origin, promo.ScreenS = 8, OriginPromoted, 0
	from := 5
	promo.PromotedFrom = &from
	promo.Metrics.TPS = 130
	promo.Metrics.P95 = 900
	return append(ts, promo)
}

// TestScreensAreNeverRecommended: a screen's figures stay out of the
// Pareto front and every pick, however good; its promotion is in.
func TestScreensAreNeverRecommended(t *testing.T) {
	ts := screenedFixture()
	slo := SLO{P95: 2 * time.Second, MaxErrorRate: 0.01}
	for _, f := range Front(ts) {
		if f.Screened() {
			t.Errorf("trial %d, measured only by a screen, is on the front", f.Number)
		}
	}
	for _, mode := range []Mode{ModeMaxTPS, ModeKnee, ModeMinP95} {
		got, ok := Pick(ts, mode, slo)
		if !ok || got.Screened() {
			t.Errorf("%s picks trial %d (screened %v)", mode, got.Number, got.Screened())
		}
	}
	if got, _ := Pick(ts, ModeMaxTPS, slo); got.Number != 8 {
		t.Errorf("max-tps picks trial %d, want the promotion 8 (130 TPS at full load; its screen's 140 does not count)", got.Number)
	}
	if slo.Meets(ts[5]) {
		t.Error("a screen meets the SLO: it would be recommended")
	}
}

// TestScreenAndPromotionRecorded: screen_s and promoted_from survive
// trials.jsonl and the store, and a full-load trial's line is as before.
func TestScreenAndPromotionRecorded(t *testing.T) {
	ts := screenedFixture()
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "trials.db"))
	id, err := s.Study(ctx, "x", meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if err := s.Add(ctx, id, tr); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Trials(ctx, id)
	if err != nil || !reflect.DeepEqual(got, ts) {
		t.Fatalf("store: %v\n got %+v\nwant %+v", err, got, ts)
	}
	for _, tr := range ts {
		b, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		var back Trial
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, tr) {
			t.Errorf("trial %d through JSON: %v\n%s", tr.Number, err, b)
		}
		has := bytes.Contains(b, []byte(`"screen_s":20`)) || bytes.Contains(b, []byte(`"promoted_from":5`))
		if want := tr.Number == 5 || tr.Number == 8; has != want {
			t.Errorf("trial %d: %s", tr.Number, b)
		}
	}
}

// TestStoreFromVersion2: a trials.db from before screens were recorded
// opens; its trials read as full loads and a promotion can follow them.
func TestStoreFromVersion2(t *testing.T) {
	ctx := context.Background()
	s, id := storeOfVersion(t, 2, []string{"\tscreen_s    REAL NOT NULL DEFAULT 0,\n", "\tpromoted_from INTEGER,\n"},
		`'complete', 'baseline', '{}', 8, 16384, 20, 1, 2, 3, 1, 0, '', NULL, NULL, '2026-11-25T01:00:00Z', '2026-11-25T01:05:00Z', 300, NULL`)
	from := 0
	promo := Trial{Number: 1, State: StateComplete, Origin: OriginPromoted, PromotedFrom: &from, Params: map[string]any{}}
	if err := s.Add(ctx, id, promo); err != nil {
		t.Fatal(err)
	}
	got, err := s.Trials(ctx, id)
	if err != nil || len(got) != 2 || got[0].Screened() || got[0].PromotedFrom != nil || got[1].PromotedFrom == nil || *got[1].PromotedFrom != 0 {
		t.Errorf("trials after the upgrade: %+v, %v", got, err)
	}
}

func TestValidatePromotion(t *testing.T) {
	two, nine := 2, 9
	for _, tc := range []struct {
		name string
		t    Trial
		want string
	}{
		{"promoted without its screen", Trial{Number: 3, State: StateComplete, Origin: OriginPromoted}, "promoted_from"},
		{"a screen named by a sampler trial", Trial{Number: 3, State: StateComplete, Origin: OriginSampler, PromotedFrom: &two}, "promoted_from"},
		{"a later trial promoted", Trial{Number: 3, State: StateComplete, Origin: OriginPromoted, PromotedFrom: &nine}, "promoted_from 9"},
		{"negative screen", Trial{Number: 3, State: StateComplete, Origin: OriginSampler, ScreenS: -1}, "screen_s"},
	} {
		if err := tc.t.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	ok := Trial{Number: 3, State: StateComplete, Origin: OriginPromoted, PromotedFrom: &two}
	if err := ok.Validate(); err != nil {
		t.Errorf("a promotion of trial 2: %v", err)
	}
}

// TestReportMarksScreens: the summary counts the screens and promotions
// and its table shows which trial is which.
func TestReportMarksScreens(t *testing.T) {
	ts := screenedFixture()
	var b bytes.Buffer
	if err := WriteReport(&b, ts, Front(ts), 8); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"9 trials: 7 complete (1 by a screen only, 1 promoted to the full load), 1 failed, 1 pruned",
		"    5  sampler      screen 20s",
		"    8  promoted #5  complete",
		"recommended: trial 8 (TPS 130.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

package results

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestTrialJSONRoundTrip(t *testing.T) {
	for _, want := range fixture() {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got Trial
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of trial %d:\n got %#v\nwant %#v", want.Number, got, want)
		}
	}
}

func TestParamsKeepTheirType(t *testing.T) {
	tests := []struct {
		name string
		in   any
		json string
	}{
		{"int64", int64(2), `2`},
		{"int becomes int64", 3, `3`},
		{"integral float", 2.0, `2.0`},
		{"fractional float", 1.5, `1.5`},
		{"negative zero", math.Copysign(0, -1), `-0.0`},
		{"large float", 1e21, `1e+21`},
		{"small float", 1e-7, `1e-7`},
		{"string that looks like a number", "2", `"2"`},
		{"millicores string", "1500m", `"1500m"`},
		{"bool", true, `true`},
		{"nested", map[string]any{"a": 1.0, "b": []any{int64(1), 2.5}}, `{"a":1.0,"b":[1,2.5]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeParams(map[string]any{"p": tc.in})
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"p":` + tc.json + `}`; string(b) != want {
				t.Errorf("encoded %s, want %s", b, want)
			}
			got, err := decodeParams(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.in
			if i, ok := want.(int); ok {
				want = int64(i)
			}
			if !reflect.DeepEqual(got["p"], want) {
				t.Errorf("decoded %#v (%T), want %#v (%T)", got["p"], got["p"], want, want)
			}
		})
	}
}

func TestTrialJSONFieldOrder(t *testing.T) {
	b, err := json.Marshal(Trial{Number: 3, State: StateFailed, Origin: OriginSampler, Error: "boom"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"number":3,"state":"failed","params":{},"resources":{"cpu_cores":0,"memory_mib":0},` +
		`"metrics":{"tps":0,"p50_ms":0,"p95_ms":0,"p99_ms":0,"ttfb_p95_ms":0,"error_rate":0},` +
		`"error":"boom","origin":"sampler","started":"0001-01-01T00:00:00Z","finished":"0001-01-01T00:00:00Z","duration_s":0}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestValidate(t *testing.T) {
	ok := Trial{Number: 0, State: StateComplete, Origin: OriginSampler}
	tests := []struct {
		name   string
		modify func(*Trial)
		want   []string // substrings of the error; none: valid
	}{
		{"valid", func(*Trial) {}, nil},
		{"empty origin is accepted", func(t *Trial) { t.Origin = "" }, nil},
		{"negative number", func(t *Trial) { t.Number = -1 }, []string{"number -1"}},
		{"bad state", func(t *Trial) { t.State = "done" }, []string{`state "done"`}},
		{"bad origin", func(t *Trial) { t.Origin = "user" }, []string{`origin "user"`}},
		{"NaN metric", func(t *Trial) { t.Metrics.P95 = math.NaN() }, []string{"metrics.p95_ms is NaN"}},
		{"Inf param", func(t *Trial) { t.Params = map[string]any{"api.cpu": math.Inf(1)} }, []string{"params.api.cpu"}},
		{"unsupported param", func(t *Trial) { t.Params = map[string]any{"x": struct{}{}} }, []string{"unsupported type"}},
		{"every problem at once", func(t *Trial) { t.Number, t.State = -2, "x" }, []string{"number -2", `state "x"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := ok
			tc.modify(&tr)
			err := tr.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

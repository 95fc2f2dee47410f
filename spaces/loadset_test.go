package spaces

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestOverlayLoad(t *testing.T) {
	base := Workload{Scenario: "chatflow", Users: 100, SpawnRate: 10, Duration: 3 * time.Minute,
		ThinkMin: 200 * time.Millisecond, ThinkMax: 800 * time.Millisecond,
		LLM: LLM{TTFT: 600 * time.Millisecond, TokensPerSecond: 80, AnswerTokens: 300}}
	got, err := OverlayLoad(base, "--load-set", []byte("users: 8\nthinkMin: 0s\nthinkMax: 1ms\nllm: {tokensPerSecond: 20}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := base
	want.Users, want.ThinkMin, want.ThinkMax, want.LLM.TokensPerSecond = 8, 0, time.Millisecond, 20
	if !reflect.DeepEqual(got, want) {
		t.Errorf("overlay:\n got %+v\nwant %+v", got, want)
	}
	// One scenario or a mix: an overlay that names one replaces the other.
	mixed, err := OverlayLoad(base, "--load-set", []byte("mix: {chatflow: 6, agent: 4}"))
	if err != nil || mixed.Name() != "chatflow=6,agent=4" || mixed.Scenario != "" {
		t.Errorf("a mix over a scenario: %+v, %v", mixed, err)
	}
	single, err := OverlayLoad(mixed, "--load-set", []byte("scenario: llm"))
	if err != nil || single.Mixed() || single.Name() != "llm" {
		t.Errorf("a scenario over a mix: %+v, %v", single, err)
	}
	for _, tc := range []struct{ data, want string }{
		{"users: -1", "--load-set: load.users: -1 must be > 0"},
		{"thinkMax: 1ms", "--load-set: load.thinkMax: 1ms below thinkMin 200ms"},
		{"llm: {ttft: soon}", "--load-set: load.llm.ttft: want a duration such as 3m or 500ms, got"},
		{"user: 8", "--load-set: load.user: unknown field"},
		{"scenario: chat", `--load-set: load.scenario: want one of`},
		{"[1, 2]", "--load-set: load: want a mapping"},
		{"mix: {chatflow: 0}", "--load-set: load.mix.chatflow: weight 0 outside 1..10000"},
		{"scenario: llm\nmix: {agent: 1}", "--load-set: load.scenario: set load.scenario or load.mix"},
	} {
		_, err := OverlayLoad(base, "--load-set", []byte(tc.data))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q (and ErrInvalid)", tc.data, err, tc.want)
		}
	}
}

// FuzzOverlayLoad: whatever the overlay, the result is an error naming the
// source or a load that validates.
func FuzzOverlayLoad(f *testing.F) {
	f.Add("users: 8\nllm: {ttft: 5ms}")
	f.Add("thinkMin: 1s")
	f.Add("&a {<<: *a}")
	f.Fuzz(func(t *testing.T, data string) {
		w, err := OverlayLoad(Workload{Scenario: "llm", Users: 1, SpawnRate: 1, Duration: time.Second}, "--load-set", []byte(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "--load-set") {
				t.Fatalf("%q: %v", data, err)
			}
			return
		}
		if w.Users <= 0 || w.ThinkMax < w.ThinkMin || w.Duration <= 0 {
			t.Fatalf("%q gave an invalid load %+v", data, w)
		}
	})
}

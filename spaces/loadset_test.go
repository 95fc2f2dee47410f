package spaces

import (
	"errors"
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
	if got != want {
		t.Errorf("overlay:\n got %+v\nwant %+v", got, want)
	}
	for _, tc := range []struct{ data, want string }{
		{"users: -1", "--load-set: load.users: -1 must be > 0"},
		{"thinkMax: 1ms", "--load-set: load.thinkMax: 1ms below thinkMin 200ms"},
		{"llm: {ttft: soon}", "--load-set: load.llm.ttft: want a duration such as 3m or 500ms, got"},
		{"user: 8", "--load-set: load.user: unknown field"},
		{"scenario: chat", `--load-set: load.scenario: want one of`},
		{"[1, 2]", "--load-set: load: want a mapping"},
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

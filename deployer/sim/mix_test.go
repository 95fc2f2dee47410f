package sim

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

func evalLoad(t *testing.T, sys spaces.System, w spaces.Workload) results.Measurement {
	t.Helper()
	m, err := New(1).Evaluate(context.Background(), sys, w)
	if err != nil {
		t.Fatalf("%s: %v", w.Name(), err)
	}
	return m
}

func mixed(t *testing.T, spec string) spaces.Workload {
	t.Helper()
	w, err := defaultSpace(t).Load.WithScenario(spec)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A mix of one scenario is that scenario: the same users, the same noise,
// the same measurement.
func TestMixOfOneIsTheScenario(t *testing.T) {
	sys := preset(t, "s8-final", "8c16g")
	for _, sc := range []string{"chatflow", "retrieval"} {
		one, mix := evalLoad(t, sys, workload(t, sc)), evalLoad(t, sys, mixed(t, sc+"=100"))
		if !reflect.DeepEqual(one, mix) {
			t.Errorf("%s=100 measures\n%+v\n%s alone\n%+v", sc, mix, sc, one)
		}
	}
}

// Where both apps queue at the same station (chatflow and agent on the api
// of the case study's 8c16g), a mix's TPS lies between its parts' alone,
// its P95 (over all requests) between its parts' P95 in the mix, and its
// parts add up to it.
func TestMixBetweenItsParts(t *testing.T) {
	sys := preset(t, "s8-final", "8c16g")
	chat, agent := evalLoad(t, sys, workload(t, "chatflow")), evalLoad(t, sys, workload(t, "agent"))
	m := evalLoad(t, sys, mixed(t, "chatflow=50,agent=50"))
	c, a := m.Scenarios["chatflow"], m.Scenarios["agent"]
	t.Logf("chatflow %.1f TPS, agent %.1f, 50/50 mix %.1f (chatflow %.1f + agent %.1f); P95 %.0f / %.0f / %.0f ms",
		chat.Metrics.TPS, agent.Metrics.TPS, m.Metrics.TPS, c.Metrics.TPS, a.Metrics.TPS,
		chat.Metrics.P95, agent.Metrics.P95, m.Metrics.P95)
	lo, hi := min(chat.Metrics.TPS, agent.Metrics.TPS), max(chat.Metrics.TPS, agent.Metrics.TPS)
	if tps := m.Metrics.TPS; tps <= lo || tps >= hi {
		t.Errorf("mix %.1f TPS outside its parts' %.1f..%.1f", tps, lo, hi)
	}
	if c.Users != 50 || a.Users != 50 {
		t.Errorf("users %d chatflow, %d agent; want 50 each", c.Users, a.Users)
	}
	if c.Completed+a.Completed != m.Completed || c.Failed+a.Failed != m.Failed {
		t.Errorf("parts %d+%d completed, %d+%d failed; the mix %d, %d", c.Completed, a.Completed, c.Failed, a.Failed, m.Completed, m.Failed)
	}
	if p := m.Metrics.P95; p < min(c.Metrics.P95, a.Metrics.P95) || p > max(c.Metrics.P95, a.Metrics.P95) {
		t.Errorf("the mix's P95 %.0f ms lies outside its parts' %.0f and %.0f", p, c.Metrics.P95, a.Metrics.P95)
	}
}

// Where the apps' bottlenecks differ (chatflow on the api, retrieval on
// the embedding server, at 16c32g), a mix makes more than either alone,
// as a deployment serving both does, but no part more than it makes with
// every user; the utilisation shows both apps' stations at work.
func TestMixOfDisjointBottlenecks(t *testing.T) {
	sys := preset(t, "s16-final", "16c32g")
	chat, retr := evalLoad(t, sys, workload(t, "chatflow")), evalLoad(t, sys, workload(t, "retrieval"))
	m := evalLoad(t, sys, mixed(t, "chatflow=50,retrieval=50"))
	c, r := m.Scenarios["chatflow"], m.Scenarios["retrieval"]
	t.Logf("chatflow %.1f TPS, retrieval %.1f, 50/50 mix %.1f (chatflow %.1f + retrieval %.1f)",
		chat.Metrics.TPS, retr.Metrics.TPS, m.Metrics.TPS, c.Metrics.TPS, r.Metrics.TPS)
	if tps := m.Metrics.TPS; tps <= max(chat.Metrics.TPS, retr.Metrics.TPS) || tps >= chat.Metrics.TPS+retr.Metrics.TPS {
		t.Errorf("mix %.1f TPS; want more than either part alone (%.1f, %.1f), less than both together",
			tps, chat.Metrics.TPS, retr.Metrics.TPS)
	}
	if c.Metrics.TPS >= chat.Metrics.TPS || r.Metrics.TPS >= retr.Metrics.TPS {
		t.Errorf("half the users make chatflow %.1f, retrieval %.1f TPS; all of them made %.1f, %.1f",
			c.Metrics.TPS, r.Metrics.TPS, chat.Metrics.TPS, retr.Metrics.TPS)
	}
	// Chatflow never searches; the retrieval users of the mix do.
	for _, svc := range []string{"weaviate", "xinference"} {
		if chat.Utilisation[svc] > 0.02 || m.Utilisation[svc] < 0.1 {
			t.Errorf("%s utilisation: chatflow alone %.2f, the mix %.2f; the mix's retrieval users search", svc, chat.Utilisation[svc], m.Utilisation[svc])
		}
	}
	if m.Utilisation["api"] <= retr.Utilisation["api"] {
		t.Errorf("api utilisation: the mix %.2f, retrieval alone %.2f; the mix's chatflow users run workflows in the api",
			m.Utilisation["api"], retr.Utilisation["api"])
	}
}

// Weights split the users: a 60/30/10 mix of 100 users runs 60, 30 and 10.
func TestMixSplitsUsersByWeight(t *testing.T) {
	sys := preset(t, "s16-final", "16c32g")
	w := mixed(t, "chatflow=60,agent=30,retrieval=10")
	w.Duration /= 6
	m := evalLoad(t, sys, w)
	got := map[string]int{}
	for name, p := range m.Scenarios {
		got[name] = p.Users
	}
	if want := map[string]int{"chatflow": 60, "agent": 30, "retrieval": 10}; !reflect.DeepEqual(got, want) {
		t.Errorf("users %v, want %v", got, want)
	}
	// The mix has its own noise, fixed by its seed.
	if again := evalLoad(t, sys, w); !reflect.DeepEqual(m, again) {
		t.Error("the same mix and seed measured twice differ")
	}
}

// The noise is seeded with every Workload field that shapes the load: a
// new field must join noiseKey (or be the mix, hashed apart), or two
// different loads would meet the same noise.
func TestNoiseKeyCoversWorkload(t *testing.T) {
	key := reflect.TypeFor[noiseKey]()
	var have []string
	for i := range key.NumField() {
		have = append(have, key.Field(i).Name)
	}
	wt := reflect.TypeFor[spaces.Workload]()
	for i := range wt.NumField() {
		if f := wt.Field(i).Name; f != "Mix" && !slices.Contains(have, f) {
			t.Errorf("spaces.Workload.%s is not in noiseKey", f)
		}
	}
}

// BenchmarkTrialMix is one 100-user, 3-minute trial of a 60/30/10
// chatflow/agent/retrieval mix at s16-final; BenchmarkTrial is the same
// trial of chatflow alone, its anchor in the same run.
func BenchmarkTrialMix(b *testing.B) {
	sys := preset(b, "s16-final", "16c32g")
	w, err := defaultSpace(b).Load.WithScenario("chatflow=60,agent=30,retrieval=10")
	if err != nil {
		b.Fatal(err)
	}
	m := New(1)
	var completed int
	for b.Loop() {
		r, err := m.Evaluate(context.Background(), sys, w)
		if err != nil {
			b.Fatal(err)
		}
		completed = r.Completed
	}
	b.ReportMetric(float64(completed), "requests/trial")
}

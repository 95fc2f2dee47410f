package spaces

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestMixFromSpace(t *testing.T) {
	s, err := Load("testdata/valid-mix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := s.Load
	if !w.Mixed() || w.Scenario != "" {
		t.Fatalf("load %+v: want a mix and no scenario", w)
	}
	// The file lists agent first; the mix's order is the scenarios' own.
	want := []Part{{"chatflow", 60}, {"agent", 30}, {"retrieval", 10}}
	if got := w.Parts(); !reflect.DeepEqual(got, want) {
		t.Errorf("parts %v, want %v", got, want)
	}
	if got := w.Name(); got != "chatflow=60,agent=30,retrieval=10" {
		t.Errorf("name %q", got)
	}
}

func TestWithScenario(t *testing.T) {
	base := Workload{Scenario: "chatflow", Users: 100}
	w, err := base.WithScenario("retrieval=1, chatflow=3")
	if err != nil {
		t.Fatal(err)
	}
	if w.Scenario != "" || w.Name() != "chatflow=3,retrieval=1" || w.Users != 100 {
		t.Errorf("mix: %+v (%s)", w, w.Name())
	}
	back, err := w.WithScenario("agent")
	if err != nil {
		t.Fatal(err)
	}
	if back.Mixed() || back.Name() != "agent" || !reflect.DeepEqual(back.Parts(), []Part{{"agent", 1}}) {
		t.Errorf("scenario after a mix: %+v", back)
	}
	for spec, want := range map[string]string{
		"batch":                  `"batch": want one of chatflow, agent, retrieval, llm, or a mix`,
		"chatflow=60,agent":      `"agent": want scenario=weight pairs`,
		"chatflow=60,chatflow=1": "chatflow is weighed twice",
		"chatflow=0":             "weight 0 outside 1..10000",
		"chatflow=6,batch=1":     `"batch" is not a scenario`,
		"=3":                     `"=3": want scenario=weight pairs`,
		"chatflow=1.5":           `"chatflow=1.5": want scenario=weight pairs`,
	} {
		_, err := base.WithScenario(spec)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: error %v, want one holding %q and matching ErrInvalid", spec, err, want)
		}
	}
}

func TestSplit(t *testing.T) {
	parts := []Part{{"chatflow", 60}, {"agent", 30}, {"retrieval", 10}}
	s := NewSplit(parts)
	if got := s.Counts(100); !reflect.DeepEqual(got, []int{60, 30, 10}) {
		t.Errorf("100 users split %v, want 60 30 10", got)
	}
	// Every spawn ramp's first n users keep each share to within one user.
	for n := 1; n <= 250; n++ {
		for i, c := range s.Counts(n) {
			ideal := float64(n) * float64(parts[i].Weight) / 100
			if math.Abs(float64(c)-ideal) >= 1 {
				t.Fatalf("the first %d users give %s %d users, %.1f by weight", n, parts[i].Scenario, c, ideal)
			}
		}
	}
	// A user's part depends on its number alone.
	if a, b := NewSplit(parts), NewSplit(parts); a.Of(1234) != b.Of(1234) || a.Of(7) != s.Of(107) {
		t.Error("the split is not a function of the user's number")
	}
	one := NewSplit([]Part{{"agent", 1}})
	if got := one.Counts(50); !reflect.DeepEqual(got, []int{50}) {
		t.Errorf("one part: %v", got)
	}
}

// The users of a 60/30/10 mix in spawn order: each block of ten holds six
// chatflow, three agent and one retrieval user.
func ExampleSplit() {
	m := Mix{"chatflow": 60, "agent": 30, "retrieval": 10}
	parts := m.Parts()
	s := NewSplit(parts)
	var first []string
	for i := range 10 {
		first = append(first, parts[s.Of(i)].Scenario)
	}
	fmt.Println(strings.Join(first, " "))
	fmt.Println(s.Counts(100))
	// Output:
	// chatflow agent chatflow chatflow agent chatflow retrieval chatflow agent chatflow
	// [60 30 10]
}

func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"chatflow=60,agent=30,retrieval=10", "llm=1", " agent = 2 ,chatflow=1", "a=b", "chatflow=0", ",", "chatflow=1,chatflow=2", "retrieval=10000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", s, err)
			}
			return
		}
		parts := m.Parts()
		if len(parts) == 0 || len(parts) > len(Scenarios) {
			t.Fatalf("%q: parsed into %d parts", s, len(parts))
		}
		for _, p := range parts {
			if p.Weight < 1 || p.Weight > maxWeight {
				t.Fatalf("%q: accepted weight %d", s, p.Weight)
			}
		}
		again, err := ParseMix(m.String())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%q: %q does not read back: %v, %v", s, m.String(), again, err)
		}
		counts := NewSplit(parts).Counts(1000)
		for i, c := range counts {
			if c < 1 && parts[i].Weight > 0 && 1000*parts[i].Weight >= totalWeight(parts) {
				t.Fatalf("%q: %s gets no user of 1000", s, parts[i].Scenario)
			}
		}
	})
}

func totalWeight(parts []Part) int {
	t := 0
	for _, p := range parts {
		t += p.Weight
	}
	return t
}

package helm

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tune-dify/tune/spaces"
)

// Every path of spaces/default.yaml reaches the community chart, though it
// randomises secrets on every render.
func TestCheckPathsDefault(t *testing.T) {
	d := offline(t, Options{})
	probs, err := d.CheckPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("%v", p)
	}
}

// A typo'd path and a key the chart ignores are found; the paths around
// them are not reported.
func TestCheckPathsFindsDeadPaths(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	// The api alone keeps the test short; its workers stay for the floor.
	sp.Services = sp.Services[:1]
	sp.Params = slices.DeleteFunc(sp.Params, func(p spaces.Param) bool {
		return !slices.Contains([]string{"api.workers", "pgbouncer.enabled", "pgbouncer.poolMode"}, p.Name)
	})
	sp.Services[0].CPU.Values[1].Path = "api.resource.limits.cpu" // typo
	sp.Params = append(sp.Params, spaces.Param{
		Name: "api.logFormat", Type: spaces.TypeChoice, Choices: []string{"text", "json"}, Current: "text",
		Values: []spaces.Target{{Path: "api.logFormat"}}, // the chart has no such key
	}, spaces.Param{
		Name: "pgbouncer.stats", Type: spaces.TypeBool, Current: false,
		Values: []spaces.Target{{Path: "pgbouncer.statsPeriod"}}, // nor has tune's pgbouncer
	})
	probs, err := d.CheckPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.Param+" "+p.Path)
		t.Log(p)
	}
	want := []string{"api.cpu api.resource.limits.cpu", "api.logFormat api.logFormat", "pgbouncer.stats pgbouncer.statsPeriod"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("got %q, want %q", got, want)
	}
}

package helm

import (
	"context"
	"strings"
	"testing"

	"github.com/tune-dify/tune/spaces"
)

// Every path of spaces/default.yaml reaches the test chart.
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
	sp.Services[0].CPU.Values[1].Path = "api.resource.limits.cpu" // typo
	sp.Params = append(sp.Params, spaces.Param{
		Name: "api.logLevel", Type: spaces.TypeChoice, Choices: []string{"INFO", "DEBUG"}, Current: "INFO",
		Values: []spaces.Target{{Path: "api.logLevel"}}, // the test chart has no such key
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
	want := []string{"api.cpu api.resource.limits.cpu", "api.logLevel api.logLevel"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("got %q, want %q", got, want)
	}
}

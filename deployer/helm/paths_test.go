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

// The noise of two renders never hides a difference between other renders
// in lines it did not see change, and a manifest never differs from itself.
func FuzzNoise(f *testing.F) {
	f.Add("---\n# Source: a.yaml\nkind: Secret\npassword: x\n", "---\n# Source: a.yaml\nkind: Secret\npassword: y\n", "---\n# Source: a.yaml\nkind: Secret\npassword: x\nextra: 1\n")
	f.Add("", "---\n# Source: b.yaml\n", "---\n# Source: b.yaml\nkind: Service\n")
	f.Fuzz(func(t *testing.T, one, two, other string) {
		n := learnNoise(one, two)
		if n.differ(one, one) || n.differ(other, other) {
			t.Fatal("a manifest differs from itself")
		}
		if learnNoise(one, one).differ(one, two) != (len(docs(one)) != len(docs(two)) || !sameDocs(one, two)) {
			t.Fatal("without noise, differ is not plain inequality of the documents")
		}
	})
}

// sameDocs reports whether two manifests have the same documents.
func sameDocs(a, b string) bool {
	da, db := docs(a), docs(b)
	for k, la := range da {
		if !slices.Equal(la, db[k]) {
			return false
		}
	}
	return len(da) == len(db)
}

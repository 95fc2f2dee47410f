package release_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

// TestExportCarriesTheCompanion: a recommendation that turns tune's
// pgbouncer on comes with its manifest, named in values.yaml's header as
// what to apply first; one that leaves it off is values.yaml alone, and the
// chart's own env entries (CHECK_UPDATE_URL) are kept in both.
func TestExportCarriesTheCompanion(t *testing.T) {
	sp, err := spaces.Load(filepath.Join("..", "..", "spaces", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		cfg := sp.Baseline()
		cfg["pgbouncer.enabled"] = on
		tr := results.Trial{Number: 7, Params: map[string]any(cfg)}
		files, err := release.Export(context.Background(), sp, nil, tr, results.Header{Study: "s", Budget: "16c32g", Trial: tr}, "values.yaml")
		if err != nil {
			t.Fatal(err)
		}
		values := string(files[0].Data)
		if files[0].Name != "values.yaml" || !strings.Contains(values, "CHECK_UPDATE_URL") {
			t.Errorf("pgbouncer %v: first file %s without the chart's own env entries:\n%s", on, files[0].Name, values)
		}
		if !on {
			if len(files) != 1 {
				t.Errorf("pgbouncer off: %d files, want values.yaml alone", len(files))
			}
			continue
		}
		if len(files) != 2 || files[1].Name != "pgbouncer.yaml" {
			t.Fatalf("pgbouncer on: files %v, want values.yaml and pgbouncer.yaml", len(files))
		}
		manifest := string(files[1].Data)
		if !strings.Contains(manifest, "kind: Deployment") || !strings.Contains(manifest, "kubectl apply") {
			t.Errorf("pgbouncer.yaml is not an applicable manifest:\n%s", manifest)
		}
		if !strings.Contains(values, "kubectl apply -n <namespace> -f pgbouncer.yaml") {
			t.Errorf("values.yaml does not say to apply pgbouncer.yaml first:\n%s", values)
		}
	}
}

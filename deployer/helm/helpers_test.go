package helm

import (
	"context"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/tune-dify/tune/spaces"
)

// testChart is the community chart 0.37.0 with its real subcharts, as
// spaces/default.yaml describes it: the chart every test uses unless it
// needs the hand-written one (handChart) to fail on purpose.
const (
	testChart = "testdata/charts/dify-0.37.0.tgz"
	handChart = "testdata/dify"
)

// loadDefault loads spaces/default.yaml, the space of the test chart.
func loadDefault(t testing.TB) *spaces.Space {
	t.Helper()
	sp, err := spaces.Load("../../spaces/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// offline is a Deployer of the default space on the real chart that never
// needs a cluster (render, overlay, audit, path check).
func offline(t testing.TB, opts Options) *Deployer {
	t.Helper()
	t.Setenv("KUBECONFIG", t.TempDir()+"/none")
	t.Setenv("HELM_CACHE_HOME", t.TempDir())
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
	sp := loadDefault(t)
	if opts.Chart == nil {
		opts.Chart = &spaces.Chart{Path: mustAbs(t, testChart)}
	}
	d, err := New(context.Background(), sp, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustAbs(t testing.TB, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func mustBudget(t testing.TB, s string) spaces.Budget {
	t.Helper()
	b, err := spaces.ParseBudget(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// packageChart writes the hand-written chart as a .tgz, as `helm package`
// does.
func packageChart(t testing.TB) string {
	t.Helper()
	ch, err := loader.Load(handChart)
	if err != nil {
		t.Fatal(err)
	}
	path, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
}

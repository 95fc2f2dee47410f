package helm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tune-dify/tune/spaces"
)

// A wrong chart path is named, and so is the problem.
func TestNewWrongChartPath(t *testing.T) {
	t.Setenv("HELM_CACHE_HOME", t.TempDir())
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
	sp := loadDefault(t)
	_, err := New(context.Background(), sp, Options{Chart: &spaces.Chart{Path: "/no/such/dify"}})
	if err == nil || err.Error() != "chart /no/such/dify: no such chart folder or .tgz" {
		t.Errorf("got %v", err)
	}
	// A relative path is the space file's.
	dir := t.TempDir()
	spaceFile := filepath.Join(dir, "space.yaml")
	data, _ := os.ReadFile("../../spaces/default.yaml")
	data = []byte(strings.Replace(string(data), "      repo: https://borispolonsky.github.io/dify-helm\n      name: dify\n      version: 0.37.0\n", "      path: charts/dify\n", 1))
	os.WriteFile(spaceFile, data, 0o600)
	sp, err = spaces.Load(spaceFile)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), sp, Options{})
	if want := "chart " + filepath.Join(dir, "charts/dify") + ": no such chart folder or .tgz"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestNewUnreachableRepo(t *testing.T) {
	t.Setenv("HELM_CACHE_HOME", t.TempDir())
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
	sp := loadDefault(t)
	_, err := New(context.Background(), sp, Options{Chart: &spaces.Chart{Repo: "http://127.0.0.1:1/charts", Name: "dify", Version: "0.37.0"}})
	if err == nil || !strings.HasPrefix(err.Error(), "chart dify 0.37.0 from http://127.0.0.1:1/charts: ") {
		t.Errorf("got %v", err)
	}
}

// A .tgz chart loads like a folder.
func TestNewPackagedChart(t *testing.T) {
	d := offline(t, Options{Chart: &spaces.Chart{Path: mustAbs(t, handChart)}})
	tgz := packageChart(t)
	d2 := offline(t, Options{Chart: &spaces.Chart{Path: tgz}})
	for _, dd := range []*Deployer{d, d2} {
		if _, err := dd.Render(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApplyNeedsBaseline(t *testing.T) {
	d := offline(t, Options{})
	if _, err := d.Apply(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "call Baseline before Apply") {
		t.Errorf("got %v", err)
	}
}

// Options win over the space's target; the defaults fill the rest.
func TestNewOptions(t *testing.T) {
	d := offline(t, Options{Release: "other", Namespace: "ns1", Timeouts: spaces.HelmTimeouts{Settle: -1, Rollout: 42e9}})
	if d.Release() != "other" || d.Namespace() != "ns1" {
		t.Errorf("release %s namespace %s", d.Release(), d.Namespace())
	}
	if to := d.Timeouts(); to.Settle != 0 || to.Rollout != 42e9 || to.Health != spaces.DefaultHealthTimeout {
		t.Errorf("timeouts %+v", to)
	}
	if d.selectors["pgbouncer"] != "app.kubernetes.io/name=pgbouncer" || d.selectors["api"] != "component=api" {
		t.Errorf("selectors %v", d.selectors)
	}
	sp := loadDefault(t)
	sp.Target.Helm = nil
	if _, err := New(context.Background(), sp, Options{}); err == nil || !strings.Contains(err.Error(), "no Helm release") {
		t.Errorf("no target: %v", err)
	}
}

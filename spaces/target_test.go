package spaces

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelmTargetDefaults(t *testing.T) {
	s, err := Load("testdata/valid-helm-target.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := s.Target.Helm
	if h == nil {
		t.Fatal("no helm target")
	}
	if h.Timeouts.Rollout != DefaultRolloutTimeout || h.Timeouts.Health != DefaultHealthTimeout {
		t.Errorf("timeouts %+v, want defaults", h.Timeouts)
	}
	if h.Timeouts.Settle != 0 {
		t.Errorf("settle %v: an explicit 0s must stay 0", h.Timeouts.Settle)
	}
	if h.Health.Path != DefaultHealthPath {
		t.Errorf("health path %q", h.Health.Path)
	}
	if got, want := s.RelPath(h.Chart.Path), filepath.Join("testdata", "../../deployer/helm/testdata/dify"); got != want {
		t.Errorf("RelPath %q, want %q", got, want)
	}
	if got := s.RelPath("/abs/values.yaml"); got != "/abs/values.yaml" {
		t.Errorf("RelPath of an absolute path: %q", got)
	}
	if got := h.Selector("postgresql"); got != "app.kubernetes.io/name=postgresql,app.kubernetes.io/component=primary" {
		t.Errorf("Selector(postgresql) %q", got)
	}
	if got := h.Selector("worker"); got != "app.kubernetes.io/component=worker" {
		t.Errorf("Selector(worker) %q, want the default", got)
	}
}

// A space without a target stays valid: only --target helm needs one.
func TestNoTarget(t *testing.T) {
	s, err := Load("testdata/valid-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.Helm != nil {
		t.Errorf("helm target %+v from nothing", s.Target.Helm)
	}
}

func TestChartSources(t *testing.T) {
	for _, tc := range []struct {
		chart Chart
		want  string // "" valid
	}{
		{Chart{Repo: "https://borispolonsky.github.io/dify-helm", Name: "dify", Version: "0.37.0"}, ""},
		{Chart{OCI: "oci://ghcr.io/acme/charts/dify", Version: "1.2.3"}, ""},
		{Chart{Path: "dify-0.37.0.tgz"}, ""},
		{Chart{}, "want one of repo and name, oci, or path"},
		{Chart{Name: "dify"}, "repo: required with name"},
		{Chart{Repo: "https://x.example"}, "name: required with repo"},
		{Chart{OCI: "ghcr.io/acme/dify"}, "want oci://registry/path/chart"},
		{Chart{Repo: "https://u:p@x.example", Name: "dify"}, "must not carry credentials"},
		{Chart{OCI: "oci://x/y", Path: "./y"}, "want one chart source, got oci and path"},
	} {
		s := &Space{Target: Targets{Helm: &HelmTarget{Release: "dify", Chart: tc.chart}}}
		s.SetDefaults()
		c := &checker{s: s}
		c.target()
		err := joinFileErrors(c.errs)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.chart, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: got %v, want %q", tc.chart, err, tc.want)
		case err != nil && !errors.Is(err, ErrInvalid):
			t.Errorf("%v: %v does not match ErrInvalid", tc.chart, err)
		}
	}
}

func TestChartString(t *testing.T) {
	for c, want := range map[Chart]string{
		{Repo: "https://r.example", Name: "dify", Version: "0.37.0"}: "dify 0.37.0 from https://r.example",
		{OCI: "oci://r.example/dify"}:                                "oci://r.example/dify",
		{Path: "./dify"}:                                             "./dify",
	} {
		if got := c.String(); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testChart is the vendored community chart 0.37.0, the chart spaces/default.yaml describes.
const testChart = "../../deployer/helm/testdata/charts/dify-0.37.0.tgz"

// TestValidateHelmPaths renders the test chart, which mirrors the community
// chart's values, at every parameter's extremes: the default space reaches
// it everywhere, and a typo'd path is named.
func TestValidateHelmPaths(t *testing.T) {
	stdout, stderr, code := runCLI(t, "validate", "--space", space, "--target", "helm", "--chart", testChart)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	golden(t, "validate-helm.txt", strings.ReplaceAll(stdout, space, "SPACE"))

	b, err := os.ReadFile(space)
	if err != nil {
		t.Fatal(err)
	}
	typo := strings.Replace(string(b), "values: [{path: api.replicas}]", "values: [{path: api.replicaCount}]", 1)
	path := filepath.Join(t.TempDir(), "typo.yaml")
	if err := os.WriteFile(path, []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, code = runCLI(t, "validate", "--space", path, "--target", "helm", "--chart", testChart)
	if code != exitFailed {
		t.Errorf("a typo'd path: exit %d, want 1", code)
	}
	golden(t, "validate-helm-typo.txt", strings.ReplaceAll(stdout, path, "SPACE"))
}

func TestHelmBadInput(t *testing.T) {
	t.Setenv("DIFY_API_KEY", "")
	for name, args := range map[string][]string{
		"no-endpoint": {"--target", "helm", "--chart", testChart},
		"keep":        {"--target", "helm", "--emulate", "--keep", "all", "--chart", testChart},
		"chart":       {"--target", "helm", "--emulate", "--chart", "charts/nope"},
		"no-key":      {"--target", "helm", "--endpoint", "http://dify.example/v1", "--chart", testChart},
		"eval":        nil,
		"mix-flag": {"--target", "helm", "--endpoint", "http://dify.example/v1", "--chart", testChart,
			"--scenario", "chatflow=60,agent=30,retrieval=10"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"--budget", "8c16g", "--space", space, "--out", t.TempDir()}, args...)
			if name == "eval" {
				args = []string{"eval", "--budget", "8c16g", "--space", space, "--target", "helm", "--config", "../../spaces/presets/s8-final.yaml"}
			}
			stdout, stderr, code := runCLI(t, args...)
			if code != exitBadInput {
				t.Errorf("exit %d, want 2\n%s%s", code, stdout, stderr)
			}
			golden(t, "bad-helm-"+name+".txt", stderr)
		})
	}
}

// A mixed load in the space cannot run against one --endpoint key: the
// refusal names the space file's load.mix line, before the cluster is
// touched.
func TestHelmRefusesMixFromSpace(t *testing.T) {
	t.Setenv("DIFY_API_KEY", "app-x")
	b, err := os.ReadFile(space)
	if err != nil {
		t.Fatal(err)
	}
	mixed := strings.Replace(string(b), "  scenario: chatflow\n", "  mix: {chatflow: 60, agent: 30, retrieval: 10}\n", 1)
	path := filepath.Join(t.TempDir(), "mixed.yaml")
	if err := os.WriteFile(path, []byte(mixed), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, "--budget", "8c16g", "--space", path, "--out", t.TempDir(),
		"--target", "helm", "--endpoint", "http://dify.example/v1", "--chart", testChart)
	if code != exitBadInput {
		t.Errorf("exit %d, want 2\n%s%s", code, stdout, stderr)
	}
	golden(t, "bad-helm-mix-space.txt", strings.ReplaceAll(stderr, path, "SPACE"))
}

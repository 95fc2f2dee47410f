package helm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMergeValues(t *testing.T) {
	a := map[string]any{
		"api":   map[string]any{"replicas": 1, "extraEnv": []any{"A"}, "resources": map[string]any{"limits": map[string]any{"cpu": "1"}}},
		"web":   map[string]any{"replicas": 1},
		"keep":  "a",
		"unset": "a",
	}
	b := map[string]any{
		"api":   map[string]any{"extraEnv": []any{"B"}, "resources": map[string]any{"limits": map[string]any{"memory": "1Gi"}}},
		"web":   "flat",
		"unset": nil,
	}
	want := map[string]any{
		"api":   map[string]any{"replicas": 1, "extraEnv": []any{"B"}, "resources": map[string]any{"limits": map[string]any{"cpu": "1", "memory": "1Gi"}}},
		"web":   "flat",
		"keep":  "a",
		"unset": nil,
	}
	got := mergeValues(a, b)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if _, ok := a["api"].(map[string]any)["resources"].(map[string]any)["limits"].(map[string]any)["memory"]; ok {
		t.Error("mergeValues changed its argument")
	}
}

func TestReadValuesFiles(t *testing.T) {
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.yaml"), filepath.Join(dir, "two.yaml")
	os.WriteFile(one, []byte("api: {replicas: 2, logLevel: INFO}\n"), 0o600)
	os.WriteFile(two, []byte("api: {replicas: 3}\n"), 0o600)
	v, err := readValuesFiles([]string{one, two})
	if err != nil {
		t.Fatal(err)
	}
	if api := v["api"].(map[string]any); api["replicas"] != float64(3) || api["logLevel"] != "INFO" {
		t.Errorf("got %v", v)
	}
	_, err = readValuesFiles([]string{filepath.Join(dir, "missing.yaml")})
	if err == nil || !strings.Contains(err.Error(), "values file "+filepath.Join(dir, "missing.yaml")) {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

// The overlay's env list keeps the chart's entries and the user's: Helm
// replaces lists wholesale.
func TestOverlayKeepsEnvEntries(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "mine.yaml")
	os.WriteFile(user, []byte("api:\n  extraEnv:\n    - {name: CHECK_UPDATE_URL, value: \"\"}\n    - {name: LOG_LEVEL, value: DEBUG}\n"), 0o600)
	d := offline(t, Options{ValuesFiles: []string{user}})
	ov, err := d.Overlay(d.space.Complete(map[string]any{"api.workers": 3}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ov["api"].(map[string]any)["extraEnv"].([]any) {
		m := e.(map[string]any)
		names = append(names, m["name"].(string)+"="+m["value"].(string))
	}
	if got := strings.Join(names, " "); got != "CHECK_UPDATE_URL= LOG_LEVEL=DEBUG SERVER_WORKER_AMOUNT=3 SERVER_WORKER_CONNECTIONS=10 SQLALCHEMY_MAX_OVERFLOW=10 SQLALCHEMY_POOL_SIZE=30" {
		t.Errorf("extraEnv %s", got)
	}
}

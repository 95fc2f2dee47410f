package spaces

import (
	"errors"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestOverlay(t *testing.T) {
	s := loadDefault(t)
	c := s.Baseline()
	c["api.cpu"] = 1.5
	c["api.memory"] = int64(1536)
	c["api.workers"] = int64(2)
	c["api.replicas"] = int64(3)
	c["weaviate.placement"] = Dedicated
	c["pgbouncer.enabled"] = true
	got, err := s.Overlay(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := got["api"].(map[string]any)
	if api["replicas"] != int64(3) {
		t.Errorf("api.replicas = %#v", api["replicas"])
	}
	res := api["resources"].(map[string]any)
	for _, k := range []string{"requests", "limits"} {
		r := res[k].(map[string]any)
		if r["cpu"] != "1500m" || r["memory"] != "1536Mi" {
			t.Errorf("%s = %v, want cpu 1500m memory 1536Mi", k, r)
		}
	}
	// The chart's own entry stays (Helm replaces the list); pgbouncer on
	// points the api at tune's pgbouncer.
	wantEnv := []any{
		map[string]any{"name": "CHECK_UPDATE_URL", "value": ""},
		map[string]any{"name": "DB_HOST", "value": "dify-pgbouncer"},
		map[string]any{"name": "DB_PORT", "value": "6432"},
		map[string]any{"name": "SERVER_WORKER_AMOUNT", "value": "2"},
		map[string]any{"name": "SERVER_WORKER_CONNECTIONS", "value": "10"},
		map[string]any{"name": "SQLALCHEMY_MAX_OVERFLOW", "value": "10"},
		map[string]any{"name": "SQLALCHEMY_POOL_SIZE", "value": "30"},
	}
	if !reflect.DeepEqual(api["extraEnv"], wantEnv) {
		t.Errorf("extraEnv = %#v, want %#v", api["extraEnv"], wantEnv)
	}
	w := got["weaviate"].(map[string]any)
	if !reflect.DeepEqual(w["nodeSelector"], map[string]any{"tune.dify.dev/pool": "weaviate"}) {
		t.Errorf("nodeSelector = %#v", w["nodeSelector"])
	}
	if tol, ok := w["tolerations"].([]any); !ok || len(tol) != 1 {
		t.Errorf("tolerations = %#v", w["tolerations"])
	}
	// pgbouncer is a companion: none of it reaches the chart's values, it
	// has values of its own.
	if _, ok := got["pgbouncer"]; ok {
		t.Errorf("the chart's overlay holds the companion's values: %v", got["pgbouncer"])
	}
	pgb, on, err := s.CompanionOverlay(c, "pgbouncer")
	if err != nil || !on {
		t.Fatalf("companion pgbouncer: on %v, %v", on, err)
	}
	if pgb["enabled"] != true || pgb["poolMode"] != "transaction" || pgb["defaultPoolSize"] != int64(100) ||
		pgb["upstream"].(map[string]any)["host"] != "dify-postgresql-primary" {
		t.Errorf("companion values %v", pgb)
	}
	if r := pgb["resources"].(map[string]any)["limits"].(map[string]any); r["cpu"] != "200m" || r["memory"] != "128Mi" {
		t.Errorf("companion limits %v", r)
	}
	c["pgbouncer.enabled"] = false
	if got, _ := s.Overlay(c, nil); len(got["beat"].(map[string]any)) > 1 {
		t.Errorf("pgbouncer off still points beat somewhere: %v", got["beat"])
	}
	if _, on, _ := s.CompanionOverlay(c, "pgbouncer"); on {
		t.Error("pgbouncer.enabled false, companion on")
	}
	c["pgbouncer.enabled"] = true

	// Shared placement maps to null: the paths are left out entirely.
	c["weaviate.placement"] = "shared"
	got, _ = s.Overlay(c, nil)
	w = got["weaviate"].(map[string]any)
	if _, ok := w["nodeSelector"]; ok {
		t.Errorf("shared placement wrote nodeSelector %v", w["nodeSelector"])
	}
	if _, ok := w["tolerations"]; ok {
		t.Errorf("shared placement wrote tolerations")
	}

	// The overlay is plain YAML Helm takes.
	if _, err := yaml.Marshal(got); err != nil {
		t.Fatal(err)
	}
}

func TestOverlayMergesBaseEnv(t *testing.T) {
	s := loadDefault(t)
	var base map[string]any
	err := yaml.Unmarshal([]byte(`
api:
  extraEnv:
    - name: LANG
      value: C.UTF-8
    - name: SQLALCHEMY_POOL_SIZE
      value: "10"
    - name: SECRET
      valueFrom: {secretKeyRef: {name: s, key: k}}
`), &base)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Overlay(s.Baseline(), base)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{"name": "LANG", "value": "C.UTF-8"},
		map[string]any{"name": "SQLALCHEMY_POOL_SIZE", "value": "30"},
		map[string]any{"name": "SECRET", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}}},
		map[string]any{"name": "SERVER_WORKER_AMOUNT", "value": "1"},
		map[string]any{"name": "SERVER_WORKER_CONNECTIONS", "value": "10"},
		map[string]any{"name": "SQLALCHEMY_MAX_OVERFLOW", "value": "10"},
	}
	if env := got["api"].(map[string]any)["extraEnv"]; !reflect.DeepEqual(env, want) {
		t.Errorf("extraEnv = %#v\nwant %#v", env, want)
	}
	// base is not modified.
	if v := base["api"].(map[string]any)["extraEnv"].([]any)[1].(map[string]any)["value"]; v != "10" {
		t.Errorf("base changed: %v", v)
	}

	bad := map[string]any{"api": map[string]any{"extraEnv": map[string]any{"LANG": "C"}}}
	if _, err := s.Overlay(s.Baseline(), bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("map-style base env: want ErrInvalid, got %v", err)
	}
}

func TestOverlayRefusesIncompleteConfig(t *testing.T) {
	s := loadDefault(t)
	if _, err := s.Overlay(Config{"api.cpu": 2.0}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("want ErrInvalid, got %v", err)
	}
}

// The map values of the space are copied: editing an overlay leaves the
// space as it was.
func TestOverlayCopiesMapValues(t *testing.T) {
	s := loadDefault(t)
	c := s.Baseline()
	c["weaviate.placement"] = Dedicated
	got, _ := s.Overlay(c, nil)
	got["weaviate"].(map[string]any)["nodeSelector"].(map[string]any)["x"] = "y"
	again, _ := s.Overlay(c, nil)
	if len(again["weaviate"].(map[string]any)["nodeSelector"].(map[string]any)) != 1 {
		t.Error("overlay shares maps with the space")
	}
}

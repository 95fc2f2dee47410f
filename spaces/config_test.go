package spaces

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func loadDefault(t testing.TB) *Space {
	t.Helper()
	s, err := Load("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loadSeed is the case study's space, which the presets are written against.
func loadSeed(t testing.TB) *Space {
	t.Helper()
	s, err := Load("seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustBudget(t testing.TB, s string) Budget {
	t.Helper()
	b, err := ParseBudget(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParamNames(t *testing.T) {
	s := loadDefault(t)
	got := s.ParamNames()
	want := []string{"api.replicas", "api.cpu", "api.memory", "postgresql.replicas", "postgresql.cpu", "postgresql.memory"}
	if !slices.Equal(got[:6], want) {
		t.Errorf("first names %v, want %v", got[:6], want)
	}
	tail := []string{"api.workers", "api.workerConnections", "api.dbPoolSize", "api.dbMaxOverflow", "worker.concurrency",
		"postgresql.maxConnections", "pgbouncer.enabled", "pgbouncer.poolMode", "pgbouncer.poolSize", "postgresql.storageClass", "weaviate.placement"}
	if !slices.Equal(got[len(got)-len(tail):], tail) {
		t.Errorf("param names %v, want %v", got[len(got)-len(tail):], tail)
	}
	if len(got) != 13*3+len(tail) {
		t.Errorf("%d names", len(got))
	}
}

func TestBaseline(t *testing.T) {
	c := loadDefault(t).Baseline()
	want := map[string]any{
		"api.replicas": int64(1), "api.cpu": 1.0, "api.memory": int64(2048), "api.workers": int64(1),
		"api.dbPoolSize": int64(30), "pgbouncer.enabled": false, "pgbouncer.poolMode": "transaction",
		"postgresql.storageClass": "nfs", "weaviate.placement": "shared", "redis.cpu": 0.25,
		"worker.concurrency": int64(1), "postgresql.maxConnections": int64(100), "api.dbMaxOverflow": int64(10),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c[k], v)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	s := loadDefault(t)
	c, err := LoadConfig("testdata/configs/valid-spellings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := s.Resolve(mustBudget(t, "16c32g"), s.Complete(c))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sys.Services["api"], (Alloc{Replicas: 2, CPU: 1500, Memory: 2048}); got != want {
		t.Errorf("api %+v, want %+v", got, want)
	}
	if got, want := sys.Services["worker"], (Alloc{Replicas: 1, CPU: 750, Memory: 1536}); got != want {
		t.Errorf("worker %+v, want %+v", got, want)
	}
	if !sys.Bool("pgbouncer.enabled", false) || sys.String("weaviate.placement", "") != "dedicated" || sys.Int("api.workers", 0) != 1 {
		t.Errorf("settings %v", sys.Settings)
	}

	_, err = LoadConfig("testdata/configs/invalid-shape.yaml")
	for _, want := range []string{
		"invalid-shape.yaml:1: api.cpu: want a number, string or bool, got a list",
		"invalid-shape.yaml:2: api.cpu: set twice (first at line 1)",
		"invalid-shape.yaml:4: api: want a number, string or bool, got a mapping",
		"invalid-shape.yaml:5: api.workers: want a number, string or bool, got nothing",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("not ErrInvalid: %v", err)
	}
	if _, err := LoadConfig("testdata/configs/missing.yaml"); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing file: %v", err)
	}
}

func TestResolveErrors(t *testing.T) {
	s := loadDefault(t)
	b := mustBudget(t, "16c32g")
	tests := []struct {
		name  string
		edit  Config
		drop  []string
		wants []string
	}{
		{"unknown", Config{"api.gpu": 1}, nil, []string{"api.gpu: unknown parameter"}},
		{"missing", nil, []string{"api.cpu", "weaviate.placement"}, []string{"config: missing api.cpu, weaviate.placement"}},
		{"range", Config{"api.cpu": 9.0, "api.replicas": 7, "api.memory": "512Mi", "api.dbPoolSize": 35},
			nil, []string{"api.cpu: 9 outside 500m..4", "api.replicas: 7 outside 1..6", "api.memory: 512Mi outside 1Gi..8Gi", "api.dbPoolSize: 35 outside 5..30"}},
		{"types", Config{"api.replicas": 1.5, "api.cpu": "lots", "pgbouncer.enabled": "yes", "api.memory": 1.5},
			nil, []string{"api.replicas: want an integer, got 1.5", `api.cpu: cpu "lots": want cores`, `pgbouncer.enabled: want true or false, got "yes"`, "api.memory: want MiB"}},
		{"choice", Config{"postgresql.storageClass": "ceph"}, nil, []string{`postgresql.storageClass: "ceph" is not one of nfs, local-ssd`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.Baseline()
			for k, v := range tt.edit {
				c[k] = v
			}
			for _, k := range tt.drop {
				delete(c, k)
			}
			_, err := s.Resolve(b, c)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestResolveRoundsCPU(t *testing.T) {
	s := loadDefault(t)
	c := s.Baseline()
	c["api.cpu"] = 1.2000000000000002
	sys, err := s.Resolve(mustBudget(t, "8c16g"), c)
	if err != nil || sys.Services["api"].CPU != 1200 {
		t.Fatalf("got %v, %v", sys.Services["api"], err)
	}
}

func TestCompleteKeepsGiven(t *testing.T) {
	s := loadDefault(t)
	got := s.Complete(Config{"api.cpu": 2.0, "x": 1})
	want := s.Baseline()
	want["api.cpu"], want["x"] = 2.0, 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("api.cpu: 2\napi.workers: 2\n"))
	f.Add([]byte("api.cpu: [2]\napi.cpu: 3\n"))
	f.Add([]byte("a: &x 1\nb: *x\n"))
	s := loadDefault(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if _, err := s.Resolve(Budget{}, s.Complete(c)); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("resolve error %v does not match ErrInvalid", err)
		}
	})
}

package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOverrides(t *testing.T) {
	k, err := LoadOverrides(filepath.Join("testdata", "overrides-valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConstants()
	want.FsyncNFS, want.CPUSpeed = 25*time.Millisecond, 0.8
	if k != want {
		t.Errorf("got %+v\nwant %+v", k, want)
	}
}

// TestLoadOverridesErrors: every problem of the file at once, each with
// file:line and the constant's name (the fixture's "# want:" lines).
func TestLoadOverridesErrors(t *testing.T) {
	path := filepath.Join("testdata", "overrides-invalid.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadOverrides(path)
	if !errors.Is(err, ErrOverrides) {
		t.Fatalf("err %v, want ErrOverrides", err)
	}
	got := err.Error()
	n := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		w, ok := strings.CutPrefix(line, "# want: ")
		if !ok {
			continue
		}
		n++
		if !strings.Contains(got, filepath.Join("testdata", w)) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if c := strings.Count(got, "\n") + 1; c != n {
		t.Errorf("%d problems reported, fixture wants %d:\n%s", c, n, got)
	}
	for name, doc := range map[string]string{
		"header":    "fsyncNFS: 2ms\n",
		"list":      "- 1\n",
		"two docs":  "apiVersion: tune.dify.dev/v1alpha1\nkind: ModelOverrides\n---\na: 1\n",
		"not yaml":  "a: [\n",
		"zero":      "apiVersion: tune.dify.dev/v1alpha1\nkind: ModelOverrides\nrtt: 0s\n",
		"too large": "apiVersion: tune.dify.dev/v1alpha1\nkind: ModelOverrides\npgBackendMiB: 1e9\n",
	} {
		if _, err := ParseOverrides("x.yaml", []byte(doc)); !errors.Is(err, ErrOverrides) || !strings.HasPrefix(err.Error(), "x.yaml") {
			t.Errorf("%s: err %v, want an ErrOverrides naming x.yaml", name, err)
		}
	}
}

// The what-ifs move the model the way their names say.
func TestOverridesWhatIf(t *testing.T) {
	sys := preset(t, "s8-workers2", "8c16g") // PostgreSQL on NFS
	w := workload(t, "chatflow")
	run := func(k Constants) float64 {
		m, err := (&Model{Seed: 1, Constants: &k}).Evaluate(t.Context(), sys, w)
		if err != nil {
			t.Fatal(err)
		}
		return m.Metrics.TPS
	}
	base := run(DefaultConstants())
	if got := tpsOf(t, sys, "chatflow"); got != base {
		t.Errorf("DefaultConstants %.2f TPS, no constants %.2f: they must be the same model", base, got)
	}
	slowDisk := DefaultConstants()
	slowDisk.FsyncNFS = 40 * time.Millisecond
	slowCPU := DefaultConstants()
	slowCPU.CPUSpeed = 0.7
	d, c := run(slowDisk), run(slowCPU)
	t.Logf("s8-workers2: %.1f TPS; NFS fsync 40 ms %.1f; cores 30%% slower %.1f", base, d, c)
	if d > 0.8*base || c > 0.85*base {
		t.Errorf("slower disks or cores should cost throughput: %.1f, %.1f vs %.1f", d, c, base)
	}
	bad := DefaultConstants()
	bad.CPUSpeed = 0
	if _, err := (&Model{Constants: &bad}).Evaluate(t.Context(), sys, w); !errors.Is(err, ErrBadSystem) {
		t.Errorf("zero CPU speed: err %v, want ErrBadSystem", err)
	}
}

func FuzzParseOverrides(f *testing.F) {
	for _, p := range []string{"overrides-valid.yaml", "overrides-invalid.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: tune.dify.dev/v1alpha1\nkind: ModelOverrides\ncpuSpeed: .nan\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseOverrides("f.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrOverrides) || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		if err := k.check(); err != nil {
			t.Fatalf("accepted constants the model refuses: %v", err)
		}
	})
}

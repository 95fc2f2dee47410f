package spaces

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixtureHeader reads the "# budget: B" and "# want: text" comment lines at
// the top of a testdata fixture: each want is a substring the error must hold.
func fixtureHeader(t *testing.T, path string) (budget string, wants []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if b, ok := strings.CutPrefix(line, "# budget: "); ok {
			budget = b
		} else if w, ok := strings.CutPrefix(line, "# want: "); ok {
			wants = append(wants, w)
		}
	}
	return budget, wants
}

// loadFixture loads path and validates it against its header budget.
func loadFixture(t *testing.T, path string) (*Space, []string, error) {
	t.Helper()
	budget, wants := fixtureHeader(t, path)
	s, err := Load(path)
	if err == nil && budget != "" {
		b, berr := ParseBudget(budget)
		if berr != nil {
			t.Fatal(berr)
		}
		err = s.Validate(&b)
	}
	return s, wants, err
}

func TestLoadValidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid-*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, _, err := loadFixture(t, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadInvalidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, wants, err := loadFixture(t, f)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			if len(wants) == 0 {
				t.Fatalf("fixture has no '# want:' lines; error:\n%v", err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid: %v", err)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != f {
				t.Errorf("want a *FileError naming %s, got %#v", f, fe)
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%v", w, err)
				}
			}
			// Every problem is reported once, and each line is file:line: ...
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, f+":") {
					t.Errorf("line does not start with the file name: %q", line)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-file.yaml")
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want ErrInvalid and fs.ErrNotExist, got %v", err)
	}
	if want := "testdata/no-such-file.yaml: no such file or directory"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	s, err := Load("testdata/valid-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sv := s.Services[0]
	if sv.Replicas.Step != 1 || sv.CPU.Step != 250 || sv.Memory.Step != 256 {
		t.Errorf("steps %d %d %d, want 1 250m 256Mi", sv.Replicas.Step, sv.CPU.Step, sv.Memory.Step)
	}
	want := Workload{Users: 100, SpawnRate: 10, Duration: 3 * time.Minute}
	if !reflect.DeepEqual(s.Load, want) {
		t.Errorf("load %+v, want %+v", s.Load, want)
	}
	if s.Objective.MaxErrorRate != 0.01 {
		t.Errorf("maxErrorRate %v, want 0.01", s.Objective.MaxErrorRate)
	}
}

func TestLoadFull(t *testing.T) {
	s, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := s.Services[0]
	got := []any{api.CPU.Min, api.CPU.Max, api.CPU.Step, api.CPU.Current, api.Memory.Max, api.Memory.Current, s.Reserved.Memory}
	want := []any{Millicores(500), Millicores(4000), Millicores(500), Millicores(1500), Mebibytes(4096), Mebibytes(1536), Mebibytes(1536)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("quantities %v, want %v", got, want)
	}
	if len(api.CPU.Values) != 2 {
		t.Errorf("anchor: cpu values %v", api.CPU.Values)
	}
	if s.Objective.MaxErrorRate != 0 {
		t.Errorf("an explicit maxErrorRate 0 was defaulted to %v", s.Objective.MaxErrorRate)
	}
	if s.Load.Duration != 90*time.Second || s.Objective.SLOP95 != 1500*time.Millisecond {
		t.Errorf("durations %v %v", s.Load.Duration, s.Objective.SLOP95)
	}
	if m := s.Params[2].Values[0].Map; len(m) != 2 || m["safe"] != nil || m["fast"] != 1 {
		t.Errorf("map %#v, want fast: 1 and safe: null", m)
	}
}

// A Space built in code has no file: Validate still works, without lines.
func TestValidateInCode(t *testing.T) {
	s := &Space{APIVersion: APIVersion, Kind: Kind, Services: []Service{{
		Name:     "api",
		Replicas: IntRange{Min: 1, Max: 1, Current: 1},
		CPU:      CPURange{Min: 1000, Max: 500, Current: 1000, Values: []Target{{Path: "a.cpu"}}},
		Memory:   MemoryRange{Min: 1024, Max: 1024, Current: 1024, Values: []Target{{Path: "a.mem"}}},
	}}}
	s.SetDefaults()
	err := s.Validate(nil)
	if err == nil || err.Error() != "services[0].cpu: min 1 > max 500m" {
		t.Fatalf("got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "default.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parse("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			return
		}
		// A valid space must be usable: names, baseline, overlay, budgets.
		c := s.Baseline()
		if len(c) != len(s.ParamNames()) {
			t.Fatalf("baseline has %d values for %d params", len(c), len(s.ParamNames()))
		}
		if _, err := s.Overlay(c, nil); err != nil {
			t.Fatalf("overlay of the baseline: %v", err)
		}
		for _, b := range []string{"8c16g", "2x8c16g"} {
			bb, _ := ParseBudget(b)
			_ = s.Validate(&bb)
			sys, err := s.Resolve(bb, c)
			if err != nil {
				t.Fatalf("resolve baseline: %v", err)
			}
			_ = s.Check(sys)
		}
	})
}

func TestLoadMerge(t *testing.T) {
	s, err := Load("testdata/valid-merge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Services[1]
	if c.Name != "cache" || c.Replicas.Max != 1 || c.CPU.Current != 500 || c.CPU.Step != 250 {
		t.Errorf("merged service %+v: want name cache, replicas from redis, cpu its own with the default step", c)
	}
}

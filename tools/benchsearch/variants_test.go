package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/tune-dify/tune/deployer/sim"
)

const validVariants = `apiVersion: tune.dify.dev/v1alpha1
kind: VariantRanges
perCase: 3
tuningPerCase: 1
bases: [seed/8c16g/chatflow, seed/16c32g/chatflow]
ranges:
  cpuSpeed: {min: 0.75, max: 1.3, why: cores}
  rtt: {min: 150us, max: 800us, why: network}
  fsyncSSD: {min: 300us, max: 1500us, why: ssd}
  fsyncNFS: {min: 5ms, max: 25ms, why: nfs}
  fsyncDefault: {min: 2ms, max: 2ms, why: held}
  taskStart: {min: 30ms, max: 100ms, why: celery}
  hostedEmbedding: {min: 80ms, max: 300ms, why: provider}
  gcStallPerGiB: {min: 350ms, max: 1s, why: fit}
  apiProcessMiB: {min: 330, max: 480, why: api}
  workerProcessMiB: {min: 360, max: 520, why: worker}
  pgBackendMiB: {min: 6, max: 14, why: backend}
`

// TestVariantsFileOfTheRepository: the suite's own variants.yaml reads,
// every constant has a range around its calibrated value and says why.
func TestVariantsFileOfTheRepository(t *testing.T) {
	v, err := readVariants("variants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := constantFields()
	if len(v.Ranges) != len(names) {
		t.Fatalf("%d ranges, want one per model constant (%d)", len(v.Ranges), len(names))
	}
	def := sim.DefaultConstants()
	for _, r := range v.Ranges {
		if c := constantOf(def, r.Name); c < r.Min || c > r.Max {
			t.Errorf("%s: calibrated %g outside its range %g..%g", r.Name, c, r.Min, r.Max)
		}
		if len(r.Why) < 40 {
			t.Errorf("%s: why %q does not say where the range comes from", r.Name, r.Why)
		}
	}
	if v.Tuning == 0 || v.Tuning >= v.PerCase {
		t.Errorf("tuning %d of %d per case: want some variants tuning and some held out", v.Tuning, v.PerCase)
	}
}

// TestSameSeedSameVariants: variants are a function of the seed, the base
// case and their number; another seed draws others; every drawn value is
// inside its range; a constant held (min = max) keeps its value; the
// overrides file a variant records gives its constants back.
func TestSameSeedSameVariants(t *testing.T) {
	v, err := parseVariants("v.yaml", []byte(validVariants))
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.draw("seed/8c16g/chatflow", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.draw("seed/8c16g/chatflow", 1)
	c, _ := v.draw("seed/8c16g/chatflow", 2)
	d, _ := v.draw("seed/16c32g/chatflow", 1)
	if len(a) != 3 {
		t.Fatalf("%d variants, want perCase 3", len(a))
	}
	for i := range a {
		if a[i].Overrides != b[i].Overrides {
			t.Errorf("variant %d differs between two draws with seed 1:\n%s\n%s", i+1, a[i].Overrides, b[i].Overrides)
		}
		if a[i].Overrides == c[i].Overrides || a[i].Overrides == d[i].Overrides {
			t.Errorf("variant %d is the same with another seed or another base case", i+1)
		}
		if i > 0 && a[i].Overrides == a[i-1].Overrides {
			t.Errorf("variants %d and %d are the same", i, i+1)
		}
		for _, r := range v.Ranges {
			x := constantOf(a[i].Constants, r.Name)
			if x < r.Min*(1-1e-3) || x > r.Max*(1+1e-3) {
				t.Errorf("variant %d: %s = %g outside %g..%g", i+1, r.Name, x, r.Min, r.Max)
			}
		}
		if got := a[i].Constants.FsyncDefault; got != sim.DefaultConstants().FsyncDefault {
			t.Errorf("variant %d: held fsyncDefault is %v", i+1, got)
		}
		k, err := sim.ParseOverrides("recorded", []byte(a[i].Overrides))
		if err != nil || k != a[i].Constants {
			t.Errorf("variant %d: its overrides file reads back as %+v (%v), want %+v", i+1, k, err, a[i].Constants)
		}
	}
	// Adding a variant changes none of the others.
	v.PerCase = 4
	e, _ := v.draw("seed/8c16g/chatflow", 1)
	for i := range a {
		if e[i].Overrides != a[i].Overrides {
			t.Errorf("variant %d changed when a fourth was added", i+1)
		}
	}
}

// TestVariantCasesSplit: the first tuningPerCase variants of each base
// are tuning cases, the rest held out; names carry the variant.
func TestVariantCasesSplit(t *testing.T) {
	v, err := parseVariants("v.yaml", []byte(validVariants))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := variantCases(v, suite(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var tuning, held []string
	for _, c := range cs {
		if c.Tuning {
			tuning = append(tuning, c.Name())
		} else {
			held = append(held, c.Name())
		}
	}
	want := "seed/8c16g/chatflow~v1 seed/16c32g/chatflow~v1"
	if strings.Join(tuning, " ") != want {
		t.Errorf("tuning %v, want %s", tuning, want)
	}
	if len(held) != 4 {
		t.Errorf("held out %v, want two per base case", held)
	}
	v.Bases = append(v.Bases, "seed/1c1g/chatflow")
	if _, err := variantCases(v, suite(), 1); !errors.Is(err, errBadInput) || !strings.Contains(err.Error(), `"seed/1c1g/chatflow"`) {
		t.Errorf("unknown base: %v, want bad input naming it", err)
	}
}

// TestVariantChangesTheModel: a variant's constants reach the model the
// bench evaluates with: the same configuration measures otherwise, and the
// noisy model of a study uses them too.
func TestVariantChangesTheModel(t *testing.T) {
	chdirRoot(t)
	p, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "8c16g", Scenario: "chatflow"})
	if err != nil {
		t.Fatal(err)
	}
	slow := sim.DefaultConstants()
	slow.CPUSpeed = 0.75
	q, err := load(benchCase{Space: "spaces/seed.yaml", Budget: "8c16g", Scenario: "chatflow", Variant: &variant{Name: "v1", Constants: slow}})
	if err != nil {
		t.Fatal(err)
	}
	if q.Name() != "seed/8c16g/chatflow~v1" {
		t.Errorf("name %q", q.Name())
	}
	base, slower := fingerprint(p), fingerprint(q)
	if !(slower < 0.9*base) {
		t.Errorf("baseline TPS %.1f on cores 25%% slower, %.1f calibrated: want the variant's model to be slower", slower, base)
	}
	sys, err := p.sp.Resolve(p.b, p.sp.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	m1, err1 := noisyModel{salt: 1, p: p}.Evaluate(context.Background(), sys, p.w)
	m2, err2 := noisyModel{salt: 1, p: q}.Evaluate(context.Background(), sys, p.w)
	if err1 != nil || err2 != nil || !(m2.Metrics.TPS < m1.Metrics.TPS) {
		t.Errorf("noisy model: %.1f TPS (%v) on the variant, %.1f (%v) calibrated", m2.Metrics.TPS, err2, m1.Metrics.TPS, err1)
	}
}

// TestVariantOptimaMoved: every recorded variant optimum is another
// optimum than its base case's: another TPS beyond the noise, or another
// configuration; and it was found on the variant the file draws today.
func TestVariantOptimaMoved(t *testing.T) {
	chdirRoot(t)
	recorded, err := readRecords[variantOptimum]("tools/benchsearch/optima-variants.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) == 0 {
		t.Fatal("no variant optima recorded")
	}
	base, err := readRecords[optimum]("tools/benchsearch/optima.json")
	if err != nil {
		t.Fatal(err)
	}
	vr, err := readVariants("tools/benchsearch/variants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := variantCases(vr, suite(), 1)
	if err != nil {
		t.Fatal(err)
	}
	drawn := map[string]string{}
	for _, c := range cases {
		drawn[c.Name()] = c.Variant.Overrides
	}
	for name, vo := range recorded {
		if drawn[name] != vo.Overrides {
			t.Errorf("%s: recorded on other constants than variants.yaml draws with seed 1 (rerun the bench to search it again)", name)
		}
		b, ok := base[name[:strings.Index(name, "~")]]
		if !ok {
			continue
		}
		sameTPS := math.Abs(vo.TPS-b.TPS) <= math.Max(3*vo.NoiseSD, 0.02*b.TPS)
		sameCfg := true
		for k, v := range b.Params {
			sameCfg = sameCfg && fmt.Sprint(v) == fmt.Sprint(vo.Params[k])
		}
		if sameTPS && sameCfg {
			t.Errorf("%s: optimum %.1f TPS at the base case's configuration (%.1f): the perturbation moved nothing", name, vo.TPS, b.TPS)
		}
	}
}

func TestBadVariantsFile(t *testing.T) {
	for _, tc := range []struct{ name, edit, want string }{
		{"unknown constant", "  pgBackendMiB: {min: 6, max: 14, why: backend}\n  diskSpeed: {min: 1, max: 2, why: x}\n", "v.yaml:18: ranges.diskSpeed: unknown constant"},
		{"constant left out", "", "ranges.pgBackendMiB: missing"},
		{"min over max", "  pgBackendMiB: {min: 14, max: 6, why: backend}\n", "v.yaml:17: ranges.pgBackendMiB: min 14 is above max 6"},
		{"not a duration", "  pgBackendMiB: {min: 6, max: 14, why: backend}\n", ""},
		{"no why", "  pgBackendMiB: {min: 6, max: 14}\n", "ranges.pgBackendMiB.why: missing"},
		{"zero", "  pgBackendMiB: {min: 0, max: 14, why: b}\n", "v.yaml:17: ranges.pgBackendMiB.min: want a positive number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := validVariants[:strings.Index(validVariants, "  pgBackendMiB")] + tc.edit
			if tc.name == "not a duration" {
				doc = strings.Replace(doc, "rtt: {min: 150us", "rtt: {min: 150", 1)
				tc.want = "v.yaml:8: ranges.rtt.min: want a duration"
			}
			_, err := parseVariants("v.yaml", []byte(doc))
			if !errors.Is(err, errBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want bad input with %q", err, tc.want)
			}
		})
	}
	for _, doc := range []string{
		"kind: VariantRanges\n",
		strings.Replace(validVariants, "tuningPerCase: 1", "tuningPerCase: 4", 1),
		strings.Replace(validVariants, "perCase: 3", "perCase: many", 1),
		strings.Replace(validVariants, "bases:", "base:", 1),
		"[1, 2]",
	} {
		if _, err := parseVariants("v.yaml", []byte(doc)); !errors.Is(err, errBadInput) {
			t.Errorf("%q: err %v, want bad input", doc, err)
		}
	}
}

// FuzzParseVariants: any input is a variant file or an error, never a
// panic, and a file that reads draws variants the model takes.
func FuzzParseVariants(f *testing.F) {
	f.Add([]byte(validVariants))
	f.Add([]byte("apiVersion: tune.dify.dev/v1alpha1\nkind: VariantRanges\nranges: {cpuSpeed: {min: 1, max: 1, why: x}}\n"))
	f.Add([]byte("ranges:\n  rtt: {min: [1], max: {a: 1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseVariants("f.yaml", data)
		if err != nil {
			if !errors.Is(err, errBadInput) {
				t.Fatalf("error %v is not bad input", err)
			}
			return
		}
		if _, err := v.draw("c", 1); err != nil {
			t.Fatalf("a file that reads draws a variant the model refuses: %v", err)
		}
	})
}

// chdirRoot runs the test from the repository root, where the suite names
// its spaces.
func chdirRoot(t *testing.T) {
	t.Helper()
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir("tools/benchsearch") })
}

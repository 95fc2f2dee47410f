package spaces

import (
	"reflect"
	"testing"
)

// TestConfigOfInvertsResolve: a configuration resolved and read back is the
// same configuration, so a deployer handed a System can write its values.
func TestConfigOfInvertsResolve(t *testing.T) {
	sp, err := Load("seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBudget("16c32g")
	if err != nil {
		t.Fatal(err)
	}
	for _, preset := range []string{"s16-final", "s16-storm", "s8-initial"} {
		c, err := LoadConfig("presets/" + preset + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		sys, err := sp.Resolve(b, sp.Complete(c))
		if err != nil {
			t.Fatal(err)
		}
		back, err := sp.Resolve(b, sp.ConfigOf(sys))
		if err != nil {
			t.Fatalf("%s: read back: %v", preset, err)
		}
		if !reflect.DeepEqual(back, sys) {
			t.Errorf("%s: resolve(configOf(sys)) = %+v, want %+v", preset, back, sys)
		}
	}
}

// A service switched off by its enabledBy parameter runs no pods, counts
// nothing, and reads back as a configuration that resolves the same.
func TestServiceSwitchedOff(t *testing.T) {
	sp := loadDefault(t)
	b := mustBudget(t, "8c16g")
	for _, on := range []bool{false, true} {
		c := sp.Baseline()
		c["pgbouncer.enabled"] = on
		sys, err := sp.Resolve(b, c)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if on {
			want = 1
		}
		if got := sys.Services["pgbouncer"].Replicas; got != want {
			t.Errorf("enabled %v: pgbouncer has %d pods, want %d", on, got, want)
		}
		back, err := sp.Resolve(b, sp.ConfigOf(sys))
		if err != nil || !reflect.DeepEqual(back, sys) {
			t.Errorf("enabled %v: read back %+v (%v), want %+v", on, back, err, sys)
		}
	}
	c := sp.Baseline()
	off, _ := sp.Resolve(b, c)
	c["pgbouncer.enabled"] = true
	on, _ := sp.Resolve(b, c)
	if d := sp.Usage(on).CPU - sp.Usage(off).CPU; d != 200 {
		t.Errorf("pgbouncer on adds %dm CPU to the usage, want its 200m", d)
	}
}

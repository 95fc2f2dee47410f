package spaces

import (
	"reflect"
	"testing"
)

// TestConfigOfInvertsResolve: a configuration resolved and read back is the
// same configuration, so a deployer handed a System can write its values.
func TestConfigOfInvertsResolve(t *testing.T) {
	sp, err := Load("default.yaml")
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

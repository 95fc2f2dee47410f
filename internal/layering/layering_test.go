package layering

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestModuleFollowsItsRules is the repository-wide check: every library
// package states its import rule in its doc.go and keeps it.
func TestModuleFollowsItsRules(t *testing.T) {
	v, err := Check(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Error(x)
	}
}

// TestCheckCatchesViolations is the test of the test: a module whose
// packages break their rules (an import the rule does not allow, a
// forbidden outside import, no rule at all) is reported on each count.
func TestCheckCatchesViolations(t *testing.T) {
	v, err := Check(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range v {
		got = append(got, x.String())
	}
	want := []string{
		"low: imports high, which its doc.go does not allow (Imports of this module: nothing)",
		"low: imports net/http, which its doc.go forbids (Never imports: net/http)",
		`norule: the package comment (doc.go) states no "Imports of this module:" rule`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%q\nwant:\n%q", got, want)
	}
}

func TestList(t *testing.T) {
	for in, want := range map[string][]string{
		" nothing.":                    nil,
		" spaces, results and loader.": {"spaces", "results", "loader"},
		" deployer/...":                {"deployer/..."},
	} {
		if got := list(in); !slices.Equal(got, want) {
			t.Errorf("list(%q) = %q, want %q", in, got, want)
		}
	}
}

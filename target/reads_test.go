package target_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target"
)

// TestModelUnreadNamesARename: a copy of the seed's space with api.workers
// renamed still validates, but the model does not read the new name and
// runs api.workers at its default; both are named.
func TestModelUnreadNamesARename(t *testing.T) {
	seed := filepath.Join("..", "spaces", "seed.yaml")
	sp, err := spaces.Load(seed)
	if err != nil {
		t.Fatal(err)
	}
	if u := target.ModelUnread(sp); slices.Contains(u.Ignored, "api.workers") || slices.Contains(u.Defaulted, "api.workers") {
		t.Fatalf("the seed's space: %+v", u)
	}
	b, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.ReplaceAll(string(b), "api.workers", "api.workerz")
	path := filepath.Join(t.TempDir(), "renamed.yaml")
	if err := os.WriteFile(path, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	sp, err = spaces.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	u := target.ModelUnread(sp)
	if !slices.Contains(u.Ignored, "api.workerz") || !slices.Contains(u.Defaulted, "api.workers") {
		t.Errorf("renamed api.workers: %+v, want api.workerz ignored and api.workers defaulted", u)
	}
}

package report

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadTrials: any trials.jsonl either reads, every trial valid and
// numbers unique, or fails with an error; it never panics.
func FuzzReadTrials(f *testing.F) {
	good, _ := os.ReadFile(filepath.Join(studyDir, TrialsFile))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("{\"number\":1,\"state\":\"complete\",\"params\":{\"a\":1}}\n{\"number\":1"))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		trials, _, err := parseTrials(TrialsFile, data)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, tr := range trials {
			if err := tr.Validate(); err != nil || seen[tr.Number] {
				t.Fatalf("read an invalid or repeated trial %+v: %v", tr, err)
			}
			seen[tr.Number] = true
		}
	})
}

package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestJSONLGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trials.jsonl")
	if err := WriteJSONL(path, fixture()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "trials.golden.jsonl", b)
}

func TestAppendThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trials.jsonl")
	want := fixture()
	for _, tr := range want {
		if err := AppendJSONL(path, tr); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back differs:\n got %v\nwant %v", got, want)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o644 {
		t.Errorf("mode %v, want 0644", perm)
	}
}

func TestWriteJSONLReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trials.jsonl")
	all := fixture()
	for _, tr := range all {
		if err := AppendJSONL(path, tr); err != nil {
			t.Fatal(err)
		}
	}
	// A resume rewrites the file to what the store holds.
	if err := WriteJSONL(path, all[:3]); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, all[:3]) {
		t.Errorf("got %d trials, want the first 3", len(got))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	info, _ := os.Stat(path)
	if perm := info.Mode().Perm(); perm != 0o644 {
		t.Errorf("mode %v, want 0644", perm)
	}
}

func TestReadJSONLValid(t *testing.T) {
	got, err := ReadJSONL(filepath.Join("testdata", "valid-trials.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d trials, want 3", len(got))
	}
	// A file from a newer tune with an unknown field still loads.
	if got[1].Number != 1 || got[1].Params["api.cpu"] != 2.0 || got[1].Params["api.replicas"] != int64(3) {
		t.Errorf("trial 1 = %+v", got[1])
	}
}

func TestReadJSONLErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"invalid-json.jsonl", "invalid-json.jsonl:3: "},
		{"invalid-state.jsonl", `invalid-state.jsonl:2: trial 1: state "done"`},
		{"invalid-duplicate.jsonl", "invalid-duplicate.jsonl:3: trial 0 already on line 1"},
		{"invalid-params.jsonl", "invalid-params.jsonl:1: params"},
		{"invalid-truncated.jsonl", "invalid-truncated.jsonl:2: "},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := ReadJSONL(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReadJSONLLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trials.jsonl")
	long := `{"number":0,"state":"complete","params":{"x":"` + strings.Repeat("a", maxLine) + `"}}`
	if err := os.WriteFile(path, []byte("\n"+long+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadJSONL(path)
	if err == nil || !strings.Contains(err.Error(), "trials.jsonl:2: ") {
		t.Errorf("error %v, want one naming line 2", err)
	}
}

// FuzzReadJSONL checks that no input crashes the reader and that whatever it
// accepts survives encoding and a second read unchanged.
func FuzzReadJSONL(f *testing.F) {
	var buf bytes.Buffer
	for _, tr := range fixture() {
		b, _ := json.Marshal(tr)
		f.Add(b)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"number":1,"state":"pruned","params":{"a":1e400}}`))
	f.Add([]byte(`{"number":1,"state":"pruned","params":{"a":-0,"b":[1,{"c":2.0}],"d":null}}`))
	f.Add([]byte("\n\n{\"number\":0,\"state\":\"failed\"}\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		trials, err := readJSONL(bytes.NewReader(data))
		if err != nil {
			return
		}
		// In memory: WriteJSONL's file handling is tested above, and an
		// fsync per input would starve the fuzzer.
		b, err := encodeJSONL(trials)
		if err != nil {
			t.Fatalf("accepted trials do not encode: %v", err)
		}
		again, err := readJSONL(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("encoded trials do not read: %v\n%s", err, b)
		}
		if b2, _ := encodeJSONL(again); !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the trials:\n%s\n%s", b, b2)
		}
	})
}

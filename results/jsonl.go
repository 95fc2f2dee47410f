package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxLine bounds one trials.jsonl line when reading. A trial is a few
// hundred bytes; the bound only stops a corrupt file from exhausting memory.
const maxLine = 16 << 20

// AppendJSONL appends t to the trials.jsonl file at path as one line and
// syncs it to disk before returning, creating the file if needed. The line
// goes out in a single write so readers never see half of it unless the
// machine itself fails mid-write.
func AppendJSONL(path string, t Trial) error {
	line, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	line = append(line, '\n')

	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	if created {
		// A new file's directory entry is only durable once the directory is.
		return syncDir(filepath.Dir(path))
	}
	return nil
}

// WriteJSONL replaces the file at path with trials, one per line, in the
// order given. It writes a temporary file beside path and renames it over
// path, so a crash leaves either the old file or the new one, never a mix.
// It is how a resumed study makes trials.jsonl match the store again.
func WriteJSONL(path string, trials []Trial) error {
	b, err := encodeJSONL(trials)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, b)
}

func encodeJSONL(trials []Trial) ([]byte, error) {
	var buf bytes.Buffer
	for _, t := range trials {
		line, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// ReadJSONL reads every trial in the trials.jsonl file at path, in file
// order. Blank lines are skipped. An error names the file and the 1-based
// line, including for a record with an invalid state, origin or number, or a
// number already seen.
func ReadJSONL(path string) ([]Trial, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	trials, err := readJSONL(f)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return trials, nil
}

// readJSONL is ReadJSONL on a reader; errors start with the line number.
func readJSONL(r io.Reader) ([]Trial, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var trials []Trial
	seen := map[int]int{} // trial number → line
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var t Trial
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("%d: %w", line, err)
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("%d: trial %d: %w", line, t.Number, err)
		}
		if prev, ok := seen[t.Number]; ok {
			return nil, fmt.Errorf("%d: trial %d already on line %d", line, t.Number, prev)
		}
		seen[t.Number] = line
		trials = append(trials, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%d: %w", line+1, err)
	}
	return trials, nil
}

// writeAtomic replaces path with data: temporary file in the same directory,
// fsync, rename, fsync of the directory.
func writeAtomic(path string, data []byte) error { return writeAtomicMode(path, data, 0o644) }

func writeAtomicMode(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes the file 0600.
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

package results

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The files of a study's output folder. A study writes them through a
// Folder; export and report read them back with ReadFolder.
const (
	TrialsDB     = "trials.db"          // the store: the truth
	TrialsJSONL  = "trials.jsonl"       // one line per trial, kept in step with the store
	StudyJSON    = "study.json"         // StudyFile: what export needs without the flags
	SpaceYAML    = "space.yaml"         // a copy of the space the study ran on
	ParetoJSON   = "pareto.json"        // the front, the SLO and the recommendation
	ValuesYAML   = "values.yaml"        // the recommendation as a Helm values overlay
	BaselineJSON = "helm-baseline.json" // a Helm target's baseline, until it is restored
)

// StudyFile is study.json: the study's name and definition, with the
// objective it ran under.
type StudyFile struct {
	Study string `json:"study"`
	StudyMeta
	// WallTime is what the study cost, or would cost, on a cluster, as of
	// its last run's end (SetWallTime).
	WallTime *WallTime `json:"wall_time,omitempty"`
}

// Folder is an open study output folder: its store and trials.jsonl, kept
// in step, and every file the study writes. It is the search's Store.
type Folder struct {
	Dir   string
	Study StudyFile
	store *Store
	id    StudyID
}

// StoragePath turns a --storage flag into the SQLite file a folder uses:
// "" is trials.db in dir; "sqlite:PATH" and "sqlite://PATH" are PATH; a
// plain path is itself. Any other URL is refused, its credentials redacted
// from the error.
func StoragePath(flag, dir string) (string, error) {
	switch {
	case flag == "":
		return filepath.Join(dir, TrialsDB), nil
	case strings.HasPrefix(flag, "sqlite://"):
		return strings.TrimPrefix(flag, "sqlite://"), nil
	case strings.HasPrefix(flag, "sqlite:"):
		return strings.TrimPrefix(flag, "sqlite:"), nil
	case strings.Contains(flag, "://"):
		return "", fmt.Errorf("%s: only SQLite stores are available in this version (a file path or sqlite:PATH)", redactURL(flag))
	}
	return flag, nil
}

// redactURL drops credentials from a storage URL before it is shown.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

// OpenFolder creates or reopens the study in dir with its store at dbPath
// (see StoragePath). It records the space's content (space.yaml, and its
// digest in the study's definition) and study.json, and rewrites
// trials.jsonl from the store, which is the truth after a crash. Reopening a
// study under another definition is a *MismatchError.
func OpenFolder(ctx context.Context, dir, dbPath string, study StudyFile, space []byte) (*Folder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	study.SpaceDigest = fmt.Sprintf("%x", sha256.Sum256(space))
	st, err := Open(ctx, dbPath)
	if err != nil {
		return nil, fmt.Errorf("open trial store %s: %w", dbPath, err)
	}
	id, err := st.Study(ctx, study.Study, study.StudyMeta)
	if err != nil {
		st.Close()
		var mismatch *MismatchError
		if errors.As(err, &mismatch) {
			return nil, err
		}
		return nil, fmt.Errorf("study %s in %s: %w", study.Study, dbPath, err)
	}
	f := &Folder{Dir: dir, Study: study, store: st, id: id}
	if err := f.writeStudy(space); err != nil {
		st.Close()
		return nil, err
	}
	done, err := f.Trials(ctx)
	if err == nil {
		err = WriteJSONL(f.path(TrialsJSONL), done)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return f, nil
}

func (f *Folder) writeStudy(space []byte) error {
	if err := writeAtomic(f.path(SpaceYAML), space); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f.Study, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(f.path(StudyJSON), append(b, '\n'))
}

func (f *Folder) path(name string) string { return filepath.Join(f.Dir, name) }

// SetWallTime records the study's wall time on a cluster in study.json.
func (f *Folder) SetWallTime(w WallTime) error {
	f.Study.WallTime = &w
	b, err := json.MarshalIndent(f.Study, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(f.path(StudyJSON), append(b, '\n'))
}

// Close closes the store.
func (f *Folder) Close() error { return f.store.Close() }

// Trials is every trial the store holds for the study, in number order.
func (f *Folder) Trials(ctx context.Context) ([]Trial, error) {
	return f.store.Trials(ctx, f.id)
}

// Add records t in the store, then appends it to trials.jsonl; both are on
// disk when it returns.
func (f *Folder) Add(ctx context.Context, t Trial) error {
	if err := f.store.Add(ctx, f.id, t); err != nil {
		return err
	}
	return AppendJSONL(f.path(TrialsJSONL), t)
}

// WritePareto writes pareto.json.
func (f *Folder) WritePareto(p ParetoFile) error {
	return WritePareto(f.path(ParetoJSON), p)
}

// Write writes one of the recommendation's files (values.yaml, a manifest
// beside it) into the folder; name is a base name.
func (f *Folder) Write(name string, data []byte) error {
	if name != filepath.Base(name) || name == "." || name == ".." {
		return fmt.Errorf("write %q: not a file name of the folder", name)
	}
	return writeAtomic(f.path(name), data)
}

// RemoveValues removes a stale values.yaml, and the manifests an earlier
// run wrote beside it, when there is nothing to recommend.
func (f *Folder) RemoveValues(beside ...string) error {
	for _, name := range append([]string{ValuesYAML}, beside...) {
		if err := removeIfThere(f.path(filepath.Base(name))); err != nil {
			return err
		}
	}
	return nil
}

// File is the path of one of the folder's files, for messages.
func (f *Folder) File(name string) string { return f.path(name) }

// SaveBaseline records a deployment's baseline (as JSON) so that a study
// killed outright still restores it when resumed. The baseline may hold
// the user's secrets: the file is owner-only, like a kubeconfig.
func (f *Folder) SaveBaseline(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(f.path(BaselineJSON), append(b, '\n'), 0o600)
}

// LoadBaseline reads what SaveBaseline recorded into v; ok is false when
// nothing is recorded.
func (f *Folder) LoadBaseline(v any) (ok bool, err error) {
	b, err := os.ReadFile(f.path(BaselineJSON))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", f.path(BaselineJSON), err)
	}
	return true, nil
}

// RemoveBaseline removes the recorded baseline once it is restored.
func (f *Folder) RemoveBaseline() error { return removeIfThere(f.path(BaselineJSON)) }

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteFile replaces path with data atomically (temporary file, fsync,
// rename, fsync of the directory) with the given permissions.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return writeAtomicMode(path, data, perm)
}

// StudyRecord is a study folder read back: its definition, the path of its
// space copy and its trials.
type StudyRecord struct {
	Study     StudyFile
	SpaceFile string
	Trials    []Trial
}

// ErrNotStudy: the folder holds no study.json.
var ErrNotStudy = errors.New("not a study folder")

// ReadFolder reads a study folder as export and report need it. It works
// on a study that is still running or was interrupted: trials.jsonl may
// hold any number of trials.
func ReadFolder(dir string) (StudyRecord, error) {
	var r StudyRecord
	b, err := os.ReadFile(filepath.Join(dir, StudyJSON))
	if err != nil {
		return r, fmt.Errorf("%s: %w: %w", dir, ErrNotStudy, err)
	}
	if err := json.Unmarshal(b, &r.Study); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, StudyJSON), err)
	}
	r.SpaceFile = filepath.Join(dir, SpaceYAML)
	r.Trials, err = ReadJSONL(filepath.Join(dir, TrialsJSONL))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	return r, nil
}

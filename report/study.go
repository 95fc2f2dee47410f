package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// The files of a study folder the report reads (results names them).
const (
	TrialsFile = results.TrialsJSONL
	StudyFile  = results.StudyJSON
	ParetoFile = results.ParetoJSON
	SpaceFile  = results.SpaceYAML
	// HTMLFile is the report's own file in the folder.
	HTMLFile = "report.html"
)

// Study is a study folder as read from disk.
type Study struct {
	Dir string
	// Meta is study.json; every field may be empty: a folder without
	// study.json (an older or hand-made one) still has a report.
	Meta   results.StudyFile
	SLO    results.SLO
	Pick   results.Mode
	Trials []results.Trial // in number order
	// Space is the folder's copy of the space, or nil when it is missing or
	// no longer loads; parameter order and service names then come from the
	// trials themselves.
	Space *spaces.Space
	// Partial says the last line of trials.jsonl was cut short (the study
	// was writing it); that trial is left out.
	Partial bool
}

// ErrNoTrials means the folder holds no trials.jsonl: not a study folder,
// or a study that has not finished its first trial.
var ErrNoTrials = errors.New("no trials.jsonl: not a study folder, or no trial has finished yet")

// Load reads the study folder dir. Only trials.jsonl is required; study.json
// gives the SLO and the study's name (else pareto.json's SLO, else none),
// space.yaml the parameter order.
func Load(dir string) (*Study, error) {
	s := &Study{Dir: dir, Pick: results.ModeMaxTPS}
	path := filepath.Join(dir, TrialsFile)
	trials, partial, err := readTrials(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoTrials)
	}
	if err != nil {
		return nil, err
	}
	s.Trials, s.Partial = trials, partial
	slices.SortFunc(s.Trials, func(a, b results.Trial) int { return cmp.Compare(a.Number, b.Number) })

	haveSLO := false
	if b, err := os.ReadFile(filepath.Join(dir, StudyFile)); err == nil {
		if err := json.Unmarshal(b, &s.Meta); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StudyFile), err)
		}
		s.SLO = results.SLO{P95: time.Duration(s.Meta.SLOP95Ms) * time.Millisecond, MaxErrorRate: s.Meta.MaxErrorRate}
		haveSLO = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// pareto.json is written at the end of a study: when present it says
	// which pick the study made (and, without study.json, the SLO).
	if b, err := os.ReadFile(filepath.Join(dir, ParetoFile)); err == nil {
		var pf results.ParetoFile
		if err := json.Unmarshal(b, &pf); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ParetoFile), err)
		}
		if pf.Pick != "" {
			if m, err := results.ParseMode(string(pf.Pick)); err == nil {
				s.Pick = m
			}
		}
		if !haveSLO {
			s.SLO = pf.SLO
			haveSLO = true
		}
	}
	if !haveSLO {
		s.SLO = results.SLO{MaxErrorRate: 1} // nothing to judge by: every complete trial counts
	}
	if sp, err := spaces.Load(filepath.Join(dir, SpaceFile)); err == nil {
		s.Space = sp
	}
	return s, nil
}

// readTrials reads trials.jsonl as results.ReadJSONL does, except that an
// unterminated last line is taken for a record a running study is still
// writing, or a study killed mid-write left, and skipped instead of failing
// the report (the store rewrites that line when the study resumes).
func readTrials(path string) ([]results.Trial, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	return parseTrials(path, b)
}

// parseTrials is readTrials on the file's content; path names it in errors.
func parseTrials(path string, b []byte) ([]results.Trial, bool, error) {
	partial := false
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 && len(bytes.TrimSpace(b[i+1:])) > 0 {
		var t results.Trial
		if json.Unmarshal(b[i+1:], &t) != nil {
			b, partial = b[:i+1], true
		}
	}
	var trials []results.Trial
	seen := map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), len(b)+1)
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var t results.Trial
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, false, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if err := t.Validate(); err != nil {
			return nil, false, fmt.Errorf("%s:%d: trial %d: %w", path, line, t.Number, err)
		}
		if prev, ok := seen[t.Number]; ok {
			return nil, false, fmt.Errorf("%s:%d: trial %d already on line %d", path, line, t.Number, prev)
		}
		seen[t.Number] = line
		trials = append(trials, t)
	}
	return trials, partial, sc.Err()
}

// ParamNames is the order parameters are shown in: the space's (services
// first, critical path first), then any the space does not name, sorted.
func (s *Study) ParamNames() []string {
	var names []string
	known := map[string]bool{}
	if s.Space != nil {
		for _, n := range s.Space.ParamNames() {
			names = append(names, n)
			known[n] = true
		}
	}
	var extra []string
	for _, t := range s.Trials {
		for n := range t.Params {
			if !known[n] {
				known[n] = true
				extra = append(extra, n)
			}
		}
	}
	slices.Sort(extra)
	return append(names, extra...)
}

// Services lists the services that have a utilisation in any trial: the
// space's services first in its order, then the others sorted ("reserved",
// the components nobody tunes, among them).
func (s *Study) Services() []string {
	seen := map[string]bool{}
	for _, t := range s.Trials {
		for n := range t.Utilisation {
			seen[n] = true
		}
	}
	var out []string
	if s.Space != nil {
		for _, svc := range s.Space.Services {
			if seen[svc.Name] {
				out = append(out, svc.Name)
				delete(seen, svc.Name)
			}
		}
	}
	rest := make([]string, 0, len(seen))
	for n := range seen {
		rest = append(rest, n)
	}
	slices.Sort(rest)
	return append(out, rest...)
}

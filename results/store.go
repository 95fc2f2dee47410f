package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// schemaVersion is stored in PRAGMA user_version. A file with a newer
// version was written by a newer tune and is refused rather than misread.
const schemaVersion = 3

// busyTimeout is how long a writer waits for another process holding the
// database (a second tune, or sqlite3 reading it) before failing.
const busyTimeout = 10 * time.Second

const schema = `
CREATE TABLE IF NOT EXISTS studies (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	budget       TEXT NOT NULL,
	space        TEXT NOT NULL,
	space_digest TEXT NOT NULL,
	target       TEXT NOT NULL,
	scenario     TEXT NOT NULL,
	seed         INTEGER NOT NULL,
	command      TEXT NOT NULL,
	created      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
	study_id    INTEGER NOT NULL REFERENCES studies(id),
	number      INTEGER NOT NULL CHECK (number >= 0),
	state       TEXT NOT NULL CHECK (state IN ('complete', 'failed', 'pruned')),
	origin      TEXT NOT NULL,
	params      TEXT NOT NULL,
	cpu_cores   REAL NOT NULL,
	memory_mib  INTEGER NOT NULL,
	tps         REAL NOT NULL,
	p50_ms      REAL NOT NULL,
	p95_ms      REAL NOT NULL,
	p99_ms      REAL NOT NULL,
	ttfb_p95_ms REAL NOT NULL,
	error_rate  REAL NOT NULL,
	error       TEXT NOT NULL,
	utilisation TEXT,
	errors      TEXT,
	started     TEXT NOT NULL,
	finished    TEXT NOT NULL,
	duration_s  REAL NOT NULL,
	timings     TEXT,
	screen_s    REAL NOT NULL DEFAULT 0,
	promoted_from INTEGER,
	PRIMARY KEY (study_id, number)
);`

// upgrades bring a file of an older version to schemaVersion: upgrades[v-1]
// takes version v to v+1. Version 2 records the trials' timings, version
// 3 which trials are screens and which promote one (every older trial ran
// the full load: screen_s 0).
var upgrades = []string{
	`ALTER TABLE trials ADD COLUMN timings TEXT`,
	`ALTER TABLE trials ADD COLUMN screen_s REAL NOT NULL DEFAULT 0;
	 ALTER TABLE trials ADD COLUMN promoted_from INTEGER`,
}

// StudyID identifies a study within one Store.
type StudyID int64

// StudyMeta is what defines a study, recorded when it is created. Budget,
// Space, SpaceDigest (when both runs set it), Target and Scenario must match
// when a study is reopened: trials measured under different conditions are
// not comparable. Seed and Command may differ on a resume (a resume is a new
// command line); the values from the creating run are kept.
type StudyMeta struct {
	Budget      string `json:"budget"`                 // as the user wrote it: "16c32g"
	Space       string `json:"space"`                  // the space file as given on the command line
	SpaceDigest string `json:"space_digest,omitempty"` // optional hash of the space file's content
	Target      string `json:"target"`                 // sim, local or helm
	Scenario    string `json:"scenario"`               // one of spaces.Scenarios
	Seed        int64  `json:"seed"`
	Command     string `json:"command"` // the command line that created the study

	// The objective and sampler of the run; a resume may change them, so
	// the store does not compare them (study.json holds the last run's).
	Sampler      string  `json:"sampler,omitempty"`
	SLOP95Ms     int64   `json:"slo_p95_ms"`
	MaxErrorRate float64 `json:"max_error_rate"`
}

// Study is a study as the store holds it.
type Study struct {
	ID      StudyID
	Name    string
	Meta    StudyMeta
	Created time.Time
}

// MismatchError is returned by Store.Study when a study is reopened with
// settings that differ from those it was created with.
type MismatchError struct {
	Study  string
	Fields []FieldDiff
}

// FieldDiff is one setting that differs between a study and a resume.
type FieldDiff struct {
	Field         string // "budget", "space", ...
	Stored, Given string
}

func (e *MismatchError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = fmt.Sprintf("%s %q (this run: %q)", f.Field, f.Stored, f.Given)
	}
	return fmt.Sprintf("study %q exists with %s: resume it with the same settings or choose another --study",
		e.Study, strings.Join(parts, ", "))
}

// Errors of Store.Add, for errors.Is.
var (
	// ErrUnknownStudy: the StudyID is not in the store.
	ErrUnknownStudy = errors.New("unknown study")
	// ErrTrialExists: the study already holds a trial with that number.
	// Trials are records of what happened and are never overwritten.
	ErrTrialExists = errors.New("trial number already stored")
)

// Store keeps studies and their trials in one SQLite file. Each Add is its
// own durable transaction, so a study killed at any moment loses at most the
// trial that was running. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens or creates the SQLite store at path (conventionally
// trials.db in the output folder).
func Open(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as connection options.
		return nil, fmt.Errorf("open store %s: path must not contain '?' or '#'", path)
	}
	// WAL lets readers (tune export, sqlite3) run beside the study;
	// synchronous=FULL makes every commit survive power loss, not only a
	// process crash; txlock=immediate takes the write lock at BEGIN, so two
	// writers wait on busy_timeout instead of deadlocking on a lock upgrade.
	// Pragmas in the DSN apply to every pooled connection.
	dsn := path + fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this tune understands (%d)", v, schemaVersion)
	}
	if v > 0 {
		for _, up := range upgrades[v-1:] {
			if _, err := tx.ExecContext(ctx, up); err != nil {
				return fmt.Errorf("upgrade schema from version %d: %w", v, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Study creates the study name with meta, or reopens it when it exists. A
// reopened study whose budget, space, target or scenario differ from meta is
// an error (*MismatchError, naming each difference): a resume must continue
// the same study.
func (s *Store) Study(ctx context.Context, name string, meta StudyMeta) (StudyID, error) {
	if name == "" {
		return 0, errors.New("study: empty name")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("study %q: %w", name, err)
	}
	defer tx.Rollback()

	st, err := scanStudy(tx.QueryRowContext(ctx, studySelect+" WHERE name = ?", name))
	switch {
	case err == nil:
		if diff := st.Meta.diff(meta); len(diff) > 0 {
			return 0, &MismatchError{Study: name, Fields: diff}
		}
		return st.ID, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("study %q: %w", name, err)
	}

	res, err := tx.ExecContext(ctx, `INSERT INTO studies
		(name, budget, space, space_digest, target, scenario, seed, command, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		name, meta.Budget, meta.Space, meta.SpaceDigest, meta.Target, meta.Scenario,
		meta.Seed, meta.Command, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return 0, fmt.Errorf("study %q: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("study %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("study %q: %w", name, err)
	}
	return StudyID(id), nil
}

// diff lists the settings of given that differ from m.
func (m StudyMeta) diff(given StudyMeta) []FieldDiff {
	var d []FieldDiff
	check := func(field, stored, g string) {
		if stored != g {
			d = append(d, FieldDiff{Field: field, Stored: stored, Given: g})
		}
	}
	check("budget", m.Budget, given.Budget)
	check("space", m.Space, given.Space)
	if m.SpaceDigest != "" && given.SpaceDigest != "" {
		check("space digest", m.SpaceDigest, given.SpaceDigest)
	}
	check("target", m.Target, given.Target)
	check("scenario", m.Scenario, given.Scenario)
	return d
}

const studySelect = `SELECT id, name, budget, space, space_digest, target, scenario, seed, command, created FROM studies`

type rowScanner interface{ Scan(dest ...any) error }

func scanStudy(r rowScanner) (Study, error) {
	var st Study
	var created string
	err := r.Scan(&st.ID, &st.Name, &st.Meta.Budget, &st.Meta.Space, &st.Meta.SpaceDigest,
		&st.Meta.Target, &st.Meta.Scenario, &st.Meta.Seed, &st.Meta.Command, &created)
	if err != nil {
		return Study{}, err
	}
	st.Created, err = time.Parse(time.RFC3339Nano, created)
	return st, err
}

// Studies lists the studies in the store, oldest first; `tune export` uses
// it to find the study in an output folder.
func (s *Store) Studies(ctx context.Context) ([]Study, error) {
	rows, err := s.db.QueryContext(ctx, studySelect+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("studies: %w", err)
	}
	defer rows.Close()
	var out []Study
	for rows.Next() {
		st, err := scanStudy(rows)
		if err != nil {
			return nil, fmt.Errorf("studies: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Add stores t in study. It returns only once the trial is committed and
// synced to disk. A number the study already holds is ErrTrialExists.
func (s *Store) Add(ctx context.Context, study StudyID, t Trial) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("add trial %d: %w", t.Number, err)
	}
	params, err := encodeParams(t.Params)
	if err != nil {
		return fmt.Errorf("add trial %d: %w", t.Number, err)
	}
	util, err := jsonOrNull(t.Utilisation)
	if err != nil {
		return fmt.Errorf("add trial %d: utilisation: %w", t.Number, err)
	}
	errs, err := jsonOrNull(t.Errors)
	if err != nil {
		return fmt.Errorf("add trial %d: errors: %w", t.Number, err)
	}
	var timings any // NULL when the target records none
	if t.Timings != nil {
		b, err := json.Marshal(t.Timings)
		if err != nil {
			return fmt.Errorf("add trial %d: timings: %w", t.Number, err)
		}
		timings = string(b)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add trial %d: %w", t.Number, err)
	}
	defer tx.Rollback()
	// The transaction holds the write lock from BEGIN (txlock=immediate), so
	// these checks cannot race another writer.
	var studies, trials int
	err = tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM studies WHERE id = ?),
		(SELECT count(*) FROM trials WHERE study_id = ? AND number = ?)`,
		study, study, t.Number).Scan(&studies, &trials)
	if err != nil {
		return fmt.Errorf("add trial %d: %w", t.Number, err)
	}
	if studies == 0 {
		return fmt.Errorf("add trial %d: %w %d", t.Number, ErrUnknownStudy, study)
	}
	if trials > 0 {
		return fmt.Errorf("add trial %d: %w", t.Number, ErrTrialExists)
	}
	m := t.Metrics
	_, err = tx.ExecContext(ctx, `INSERT INTO trials
		(study_id, number, state, origin, params, cpu_cores, memory_mib,
		 tps, p50_ms, p95_ms, p99_ms, ttfb_p95_ms, error_rate, error,
		 utilisation, errors, started, finished, duration_s, timings, screen_s, promoted_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		study, t.Number, string(t.State), string(t.Origin), string(params),
		t.Resources.CPUCores, t.Resources.MemoryMiB,
		m.TPS, m.P50, m.P95, m.P99, m.TTFBP95, m.ErrorRate, t.Error,
		util, errs, formatTime(t.Started), formatTime(t.Finished), t.DurationS, timings, t.ScreenS, t.PromotedFrom)
	if err != nil {
		return fmt.Errorf("add trial %d: %w", t.Number, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add trial %d: %w", t.Number, err)
	}
	return nil
}

// Trials returns study's trials in number order.
func (s *Store) Trials(ctx context.Context, study StudyID) ([]Trial, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT number, state, origin, params, cpu_cores, memory_mib,
		tps, p50_ms, p95_ms, p99_ms, ttfb_p95_ms, error_rate, error,
		utilisation, errors, started, finished, duration_s, timings, screen_s, promoted_from
		FROM trials WHERE study_id = ? ORDER BY number`, study)
	if err != nil {
		return nil, fmt.Errorf("trials: %w", err)
	}
	defer rows.Close()
	var out []Trial
	for rows.Next() {
		var (
			t                 Trial
			state, origin     string
			params            string
			util, errs        sql.NullString
			timings           sql.NullString
			started, finished string
			promoted          sql.NullInt64
		)
		m := &t.Metrics
		err := rows.Scan(&t.Number, &state, &origin, &params, &t.Resources.CPUCores, &t.Resources.MemoryMiB,
			&m.TPS, &m.P50, &m.P95, &m.P99, &m.TTFBP95, &m.ErrorRate, &t.Error,
			&util, &errs, &started, &finished, &t.DurationS, &timings, &t.ScreenS, &promoted)
		if err != nil {
			return nil, fmt.Errorf("trials: %w", err)
		}
		t.State, t.Origin = State(state), Origin(origin)
		if promoted.Valid {
			n := int(promoted.Int64)
			t.PromotedFrom = &n
		}
		if t.Params, err = decodeParams([]byte(params)); err != nil {
			return nil, fmt.Errorf("trial %d: %w", t.Number, err)
		}
		if util.Valid {
			if err := json.Unmarshal([]byte(util.String), &t.Utilisation); err != nil {
				return nil, fmt.Errorf("trial %d: utilisation: %w", t.Number, err)
			}
		}
		if errs.Valid {
			if err := json.Unmarshal([]byte(errs.String), &t.Errors); err != nil {
				return nil, fmt.Errorf("trial %d: errors: %w", t.Number, err)
			}
		}
		if timings.Valid {
			t.Timings = new(Timings)
			if err := json.Unmarshal([]byte(timings.String), t.Timings); err != nil {
				return nil, fmt.Errorf("trial %d: timings: %w", t.Number, err)
			}
		}
		if t.Started, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("trial %d: started: %w", t.Number, err)
		}
		if t.Finished, err = parseTime(finished); err != nil {
			return nil, fmt.Errorf("trial %d: finished: %w", t.Number, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("trials: %w", err)
	}
	return out, nil
}

// jsonOrNull stores an empty map as SQL NULL, so it reloads as nil and the
// trial's JSON omits it exactly as before it was stored.
func jsonOrNull[V any](m map[string]V) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Times are stored as RFC 3339 text with nanoseconds, readable in sqlite3;
// the zero time is stored as "" and reloads as the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

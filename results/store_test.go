package results

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var meta = StudyMeta{
	Budget: "16c32g", Space: "spaces/default.yaml", Target: "sim", Scenario: "chatflow",
	Seed: 7, Command: "tune --budget 16c32g --space spaces/default.yaml",
}

// storeOfVersion writes a trials.db of an earlier schema version (the
// current schema without the columns added since, each given as its line)
// holding study "x" and its baseline trial (values: the row's columns after
// the study and the number), and opens it as tune does.
func storeOfVersion(t *testing.T, version int, added []string, values string) (*Store, StudyID) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trials.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	cut := make([]string, 0, 2*len(added))
	for _, line := range added {
		cut = append(cut, line, "")
	}
	for _, q := range []string{strings.NewReplacer(cut...).Replace(schema), fmt.Sprintf("PRAGMA user_version = %d", version),
		`INSERT INTO studies VALUES (1, 'x', '16c32g', 'spaces/default.yaml', '', 'sim', 'chatflow', 7, 'tune', '2026-11-25T01:00:00Z')`,
		`INSERT INTO trials VALUES (1, 0, ` + values + `)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	s := openStore(t, path)
	id, err := s.Study(context.Background(), "x", meta)
	if err != nil {
		t.Fatal(err)
	}
	return s, id
}

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trials.db")
	s := openStore(t, path)
	id, err := s.Study(ctx, "x", meta)
	if err != nil {
		t.Fatal(err)
	}
	want := fixture()
	// Out of order on purpose: Trials returns number order.
	for _, i := range []int{3, 0, 9, 1, 2, 8, 4, 5, 7, 6} {
		if err := s.Add(ctx, id, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Trials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trials differ:\n got %+v\nwant %+v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: same study, same trials.
	s2 := openStore(t, path)
	id2, err := s2.Study(ctx, "x", StudyMeta{Budget: "16c32g", Space: "spaces/default.yaml",
		Target: "sim", Scenario: "chatflow", Seed: 8, Command: "tune --trials 200"})
	if err != nil {
		t.Fatalf("resume with another seed and command: %v", err)
	}
	if id2 != id {
		t.Errorf("reopened study id %d, want %d", id2, id)
	}
	got, err = s2.Trials(ctx, id2)
	if err != nil || len(got) != len(want) {
		t.Fatalf("after reopen: %d trials, %v", len(got), err)
	}
	studies, err := s2.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(studies) != 1 || studies[0].Meta != meta || studies[0].Name != "x" || studies[0].Created.IsZero() {
		t.Errorf("studies = %+v, want the creating run's meta %+v", studies, meta)
	}
}

func TestStudiesAreSeparate(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "trials.db"))
	a, _ := s.Study(ctx, "a", meta)
	b, _ := s.Study(ctx, "b", meta)
	if a == b {
		t.Fatal("two studies share an id")
	}
	tr := fixture()[0]
	for _, id := range []StudyID{a, b} {
		if err := s.Add(ctx, id, tr); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Trials(ctx, a)
	if len(got) != 1 {
		t.Errorf("study a has %d trials, want 1", len(got))
	}
}

func TestStudyMismatch(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "trials.db"))
	if _, err := s.Study(ctx, "x", meta); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(*StudyMeta)
		fields []string
	}{
		{"budget", func(m *StudyMeta) { m.Budget = "8c16g" }, []string{"budget"}},
		{"space", func(m *StudyMeta) { m.Space = "other.yaml" }, []string{"space"}},
		{"target", func(m *StudyMeta) { m.Target = "helm" }, []string{"target"}},
		{"scenario", func(m *StudyMeta) { m.Scenario = "agent" }, []string{"scenario"}},
		{"several", func(m *StudyMeta) { m.Budget, m.Target = "24c48g", "local" }, []string{"budget", "target"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := meta
			tc.modify(&m)
			_, err := s.Study(ctx, "x", m)
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("error %v, want a *MismatchError", err)
			}
			var fields []string
			for _, f := range me.Fields {
				fields = append(fields, f.Field)
				if !strings.Contains(err.Error(), f.Field+" ") {
					t.Errorf("message %q does not name %s", err, f.Field)
				}
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Errorf("fields %v, want %v", fields, tc.fields)
			}
		})
	}
	// A digest is compared only when both runs know it.
	if _, err := s.Study(ctx, "d", StudyMeta{Budget: "b", SpaceDigest: "sha256:aa"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Study(ctx, "d", StudyMeta{Budget: "b"}); err != nil {
		t.Errorf("resume without a digest: %v", err)
	}
	if _, err := s.Study(ctx, "d", StudyMeta{Budget: "b", SpaceDigest: "sha256:bb"}); err == nil ||
		!strings.Contains(err.Error(), "space digest") {
		t.Errorf("changed digest: %v", err)
	}
}

func TestAddRejects(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "trials.db"))
	id, _ := s.Study(ctx, "x", meta)
	tr := fixture()[0]
	if err := s.Add(ctx, id, tr); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, id, tr); !errors.Is(err, ErrTrialExists) {
		t.Errorf("a second trial 0: %v, want ErrTrialExists", err)
	}
	if err := s.Add(ctx, id+100, fixture()[1]); !errors.Is(err, ErrUnknownStudy) {
		t.Errorf("unknown study: %v", err)
	}
	bad := fixture()[1]
	bad.State = "done"
	if err := s.Add(ctx, id, bad); err == nil || !strings.Contains(err.Error(), "state") {
		t.Errorf("invalid state: %v", err)
	}
	if _, err := s.Study(ctx, "", meta); err == nil {
		t.Error("empty study name accepted")
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "a?b.db")); err == nil {
		t.Error("path with '?' accepted")
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing", "trials.db")); err == nil {
		t.Error("path in a missing folder accepted")
	}
	// A store written by a newer tune is refused, not misread.
	path := filepath.Join(t.TempDir(), "trials.db")
	s := openStore(t, path)
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("newer schema: %v", err)
	}
}

func TestStorePragmas(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "trials.db"))
	// Check every pooled connection, not just the first: hold several open.
	ctx := context.Background()
	var conns []interface{ Close() error }
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var mode string
		var sync, busy int
		c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
		if mode != "wal" || sync != 2 || busy != int(busyTimeout.Milliseconds()) {
			t.Errorf("journal_mode %q synchronous %d busy_timeout %d, want wal 2 %d", mode, sync, busy, busyTimeout.Milliseconds())
		}
	}
}

func TestConcurrentAdds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trials.db")
	s1 := openStore(t, path)
	s2 := openStore(t, path) // a second handle stands in for a second process
	id, err := s1.Study(ctx, "x", meta)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			s := s1
			if i%2 == 1 {
				s = s2
			}
			errs <- s.Add(ctx, id, crashTrial(i))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, _ := s1.Trials(ctx, id)
	if len(got) != 40 {
		t.Errorf("%d trials, want 40", len(got))
	}
}

// crashTrial is the trial the crash child adds as number n: its content is
// a function of n so the parent can check it is intact.
func crashTrial(n int) Trial {
	start := t0.Add(time.Duration(n) * time.Second)
	return Trial{
		Number: n, State: StateComplete, Origin: OriginSampler,
		Params:    map[string]any{"n": int64(n), "cpu": float64(n) + 0.5, "tag": strconv.Itoa(n), "even": n%2 == 0},
		Resources: Resources{CPUCores: float64(n), MemoryMiB: int64(n) * 1024},
		Metrics:   Metrics{TPS: float64(n) * 1.5, P95: 1000 - float64(n)},
		Error:     strings.Repeat("x", n%50), // vary the row size
		Started:   start, Finished: start.Add(time.Second), DurationS: 1,
	}
}

const crashEnv = "RESULTS_CRASH_CHILD_DIR"

// TestCrashDuringAdds kills a child process that is adding trials in a
// loop, at an arbitrary moment, three times over the same store. Every trial
// the child reported as added (Add and AppendJSONL returned) must be there,
// intact, and the database must pass integrity_check.
func TestCrashDuringAdds(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir) // never returns
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	ctx := context.Background()
	acked := -1
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringAdds$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for lines := 0; lines < 20+round*15 && sc.Scan(); lines++ {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			acked = n
		}
		// Kill between acknowledgements, not on one: the child is inside
		// an Add (or an append) most of the time.
		time.Sleep(time.Duration(round) * 700 * time.Microsecond)
		cmd.Process.Kill()
		cmd.Wait()
		if acked < 0 {
			t.Fatal("child added nothing")
		}

		s, err := Open(ctx, filepath.Join(dir, "trials.db"))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		var check string
		if err := s.db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check %q, %v", round, check, err)
		}
		id, err := s.Study(ctx, "crash", meta)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Trials(ctx, id)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) <= acked {
			t.Fatalf("round %d: %d trials in the store, but the child acknowledged trial %d", round, len(got), acked)
		}
		for i, tr := range got {
			if want := crashTrial(i); !reflect.DeepEqual(tr, want) {
				t.Fatalf("round %d: trial %d is\n%+v\nwant\n%+v", round, i, tr, want)
			}
		}
		lines, err := ReadJSONL(filepath.Join(dir, "trials.jsonl"))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(lines) <= acked {
			t.Fatalf("round %d: %d trials in trials.jsonl, child acknowledged %d", round, len(lines), acked)
		}
		t.Logf("round %d: acknowledged up to %d, store holds %d, jsonl %d", round, acked, len(got), len(lines))
	}
}

// crashChild resumes the study in dir and adds trials until it is killed,
// printing each number once Add and AppendJSONL have returned.
func crashChild(dir string) {
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	s, err := Open(ctx, filepath.Join(dir, "trials.db"))
	if err != nil {
		fail(err)
	}
	id, err := s.Study(ctx, "crash", meta)
	if err != nil {
		fail(err)
	}
	have, err := s.Trials(ctx, id)
	if err != nil {
		fail(err)
	}
	// As a resume does: make trials.jsonl match the store, then go on.
	jsonl := filepath.Join(dir, "trials.jsonl")
	if err := WriteJSONL(jsonl, have); err != nil {
		fail(err)
	}
	for n := len(have); ; n++ {
		tr := crashTrial(n)
		if err := s.Add(ctx, id, tr); err != nil {
			fail(err)
		}
		if err := AppendJSONL(jsonl, tr); err != nil {
			fail(err)
		}
		fmt.Println(n)
	}
}

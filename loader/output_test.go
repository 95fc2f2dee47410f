package loader_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestKeyNeverShown runs against a server that echoes the Authorization
// header back in every way Dify can report an error, then looks for the
// key in everything the loader produces.
func TestKeyNeverShown(t *testing.T) {
	leakcheck.Check(t)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch n.Add(1) % 5 {
		case 0:
			writeJSON(w, 401, map[string]any{"code": "unauthorized", "message": "bad token " + auth, "status": 401})
		case 1:
			writeJSON(w, 400, map[string]any{"code": auth, "message": auth, "status": 400})
		case 2:
			sse(w, msg, fmt.Sprintf("data: {\"event\":\"error\",\"code\":%q,\"message\":%q}\n\n", auth, auth))
		case 3:
			http.Error(w, strings.Repeat("x", 290)+auth, 500) // the key straddles the example's cut
		case 4:
			sse(w, "data: {\"event\":\"workflow_finished\",\"data\":{\"status\":\"failed\",\"error\":\""+auth+"\"}}\n\n")
		}
	}))
	t.Cleanup(srv.Close)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Duration = 300 * time.Millisecond
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Errors) != 5 {
		t.Errorf("errors %v", s.Errors)
	}
	var out bytes.Buffer
	if err := json.NewEncoder(&out).Encode(s); err != nil {
		t.Fatal(err)
	}
	for _, w := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return s.WriteStatsCSV(b) },
		func(b *bytes.Buffer) error { return s.WriteTimelineCSV(b) },
		func(b *bytes.Buffer) error { return s.WriteErrorsCSV(b) },
	} {
		if err := w(&out); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(&out, "%v %+v %#v %s %q %x %d", cfg, cfg, cfg, cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey)
	b, _ := json.Marshal(cfg.APIKey)
	out.Write(b)
	bad := cfg
	bad.BaseURL, bad.Users = "ftp://x", -1
	out.WriteString(loader.Config{APIKey: testKey}.Validate().Error())
	out.WriteString(bad.Validate().Error())
	if strings.Contains(out.String(), testKey) || strings.Contains(out.String(), testKey[:12]) {
		t.Errorf("key in output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Errorf("no [REDACTED] in output:\n%s", out.String())
	}
}

func TestValidate(t *testing.T) {
	sc := &loader.Chat{}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		cfg  loader.Config
		want []string // substrings of the error; none means valid
	}{
		{"users", loader.Config{BaseURL: "http://h/v1", Scenario: sc, Users: 1, Duration: ms}, nil},
		{"stages", loader.Config{BaseURL: "http://h/v1", Scenario: sc, Stages: []loader.Stage{{1, ms}, {2, ms}}}, nil},
		{"rate", loader.Config{BaseURL: "http://h/v1", Scenario: sc, Rate: 10, Duration: ms}, nil},
		{"everything wrong", loader.Config{BaseURL: "h", Users: -1, ThinkMin: 2, ThinkMax: 1, Timeout: -1},
			[]string{"base url", "no scenario", "negative", "think time", "timeouts"}},
		{"rate and users", loader.Config{BaseURL: "http://h", Scenario: sc, Rate: 1, Users: 1, Duration: ms}, []string{"excludes"}},
		{"no load", loader.Config{BaseURL: "http://h", Scenario: sc, Duration: ms}, []string{"need users"}},
		{"stages and duration", loader.Config{BaseURL: "http://h", Scenario: sc, Stages: []loader.Stage{{1, ms}}, Duration: ms}, []string{"stages set"}},
		{"stages and users", loader.Config{BaseURL: "http://h", Scenario: sc, Stages: []loader.Stage{{1, ms}}, Users: 3}, []string{"stages set"}},
		{"retrieval without dataset", loader.Config{BaseURL: "http://h", Scenario: &loader.Retrieval{}, Users: 1, Duration: ms}, []string{"dataset id"}},
		{"bad stage", loader.Config{BaseURL: "http://h", Scenario: sc, Stages: []loader.Stage{{1, 0}}}, []string{"stage 1"}},
		{"no window", loader.Config{BaseURL: "http://h", Scenario: sc, Users: 10, SpawnRate: 1, Duration: 5 * time.Second}, []string{"no measured window"}},
		{"warm-up too long", loader.Config{BaseURL: "http://h", Scenario: sc, Rate: 1, WarmUp: time.Second, Duration: time.Second}, []string{"no measured window"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

func TestReadQueriesFile(t *testing.T) {
	qs, err := loader.ReadQueriesFile("testdata/queries.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"你好，请介绍一下你自己。", "What is Dify?", "trailing spaces kept inside"}
	if fmt.Sprint(qs) != fmt.Sprint(want) {
		t.Errorf("%q, want %q", qs, want)
	}
	if _, err := loader.ReadQueries(strings.NewReader("\n \n")); err == nil {
		t.Error("no error for a file of blank lines")
	}
	if _, err := loader.ReadQueriesFile("testdata/missing.txt"); err == nil {
		t.Error("no error for a missing file")
	}
}

// TestRetrievalRequest checks the body the knowledge API gets.
func TestRetrievalRequest(t *testing.T) {
	long := strings.Repeat("检", 300)
	req, err := (&loader.Retrieval{DatasetID: "ds-1", TopK: 5}).Request(t.Context(), "http://h/v1", loader.Call{Query: long})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Query          string         `json:"query"`
		RetrievalModel map[string]any `json:"retrieval_model"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if req.URL.String() != "http://h/v1/datasets/ds-1/retrieve" || body.Query != long[:250*len("检")] {
		t.Errorf("%s, query of %d bytes", req.URL, len(body.Query))
	}
	want := map[string]any{"search_method": "hybrid_search", "reranking_enable": false, "top_k": 5.0, "score_threshold_enabled": false}
	if fmt.Sprint(body.RetrievalModel) != fmt.Sprint(want) {
		t.Errorf("retrieval_model %v", body.RetrievalModel)
	}
}

// TestCSVGolden pins the CSV layout; run with -update to rewrite.
func TestCSVGolden(t *testing.T) {
	s := &loader.Summary{
		TPS: 41.5, Completed: 83, Failed: 2, ErrorRate: 2.0 / 85,
		Errors:          map[string]int64{"timeout": 1, "http_429_too_many_requests": 1},
		ErrorExamples:   map[string]string{"timeout": "timeout: context deadline exceeded", "http_429_too_many_requests": "http_429_too_many_requests: Too many requests, \"slow\""},
		TTFB:            loader.Percentiles{Count: 83, P50: 1.25, P90: 2, P95: 2.5, P99: 3, Max: 3.1},
		TTFT:            loader.Percentiles{Count: 83, P50: 11, P90: 12, P95: 13, P99: 14, Max: 15},
		Total:           loader.Percentiles{Count: 83, P50: 200.064, P90: 201, P95: 202, P99: 203, Max: 204},
		EventsPerStream: loader.Percentiles{Count: 83, P50: 21, P90: 21, P95: 21, P99: 21, Max: 21},
		Timeline:        []loader.Second{{T: 0, Completed: 40, Users: 10, InFlight: 10}, {T: 1, Completed: 43, Failed: 2, Users: 10, InFlight: 9}},
	}
	dir := t.TempDir()
	if err := s.WriteCSV(filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"run_stats.csv", "run_history.csv", "run_failures.csv"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
		}
	}
}

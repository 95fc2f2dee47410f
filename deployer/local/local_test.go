package local_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tune-dify/tune/deployer/local"
	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/loader/sse"
	"github.com/tune-dify/tune/spaces"
)

const key = "app-emulate-TEST-0123456789abcdef"

// system resolves spaces/presets/<id>.yaml at budget against the seed's space.
func system(t testing.TB, id, budget string) (spaces.System, spaces.Workload) {
	t.Helper()
	sp, err := spaces.Load(filepath.Join("..", "..", "spaces", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := spaces.ParseBudget(budget)
	if err != nil {
		t.Fatal(err)
	}
	c, err := spaces.LoadConfig(filepath.Join("..", "..", "spaces", "presets", id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := sp.Resolve(b, sp.Complete(c))
	if err != nil {
		t.Fatal(err)
	}
	return sys, sp.Load
}

func start(t *testing.T, opts local.Options) *local.Server {
	t.Helper()
	if opts.System.Services == nil {
		opts.System, _ = system(t, "s8-final", "8c16g")
	}
	if opts.Keys == nil {
		opts.Keys = []string{key}
	}
	srv, err := local.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func post(t *testing.T, url, auth, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// events reads a whole stream: each event's name (Dify's "event" field, or
// the SSE type of a bare `event: ping`) and its JSON.
func events(t *testing.T, r io.Reader) (names []string, data []map[string]any) {
	t.Helper()
	dec := sse.NewDecoder(r, sse.WithEmptyEventFunc(func(typ string) {
		names, data = append(names, typ), append(data, nil)
	}))
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			return names, data
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			t.Fatalf("event %q is not JSON: %v", ev.Data, err)
		}
		if bytes.Contains(ev.Data, []byte(": ")) || bytes.Contains(ev.Data, []byte("\n")) {
			t.Errorf("event is not compact JSON: %s", ev.Data)
		}
		names, data = append(names, m["event"].(string)), append(data, m)
	}
}

func TestChatflowStreamHasDifyShape(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{Ping: 300 * time.Microsecond})
	resp := post(t, srv.URL()+"/chat-messages", key,
		`{"inputs":{},"query":"hello","response_mode":"streaming","user":"tune-1","conversation_id":"c-42"}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	names, data := events(t, resp.Body)
	var content []string
	var answer strings.Builder
	pings := 0
	for i, n := range names {
		switch n {
		case "ping":
			pings++
		case "message":
			answer.WriteString(data[i]["answer"].(string))
			fallthrough
		default:
			content = append(content, n)
			if data[i]["conversation_id"] != "c-42" {
				t.Errorf("%s: conversation_id %v, want the one sent", n, data[i]["conversation_id"])
			}
		}
	}
	want := []string{"workflow_started", "node_started", "node_finished", "node_started"}
	if len(content) < 8 || strings.Join(content[:4], ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want to begin %v", content, want)
	}
	tail := content[len(content)-3:]
	if strings.Join(tail, ",") != "node_finished,message_end,workflow_finished" {
		t.Errorf("events end %v", tail)
	}
	if got := data[len(data)-1]["data"].(map[string]any)["status"]; got != "succeeded" {
		t.Errorf("workflow_finished status %v", got)
	}
	if answer.Len() == 0 || content[4] != "message" {
		t.Errorf("no message chunks: %v", content)
	}
	if pings == 0 {
		t.Error("no ping on a stream longer than the ping interval")
	}
	end := data[len(data)-2]
	if _, ok := end["metadata"].(map[string]any)["usage"]; !ok {
		t.Errorf("message_end without metadata.usage: %v", end)
	}
}

func TestAgentAndWorkflowShapes(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{App: "agent"})
	resp := post(t, srv.URL()+"/chat-messages", key, `{"inputs":{},"query":"weather?","response_mode":"streaming","user":"u"}`)
	names, _ := events(t, resp.Body)
	if names[0] != "agent_thought" || names[1] != "agent_message" || names[len(names)-1] != "message_end" {
		t.Errorf("agent events %v", names)
	}
	resp = post(t, srv.URL()+"/workflows/run", key, `{"inputs":{},"response_mode":"streaming","user":"u"}`)
	names, _ = events(t, resp.Body)
	if names[0] != "workflow_started" || !strings.Contains(strings.Join(names, ","), "text_chunk") || names[len(names)-1] != "workflow_finished" {
		t.Errorf("workflow events %v", names)
	}
	resp = post(t, srv.URL()+"/chat-messages", key, `{"inputs":{},"query":"hi","response_mode":"blocking","user":"u"}`)
	var blocking map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&blocking); err != nil || blocking["mode"] != "agent-chat" || blocking["answer"] == "" {
		t.Errorf("blocking: %v %v", blocking, err)
	}
}

func TestRetrieval(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{})
	resp := post(t, srv.URL()+"/datasets/kb-1/retrieve", key,
		`{"query":"pricing","retrieval_model":{"search_method":"hybrid_search","reranking_enable":false,"top_k":4,"score_threshold_enabled":false}}`)
	var body struct {
		Query   struct{ Content string }
		Records []struct {
			Segment map[string]any
			Score   float64
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body.Query.Content != "pricing" || len(body.Records) != 4 || body.Records[0].Segment["dataset_id"] != "kb-1" {
		t.Errorf("status %d, body %+v", resp.StatusCode, body)
	}
	resp = post(t, srv.URL()+"/datasets/kb-1/retrieve", key, `{"query":"`+strings.Repeat("q", 251)+`"}`)
	assertDifyError(t, resp, 400, "invalid_param")
}

func assertDifyError(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	var e struct {
		Code    string
		Message string
		Status  int
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("status %d: body is not Dify's error JSON: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != status || e.Code != code || e.Status != status || e.Message == "" {
		t.Errorf("got %d %+v, want %d %s", resp.StatusCode, e, status, code)
	}
}

func TestRefusals(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{})
	chat := `{"inputs":{},"query":"hi","response_mode":"streaming","user":"u"}`
	assertDifyError(t, post(t, srv.URL()+"/chat-messages", "app-wrong", chat), 401, "unauthorized")
	assertDifyError(t, post(t, srv.URL()+"/chat-messages", "", chat), 401, "unauthorized")
	assertDifyError(t, post(t, srv.URL()+"/chat-messages", key, `{"query":""`), 400, "invalid_param")
	assertDifyError(t, post(t, srv.URL()+"/chat-messages", key, `{"query":"hi","response_mode":"streaming"}`), 400, "invalid_param")
	assertDifyError(t, post(t, srv.URL()+"/nope", key, chat), 404, "not_found")
}

func TestTooManyRequests(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{MaxActive: 2})
	cfg := loader.Config{BaseURL: srv.URL(), APIKey: key, Scenario: &loader.Chat{}, Users: 12, Duration: 3 * time.Second}
	sum, err := loader.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors["http_429_too_many_requests"] == 0 || sum.Completed == 0 {
		t.Errorf("12 users against max 2 active: completed %d, errors %v", sum.Completed, sum.Errors)
	}
}

// TestModelFailuresReachTheClient: six api replicas of eight workers with no
// pgbouncer exhaust PostgreSQL's connections (the seed's storm); the
// clients see Dify's failures: 500 before the stream or a failed workflow
// and an error event inside it.
func TestModelFailuresReachTheClient(t *testing.T) {
	if testing.Short() {
		t.Skip("a 6 s load")
	}
	leakcheck.Check(t)
	sys, _ := system(t, "s16-storm", "16c32g")
	srv := start(t, local.Options{System: sys})
	cfg := loader.Config{BaseURL: srv.URL(), APIKey: key, Scenario: &loader.Chat{}, Users: 150, SpawnRate: 100,
		Duration: 6 * time.Second, ThinkMin: 100 * time.Millisecond, ThinkMax: 300 * time.Millisecond}
	sum, err := loader.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	failed := sum.Errors["http_500_internal_server_error"] + sum.Errors[loader.KindWorkflowFailed] + sum.Errors[loader.KindErrorEvent]
	if failed == 0 || sum.Completed == 0 {
		t.Errorf("storm: completed %d, errors %v", sum.Completed, sum.Errors)
	}
	for kind := range sum.Errors {
		if !strings.HasPrefix(kind, "http_500") && kind != loader.KindWorkflowFailed && kind != loader.KindErrorEvent {
			t.Errorf("unexpected error kind %q (%v)", kind, sum.ErrorExamples[kind])
		}
	}
}

func TestOOMConfigurationDoesNotStart(t *testing.T) {
	sys, _ := system(t, "s8-final", "8c16g")
	a := sys.Services["api"]
	a.Memory = 512
	sys.Services["api"] = a
	_, err := local.Start("127.0.0.1:0", local.Options{System: sys, Keys: []string{key}})
	var oom *sim.OOMError
	if !errors.As(err, &oom) || oom.Service != "api" {
		t.Fatalf("err %v, want the api's OOM", err)
	}
}

// TestCloseEndsOpenStreams: closing the server ends a stream in flight
// promptly, leaking nothing.
func TestCloseEndsOpenStreams(t *testing.T) {
	leakcheck.Check(t)
	sys, _ := system(t, "s8-initial", "8c16g")
	srv, err := local.Start("127.0.0.1:0", local.Options{System: sys, Keys: []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", srv.URL()+"/chat-messages",
				strings.NewReader(`{"query":"hi","response_mode":"streaming","user":"u"}`))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, bufio.NewReader(resp.Body))
				resp.Body.Close()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
	if d := time.Since(t0); d > 6*time.Second {
		t.Errorf("close took %v", d)
	}
}

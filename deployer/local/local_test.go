package local_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
// the SSE type of a bare `event: ping`) and its JSON. Every event must open
// with its name, as Dify's dicts do, so a client can tell it from the
// first bytes.
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
		name, _ := m["event"].(string)
		if !bytes.HasPrefix(ev.Data, []byte(`{"event":"`+name+`",`)) {
			t.Errorf("event does not open with its name: %.80s", ev.Data)
		}
		names, data = append(names, name), append(data, m)
	}
}

// content drops the pings.
func content(names []string, data []map[string]any) ([]string, []map[string]any) {
	var n []string
	var d []map[string]any
	for i := range names {
		if names[i] != "ping" {
			n, d = append(n, names[i]), append(d, data[i])
		}
	}
	return n, d
}

func TestChatflowStreamHasDifyShape(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{})
	resp := post(t, srv.URL()+"/chat-messages", key,
		`{"inputs":{},"query":"hello","response_mode":"streaming","user":"tune-1","conversation_id":"c-42"}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	names, data := content(events(t, resp.Body))
	want := "workflow_started,node_started,node_finished,node_started," + strings.Repeat("message,", 20) +
		"node_finished,workflow_finished,message_end"
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("events\n%s\nwant\n%s", got, want)
	}
	var answer strings.Builder
	msg := data[len(data)-1]["message_id"]
	for i, n := range names {
		if data[i]["conversation_id"] != "c-42" || data[i]["message_id"] != msg {
			t.Errorf("%s: conversation_id %v message_id %v, want the one sent and one message", n, data[i]["conversation_id"], data[i]["message_id"])
		}
		if n == "message" {
			answer.WriteString(data[i]["answer"].(string))
			if data[i]["id"] != msg {
				t.Errorf("message id %v, want the message's %v", data[i]["id"], msg)
			}
		}
	}
	wf := data[len(data)-2]["data"].(map[string]any)
	if wf["status"] != "succeeded" || wf["outputs"].(map[string]any)["answer"] != answer.String() || !strings.Contains(answer.String(), "模拟") {
		t.Errorf("workflow_finished %v, answer %q", wf, answer.String())
	}
	end := data[len(data)-1]
	if _, ok := end["metadata"].(map[string]any)["usage"]; !ok || end["id"] != msg || end["files"] == nil {
		t.Errorf("message_end without metadata.usage, id or files: %v", end)
	}
}

// TestEventsEachInTheirOwnWrite reads the raw HTTP/1.1 response: every
// chunk of the chunked body holds exactly one event, as Dify flushes each
// event its generator yields.
func TestEventsEachInTheirOwnWrite(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{})
	conn, err := net.DialTimeout("tcp", srv.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := `{"inputs":{},"query":"hi","response_mode":"streaming","user":"u"}`
	fmt.Fprintf(conn, "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", key, len(body), body)
	br := bufio.NewReader(conn)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	chunks := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%x", &n); err != nil {
			t.Fatalf("chunk size %q: %v", line, err)
		}
		if n == 0 {
			break
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		ev := string(b[:n])
		if !strings.HasSuffix(ev, "\n\n") || strings.Count(ev, "\n\n") != 1 {
			t.Errorf("chunk %d is not one event: %q", chunks, ev)
		}
		chunks++
	}
	if chunks != 27 {
		t.Errorf("%d chunks, want 27 (one per event)", chunks)
	}
}

func TestAgentIsTheSeedsChatflow(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{App: local.AppAgent})
	resp := post(t, srv.URL()+"/chat-messages", key, `{"inputs":{},"query":"weather?","response_mode":"streaming","user":"u"}`)
	names, data := content(events(t, resp.Body))
	var types []string
	for i, n := range names {
		if n == "node_started" {
			types = append(types, data[i]["data"].(map[string]any)["node_type"].(string))
		}
	}
	if got := strings.Join(types, ","); got != "start,if-else,llm,tool,tool,http-request,http-request,answer" {
		t.Errorf("node types %s", got)
	}
	if names[len(names)-2] != "workflow_finished" || names[len(names)-1] != "message_end" {
		t.Errorf("agent events %v", names)
	}
	resp = post(t, srv.URL()+"/chat-messages", key, `{"inputs":{},"query":"hi","response_mode":"blocking","user":"u"}`)
	var blocking map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&blocking); err != nil || blocking["mode"] != "advanced-chat" || blocking["answer"] == "" {
		t.Errorf("blocking: %v %v", blocking, err)
	}
}

func TestWorkflowApp(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{App: local.AppWorkflow})
	resp := post(t, srv.URL()+"/workflows/run", key, `{"inputs":{"question":"q"},"response_mode":"streaming","user":"u"}`)
	names, data := content(events(t, resp.Body))
	want := "workflow_started,node_started,node_finished,node_started," + strings.Repeat("text_chunk,", 20) +
		"node_finished,node_started,node_finished,workflow_finished"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("workflow events\n%s\nwant\n%s", got, want)
	}
	for i, n := range names {
		if data[i]["workflow_run_id"] == nil || data[i]["conversation_id"] != nil {
			t.Errorf("%s: a workflow app's events carry workflow_run_id, no conversation: %v", n, data[i])
		}
	}
	assertDifyError(t, post(t, srv.URL()+"/chat-messages", key, `{"inputs":{},"query":"hi","response_mode":"streaming","user":"u"}`), 400, "not_chat_app")
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
	assertDifyError(t, post(t, srv.URL()+"/workflows/run", key, `{"inputs":{},"response_mode":"streaming","user":"u"}`), 400, "not_workflow_app")
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

// TestLoaderSkimsTheEmulatorsStreams: tune load's fast path works on the
// emulator's bytes: of a chatflow stream's 27 events only the four that
// decide the outcome are decoded, the rest recognised from their first
// bytes and skimmed. The load runs 6 s: a chatflow stream on the
// emulator's baseline takes about a second, and on a CI machine busy with
// race-instrumented tests a 1.5 s load once completed none.
func TestLoaderSkimsTheEmulatorsStreams(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, local.Options{})
	cfg := loader.Config{BaseURL: srv.URL(), APIKey: key, Scenario: &loader.Chat{}, Users: 2, Duration: 6 * time.Second}
	sum, err := loader.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d streams, %d events, %d skimmed", sum.Completed, sum.Events, sum.Skimmed)
	if sum.Completed == 0 || sum.Failed > 0 || float64(sum.Skimmed) < 0.8*float64(sum.Events) {
		t.Errorf("%d streams (%d failed %v), %d events, %d skimmed: want 23 of every 27 skimmed",
			sum.Completed, sum.Failed, sum.Errors, sum.Events, sum.Skimmed)
	}
}

// One system serves several apps, each behind its own key, as one Dify
// does for a mixed load: the key decides the app, and so the route it
// answers and the events it streams.
func TestAppKeys(t *testing.T) {
	leakcheck.Check(t)
	const agentKey, flowKey = "app-agent-TEST-0123456789", "app-workflow-TEST-0123456789"
	srv := start(t, local.Options{AppKeys: map[string]string{agentKey: local.AppAgent, flowKey: local.AppWorkflow}})
	chat := `{"inputs":{},"query":"hi","response_mode":"streaming","user":"u"}`
	plain, _ := content(events(t, post(t, srv.URL()+"/chat-messages", key, chat).Body))
	agent, _ := content(events(t, post(t, srv.URL()+"/chat-messages", agentKey, chat).Body))
	if len(agent) <= len(plain) || plain[0] != "workflow_started" || agent[0] != "workflow_started" {
		t.Errorf("the agent key's stream %v; the chatflow key's %v: want the agent's longer graph", agent, plain)
	}
	assertDifyError(t, post(t, srv.URL()+"/chat-messages", flowKey, chat), 400, "not_chat_app")
	resp := post(t, srv.URL()+"/workflows/run", flowKey, `{"inputs":{},"response_mode":"streaming","user":"u"}`)
	if names, _ := content(events(t, resp.Body)); len(names) == 0 || names[len(names)-1] != "workflow_finished" {
		t.Errorf("the workflow key's run: %v", names)
	}
	assertDifyError(t, post(t, srv.URL()+"/workflows/run", agentKey, `{"inputs":{},"response_mode":"streaming","user":"u"}`), 400, "not_workflow_app")
	if _, err := local.Start("127.0.0.1:0", local.Options{AppKeys: map[string]string{agentKey: "batch"}}); err == nil {
		t.Error("a key for an unknown app was accepted")
	}
}

package loader_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tune-dify/tune/loader"
)

const testKey = "app-TESTKEY-s3cr3t-0123456789"

// dify is a well-behaved Dify-like server: it checks the key, then streams
// a chatflow's events (with a ping), a workflow's, or retrieval JSON.
type dify struct {
	chunks int           // message chunks per stream
	gap    time.Duration // between events

	mu       sync.Mutex
	times    []time.Duration // per chat stream, handler start → message_end flushed
	users    map[string]int
	convs    []string
	arrivals []arrival
}

type arrival struct {
	at   time.Time
	user string
}

func newDify(t testing.TB, d *dify) *httptest.Server {
	d.users = map[string]int{}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (d *dify) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		writeJSON(w, 401, map[string]any{"code": "unauthorized", "message": "Access token is invalid", "status": 401})
		return
	}
	var body struct {
		Query          string         `json:"query"`
		User           string         `json:"user"`
		ResponseMode   string         `json:"response_mode"`
		Inputs         map[string]any `json:"inputs"`
		ConversationID string         `json:"conversation_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || (body.ResponseMode != "streaming" && !strings.HasSuffix(r.URL.Path, "/retrieve")) {
		writeJSON(w, 400, map[string]any{"code": "invalid_param", "message": "bad body", "status": 400})
		return
	}
	d.mu.Lock()
	d.users[body.User]++
	d.arrivals = append(d.arrivals, arrival{time.Now(), body.User})
	d.convs = append(d.convs, body.ConversationID)
	d.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/retrieve") {
		writeJSON(w, 200, map[string]any{"query": map[string]any{"content": body.Query},
			"records": []any{map[string]any{"segment": map[string]any{"content": "x"}, "score": 0.9}}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(200)
	f := w.(http.Flusher)
	start := time.Now()
	var end time.Duration // when message_end was flushed
	send := func(s string) {
		if r.Context().Err() != nil {
			return // the client is gone: stop, so that Close does not wait
		}
		if d.gap > 0 {
			time.Sleep(d.gap)
		}
		fmt.Fprint(w, s)
		f.Flush()
		if strings.Contains(s, "message_end") {
			end = time.Since(start)
		}
	}
	ev := func(name, extra string) string {
		return fmt.Sprintf("data: {\"event\":%q,\"task_id\":\"t1\",\"conversation_id\":\"c-%s\"%s}\n\n", name, body.User, extra)
	}
	if r.URL.Path == "/v1/workflows/run" {
		send(ev("workflow_started", `,"data":{"id":"w"}`))
		for range d.chunks {
			send(ev("text_chunk", `,"data":{"text":"词"}`))
		}
		send(ev("workflow_finished", `,"data":{"status":"succeeded","outputs":{"text":"x"}}`))
	} else {
		send(ev("workflow_started", `,"data":{"id":"w"}`))
		fmt.Fprint(w, "event: ping\n\n")
		content := "message"
		if strings.Contains(body.Query, "agent") {
			content = "agent_message"
			send(ev("agent_thought", `,"thought":"thinking"`))
		}
		for range d.chunks {
			send(ev(content, `,"answer":"你好"`))
		}
		send(ev("message_end", `,"metadata":{"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}`))
		send(ev("workflow_finished", `,"data":{"status":"succeeded","error":null}`))
	}
	d.mu.Lock()
	d.times = append(d.times, end)
	d.mu.Unlock()
}

// config is a short closed-loop run against base with the test key.
func config(base string, sc loader.Scenario) loader.Config {
	return loader.Config{
		BaseURL:  base + "/v1",
		APIKey:   testKey,
		Scenario: sc,
		Users:    4,
		Duration: 500 * time.Millisecond,
		Timeout:  2 * time.Second,
	}
}

package loader_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/spaces"
)

// apps is a Dify serving three apps with their own keys, as one
// deployment does: two chat apps (chatKey, agentKey) and a knowledge base
// (datasetKey). A key used on another app's route is refused. It records
// which key and route each connection (each virtual user keeps its own)
// and each chat user used.
type apps struct {
	mu    sync.Mutex
	conns map[string]map[string]bool // remote address → "key route"
	users map[string]map[string]bool // chat body's user → key
}

const (
	chatKey    = "app-CHAT-0123456789"
	agentKey   = "app-AGENT-0123456789"
	datasetKey = "dataset-KB-0123456789"
)

func (a *apps) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User string `json:"user"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	add(a.conns, r.RemoteAddr, key+" "+r.URL.Path)
	if body.User != "" {
		add(a.users, body.User, key)
	}
	a.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/retrieve") && key == datasetKey:
		writeJSON(w, 200, map[string]any{"query": map[string]any{"content": "q"},
			"records": []any{map[string]any{"segment": map[string]any{"content": "x"}, "score": 0.9}}})
	case r.URL.Path == "/v1/chat-messages" && (key == chatKey || key == agentKey):
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(200)
		fmt.Fprint(w, "data: {\"event\":\"message\",\"answer\":\"hi\"}\n\n")
		fmt.Fprint(w, "data: {\"event\":\"message_end\",\"id\":\"m\"}\n\n")
	default:
		writeJSON(w, 401, map[string]any{"code": "unauthorized", "message": "Access token is invalid", "status": 401})
	}
}

func add(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

// Each user of a mix stays with its app and its app's key (or the run's,
// for a part without one), and the users split by weight as spaces.Split
// says.
func TestMixUsersKeepTheirApp(t *testing.T) {
	a := &apps{conns: map[string]map[string]bool{}, users: map[string]map[string]bool{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	m, err := loader.NewMix([]loader.MixPart{
		{Name: "chatflow", Weight: 60, Scenario: &loader.Chat{}}, // the run's key
		{Name: "agent", Weight: 30, Scenario: &loader.Chat{}, Key: agentKey},
		{Name: "retrieval", Weight: 10, Scenario: &loader.Retrieval{DatasetID: "kb"}, Key: datasetKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loader.Config{BaseURL: srv.URL + "/v1", APIKey: chatKey, Scenario: m, Users: 10,
		Duration: 400 * time.Millisecond, ThinkMin: 10 * time.Millisecond, ThinkMax: 20 * time.Millisecond, Timeout: 2 * time.Second}
	sum, err := loader.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed > 0 || sum.Completed == 0 {
		t.Fatalf("%d completed, %d failed: %v", sum.Completed, sum.Failed, sum.ErrorExamples)
	}
	split := spaces.NewSplit([]spaces.Part{{Scenario: "chatflow", Weight: 60}, {Scenario: "agent", Weight: 30}, {Scenario: "retrieval", Weight: 10}})
	a.mu.Lock()
	defer a.mu.Unlock()
	retrievers := 0
	for addr, used := range a.conns {
		if len(used) != 1 {
			t.Errorf("connection %s used %v; a user keeps one app", addr, slices.Sorted(maps.Keys(used)))
		}
		if used[datasetKey+" /v1/datasets/kb/retrieve"] {
			retrievers++
		}
	}
	if retrievers != 1 {
		t.Errorf("%d users retrieved; want 1 of 10", retrievers)
	}
	if len(a.users) != 9 {
		t.Errorf("%d chat users; want 9 of 10", len(a.users))
	}
	for user, keys := range a.users {
		var n int
		if _, err := fmt.Sscanf(user, "tune-%d", &n); err != nil {
			t.Fatalf("user %q", user)
		}
		want := map[int]string{0: chatKey, 1: agentKey}[split.Of(n-1)]
		if len(keys) != 1 || !keys[want] {
			t.Errorf("%s (part %d) used keys %d, want only its app's", user, split.Of(n-1), len(keys))
		}
	}
}

func TestNewMixRefuses(t *testing.T) {
	for name, parts := range map[string][]loader.MixPart{
		"no parts":    nil,
		"no scenario": {{Name: "chatflow", Weight: 1}},
		"weight 0":    {{Name: "chatflow", Scenario: &loader.Chat{}}},
	} {
		if _, err := loader.NewMix(parts); !errors.Is(err, loader.ErrMix) {
			t.Errorf("%s: error %v, want ErrMix", name, err)
		}
	}
	m, err := loader.NewMix([]loader.MixPart{{Name: "retrieval", Weight: 1, Scenario: &loader.Retrieval{}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loader.Config{BaseURL: "http://127.0.0.1:1/v1", Scenario: m, Users: 1, Duration: time.Second}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "mix part retrieval: loader: retrieval needs a dataset id") {
		t.Errorf("a retrieval part without a knowledge base: %v", err)
	}
}

// A server that echoes the key it was sent, in its error body and code,
// shows none of a mix's keys in the run's error examples or kinds: each
// app's key is as secret as the run's own.
func TestMixKeysNeverInTheSummary(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"code": "bad_%s", "message": "invalid key %s", "status": 401}`, key, key)
	}))
	t.Cleanup(srv.Close)
	m, err := loader.NewMix([]loader.MixPart{
		{Name: "chatflow", Weight: 1, Scenario: &loader.Chat{}},
		{Name: "agent", Weight: 1, Scenario: &loader.Chat{}, Key: agentKey},
		{Name: "retrieval", Weight: 1, Scenario: &loader.Retrieval{DatasetID: "kb"}, Key: datasetKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := loader.Run(context.Background(), loader.Config{BaseURL: srv.URL + "/v1", APIKey: chatKey, Scenario: m,
		Users: 3, Duration: 300 * time.Millisecond, ThinkMin: 10 * time.Millisecond, ThinkMax: 20 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed == 0 {
		t.Fatal("no failure recorded")
	}
	out, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{chatKey, agentKey, datasetKey} {
		if strings.Contains(string(out), key) {
			t.Errorf("the summary shows key %s:\n%s", key, out)
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/deployer/local"
	"github.com/tune-dify/tune/spaces"
)

// difyChat is a small Dify-shaped chat-messages endpoint: a ping, three
// message chunks and message_end, 5 ms apart; 401 for a wrong key.
func difyChat(t *testing.T, key string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat-messages" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code": "unauthorized", "message": "Access token is invalid", "status": 401}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		fmt.Fprint(w, "event: ping\n\n")
		for i := 0; i < 3; i++ {
			time.Sleep(5 * time.Millisecond)
			fmt.Fprintf(w, "data: {\"event\": \"message\", \"answer\": \"chunk %d\", \"conversation_id\": \"c1\", \"message_id\": \"m1\"}\n\n", i)
			fl.Flush()
		}
		fmt.Fprint(w, "data: {\"event\": \"message_end\", \"conversation_id\": \"c1\", \"metadata\": {\"usage\": {\"total_tokens\": 3}}}\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLoadCommand(t *testing.T) {
	const key = "app-secret-do-not-print"
	srv := difyChat(t, key)
	t.Setenv("DIFY_API_KEY", key)
	out := filepath.Join(t.TempDir(), "summary.json")
	stdout, stderr, code := runCLI(t, "load", "--url", srv.URL+"/v1", "--users", "4", "--spawn-rate", "0",
		"--duration", "1500ms", "--think-time", "10ms..20ms", "--json", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		TPS       float64 `json:"tps"`
		Completed int64   `json:"completed"`
		Total     struct {
			P50 float64 `json:"p50"`
		} `json:"total_ms"`
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Completed == 0 || sum.TPS <= 0 {
		t.Fatalf("summary %s: %v", b, err)
	}
	if sum.Total.P50 < 15 {
		t.Errorf("p50 total %.1f ms, want at least the server's 15 ms", sum.Total.P50)
	}
	for _, s := range []string{stdout, stderr, string(b)} {
		if strings.Contains(s, key) {
			t.Fatal("the API key was printed")
		}
	}

	// A wrong key is every request's failure, classified, and exit 1.
	t.Setenv("DIFY_API_KEY", "app-wrong")
	stdout, _, code = runCLI(t, "load", "--url", srv.URL+"/v1", "--users", "2", "--spawn-rate", "0", "--duration", "300ms")
	if code != exitFailed || !strings.Contains(stdout, "http_401") {
		t.Errorf("wrong key: exit %d\n%s", code, stdout)
	}
}

func TestLoadBadInput(t *testing.T) {
	t.Setenv("DIFY_API_KEY", "")
	for name, args := range map[string][]string{
		"no-url":     {"load"},
		"no-key":     {"load", "--url", "http://127.0.0.1:1/v1"},
		"think-time": {"load", "--url", "http://127.0.0.1:1/v1", "--api-key-file", "/dev/null", "--think-time", "3s..1s"},
		"stages":     {"load", "--url", "http://127.0.0.1:1/v1", "--stages", "50:1m,lots:2m"},
		"scenario":   {"load", "--url", "http://127.0.0.1:1/v1", "--scenario", "retrieval"},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := runCLI(t, args...)
			if code != exitBadInput {
				t.Errorf("exit %d, want 2: %s", code, stderr)
			}
			golden(t, "bad-load-"+name+".txt", stderr)
		})
	}
}

func FuzzParseThinkTime(f *testing.F) {
	for _, s := range []string{"1s..3s", "2s", "0s", "500ms..1s", "3s..1s", "..", "1s..", "-1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := parseThinkTime(s)
		if err == nil && (lo < 0 || hi < lo) {
			t.Fatalf("%q: accepted %v..%v", s, lo, hi)
		}
	})
}

func FuzzParseStages(f *testing.F) {
	for _, s := range []string{"50:1m,100:1m,150:1m", "1:1s", "", "50", "0:1m", "50:-1m", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stages, err := parseStages(s)
		if err != nil {
			return
		}
		for _, st := range stages {
			if st.Users < 1 || st.Duration <= 0 {
				t.Fatalf("%q: accepted %+v", s, st)
			}
		}
	})
}

// A mixed load against one emulated Dify serving two apps: each app's
// users send its own key (a key on the wrong app would be refused), and no
// key is printed.
func TestLoadMix(t *testing.T) {
	const chatKey, agentKey = "app-chat-do-not-print", "app-agent-do-not-print"
	sp, err := spaces.Load(seedSpace)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := spaces.LoadConfig("../../spaces/presets/s8-final.yaml")
	if err != nil {
		t.Fatal(err)
	}
	budget, err := spaces.ParseBudget("8c16g")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := sp.Resolve(budget, sp.Complete(cfg))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := local.Start("127.0.0.1:0", local.Options{System: sys, AppKeys: map[string]string{chatKey: local.AppChatflow, agentKey: local.AppAgent}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("DIFY_API_KEY", chatKey)
	t.Setenv("AGENT_KEY", agentKey)
	out := filepath.Join(t.TempDir(), "summary.json")
	stdout, stderr, code := runCLI(t, "load", "--url", srv.URL(), "--users", "6", "--spawn-rate", "0", "--duration", "1500ms",
		"--scenario", "chatflow=2,agent=1", "--app-key-env", "agent=AGENT_KEY", "--json", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{stdout, stderr, string(b)} {
		if strings.Contains(s, chatKey) || strings.Contains(s, agentKey) {
			t.Fatal("an API key was printed")
		}
	}
	// With a key the emulator does not know for the chatflow users, they
	// fail and the agent's users, with their own key, do not. An agent
	// stream takes seconds in real time, longer under -race on a busy
	// machine (one CI run completed none in 3 s): the window holds several.
	t.Setenv("DIFY_API_KEY", "app-unknown")
	stdout, _, code = runCLI(t, "load", "--url", srv.URL(), "--users", "3", "--spawn-rate", "0", "--duration", "8s",
		"--think-time", "100ms", "--scenario", "chatflow=2,agent=1", "--app-key-env", "agent=AGENT_KEY")
	if code != exitFailed || !strings.Contains(stdout, "http_401_unauthorized") || strings.Contains(stdout, " 0 completed") {
		t.Errorf("chatflow users with an unknown key, agent users with theirs: exit %d\n%s", code, stdout)
	}
}

func TestLoadMixBadInput(t *testing.T) {
	t.Setenv("DIFY_API_KEY", "app-x")
	t.Setenv("KB_KEY", "")
	for name, args := range map[string][]string{
		"mix-dataset": {"--scenario", "chatflow=60,retrieval=10"},
		"mix-weight":  {"--scenario", "chatflow=60,retrieval=ten"},
		"mix-app-key": {"--scenario", "chatflow=60,agent=30", "--app-key-env", "retrieval=KB_KEY"},
		"mix-no-key":  {"--scenario", "chatflow=60,retrieval=10", "--dataset", "kb", "--app-key-env", "retrieval=KB_KEY"},
		"app-key-one": {"--scenario", "agent", "--app-key-env", "agent=AGENT_KEY"},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append([]string{"load", "--url", "http://127.0.0.1:1/v1"}, args...)...)
			if code != exitBadInput {
				t.Errorf("exit %d, want 2: %s", code, stderr)
			}
			golden(t, "bad-load-"+name+".txt", stderr)
		})
	}
}

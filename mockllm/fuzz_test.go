package mockllm_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/mockllm"
)

// FuzzCompletionRequest: whatever the body, the answer is a completion
// (200: a JSON object or an event stream ending in [DONE]) or OpenAI's
// error JSON with a 4xx; never a panic or a stream cut short.
func FuzzCompletionRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","messages":[],"max_tokens":0}`, `{"n":2}`, `[]`, ``, `{"model":"m","messages":[{}],"max_completion_tokens":2}`,
	} {
		f.Add(s)
	}
	srv, err := mockllm.Start("127.0.0.1:0", mockllm.Options{TTFT: time.Nanosecond, TokensPerSecond: 1e6, Tokens: 3})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
		out := rec.Body.String()
		switch {
		case rec.Code == 200 && strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream"):
			if !strings.HasSuffix(out, "data: [DONE]\n\n") {
				t.Errorf("%q: stream ends %q", body, out[max(0, len(out)-40):])
			}
		case rec.Code == 200 || (rec.Code >= 400 && rec.Code < 500):
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Errorf("%q: %d %q is not JSON", body, rec.Code, out)
			}
			if _, isErr := v["error"]; isErr != (rec.Code != 200) {
				t.Errorf("%q: %d %s", body, rec.Code, out)
			}
		default:
			t.Errorf("%q: status %d", body, rec.Code)
		}
	})
}

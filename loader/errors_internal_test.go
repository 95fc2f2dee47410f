package loader

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestHTTPError(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		kind   string
	}{
		{400, `{"code":"invalid_param","message":"query is required","status":400}`, "http_400_invalid_param"},
		{404, `{"code":"not_found","message":"App not found","status":404}`, "http_404_not_found"},
		{400, `{"code":"app_unavailable","message":"x","status":400}`, "http_400_app_unavailable"},
		{429, `{"code":"Too Many-Requests!","message":"x","status":429}`, "http_429_toomanyrequests"},
		{500, `<html>oops</html>`, "http_500"},
		{502, ``, "http_502"},
		{400, `{"code":"app-KEY","message":"app-KEY"}`, "http_400_redacted"},
		{400, `{"code":"` + strings.Repeat("a", 100) + `"}`, "http_400_" + strings.Repeat("a", 40)},
	} {
		e := httpError(tc.status, []byte(tc.body), "app-KEY")
		if e.Kind != tc.kind || e.Status != tc.status {
			t.Errorf("%d %s: kind %q", tc.status, tc.body, e.Kind)
		}
	}
}

func TestRedact(t *testing.T) {
	long := strings.Repeat("错", 200) + "app-KEY"
	got := redact(long, "app-KEY")
	if strings.Contains(got, "app-KEY") || !utf8.ValidString(got) || len(got) > maxExample+len("…") {
		t.Errorf("%q", got)
	}
	if got := redact("token Bearer app-KEY bad", "app-KEY"); got != "token Bearer [REDACTED] bad" {
		t.Errorf("%q", got)
	}
	if got := redact("\xff", ""); got != "\uFFFD" {
		t.Errorf("%q", got)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"你好世界", 2, "你好"}, {"", 0, ""}, {"a", 0, ""}} {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q", tc.s, tc.n, got)
		}
	}
}

// FuzzHTTPError: whatever a server answers, the kind is a short, safe
// identifier and the key never shows.
func FuzzHTTPError(f *testing.F) {
	f.Add(429, []byte(`{"code":"too_many_requests","message":"slow down","status":429}`))
	f.Add(400, []byte(`{"code":"app-KEY"}`))
	f.Add(500, []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := httpError(status, body, "app-KEY")
		if strings.Contains(e.Kind, "app-KEY") || len(e.Kind) > 64 {
			t.Fatalf("kind %q", e.Kind)
		}
		for _, r := range strings.TrimPrefix(e.Kind, "http_-") {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Fatalf("kind %q", e.Kind)
			}
		}
		if ex := redact(e.Error(), "app-KEY"); strings.Contains(ex, "app-KEY") || !utf8.ValidString(ex) {
			t.Fatalf("example %q", ex)
		}
	})
}

// lateTimer is a run context whose deadline has passed while its timer has
// not fired yet, as on a machine too busy to run it on time.
type lateTimer struct{ context.Context }

func (lateTimer) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A request failing after the run's deadline is cut by the run, even before
// the deadline's timer has fired: it is not a timeout (CI once counted 66
// of them in a 2.5 s run's last second).
func TestClassifyAfterTheRunsDeadline(t *testing.T) {
	run := lateTimer{context.Background()}
	err := &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}
	if e := classify(err, run, run); e != nil {
		t.Errorf("a read failed by the run's own deadline counted as %v", e)
	}
	if e := classify(err, context.Background(), context.Background()); e == nil || e.Kind != KindTimeout {
		t.Errorf("a read timeout inside the run: %v, want %s", e, KindTimeout)
	}
}

package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// locustCommon reports each stream read to its end as a request of type
// STREAM, so that the CSV counts whole streams rather than response
// headers (with stream=True Locust records the request when headers come).
const locustCommon = `import time
from locust import %s, task

BODY = {"inputs": {}, "query": "What is Dify?", "response_mode": "streaming", "user": "bench"}
HEADERS = {"Authorization": "Bearer app-bench"}


def done(user, start, ended):
    user.environment.events.request.fire(
        request_type="STREAM", name="to message_end",
        response_time=(time.perf_counter() - start) * 1000, response_length=0,
        exception=None if ended else Exception("stream ended without message_end"), context={})

`

// locustFast reads with geventhttpclient's readline, whose separator is
// CRLF unless told otherwise, and without catch_response, which in 2.12.1
// reads the whole body before returning.
const locustFast = `
class Chat(FastHttpUser):
    @task
    def chat(self):
        start, ended = time.perf_counter(), False
        r = self.client.post("/v1/chat-messages", json=BODY, headers=HEADERS, stream=True)
        s = r.stream
        while True:
            line = s.readline(b"\n")
            if not line:
                break
            if line.startswith(b"data:") and b'"message_end"' in line:
                ended = True
        done(self, start, ended)
`

const locustHTTP = `
class Chat(HttpUser):
    @task
    def chat(self):
        start, ended = time.perf_counter(), False
        with self.client.post("/v1/chat-messages", json=BODY, headers=HEADERS, stream=True) as r:
            for line in r.iter_lines():
                if line.startswith(b"data:") and b'"message_end"' in line:
                    ended = True
        done(self, start, ended)
`

// findLocust returns the locust command, installing Debian's python3-locust
// once if it is missing and we may.
func (e *env) findLocust(ctx context.Context) (string, error) {
	if p, err := exec.LookPath("locust"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("not installed, and not root to apt-get install python3-locust")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("not installed, and no apt-get")
	}
	fmt.Fprintln(e.stderr, "locust missing: apt-get install -y python3-locust")
	if _, err := e.runLogged(ctx, 5*time.Minute, "apt-update", nil, nil, "apt-get", "update"); err != nil {
		return "", err
	}
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	if _, err := e.runLogged(ctx, 5*time.Minute, "apt-install", env, nil, "apt-get", "install", "-y", "python3-locust"); err != nil {
		return "", err
	}
	return exec.LookPath("locust")
}

// runLocust runs one user class headless for e.dur against url and returns
// the streams read to message_end and the failed ones, from its CSV, and
// its process state.
func (e *env) runLocust(ctx context.Context, locust, class, body, url string, users int, onStart func(int)) (ok, failed int64, ps *os.ProcessState, err error) {
	file := filepath.Join(e.dir, strings.ToLower(class)+".py")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(locustCommon, class)+body), 0o644); err != nil {
		return 0, 0, nil, err
	}
	prefix := filepath.Join(e.dir, strings.ToLower(class))
	n := strconv.Itoa(users)
	args := []string{"-f", file, "--headless", "--host", url, "-u", n, "-r", n,
		"-t", fmt.Sprintf("%ds", int(e.dur.Seconds())), "--stop-timeout", "2",
		"--csv", prefix, "--only-summary", "--loglevel", "WARNING"}
	name, args := e.pin(1, locust, args...)
	// Exit code 1 means some requests failed; the CSV says how many.
	ps, err = e.runLogged(ctx, e.dur+60*time.Second, strings.ToLower(class), nil, onStart, name, args...)
	if err != nil && exitCode(err) != 1 {
		return 0, 0, ps, err
	}
	f, err := os.Open(prefix + "_stats.csv")
	if err != nil {
		return 0, 0, ps, err
	}
	defer func() { _ = f.Close() }()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		return 0, 0, ps, fmt.Errorf("%s_stats.csv: %v", prefix, err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, r := range rows[1:] {
		if r[col["Type"]] != "STREAM" {
			continue
		}
		reqs, err1 := strconv.ParseInt(r[col["Request Count"]], 10, 64)
		fails, err2 := strconv.ParseInt(r[col["Failure Count"]], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, ps, fmt.Errorf("%s_stats.csv: bad counts %q", prefix, r)
		}
		return reqs - fails, fails, ps, nil
	}
	return 0, 0, ps, fmt.Errorf("%s_stats.csv: no STREAM row: no stream finished", prefix)
}

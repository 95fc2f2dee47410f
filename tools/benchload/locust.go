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

// locustSeed is FastHttpUser doing what the Locust script of the case
// study this project is calibrated on does with each stream: it decodes
// each line (iter_lines(decode_unicode=True)), counts the data: lines,
// fires a request event of its own for the time to the first data: line
// (the script's "chat-messages-ttfb"), and the total at message_end. That
// is what a Dify load test is for, and what tune load records per stream
// (time to headers, to the first token, to the end event). It reads on to
// the end of the body after message_end, as the lean script does, so its
// connection is kept rather than re-dialled.
const locustSeed = `
class Chat(FastHttpUser):
    @task
    def chat(self):
        start, ended, chunks = time.perf_counter(), False, 0
        r = self.client.post("/v1/chat-messages", json=BODY, headers=HEADERS, stream=True)
        s = r.stream
        while True:
            line = s.readline(b"\n")
            if not line:
                break
            line = line.decode()
            if line.startswith("data:") and not ended:
                if chunks == 0:
                    self.environment.events.request.fire(
                        request_type="POST", name="chat-messages-ttfb",
                        response_time=(time.perf_counter() - start) * 1000, response_length=0,
                        exception=None, context={})
                chunks += 1
                if '"message_end"' in line:
                    ended = True
                    done(self, start, True)
        if not ended:
            done(self, start, False)
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

// locustScript is one Locust client of the comparison: its user class,
// what its script records (style) and the script's task.
type locustScript struct {
	class, style, body string
	records            string // what the script records per stream, for the output
}

// locustScripts are the Locust rows, in order: FastHttpUser lean (the
// cheapest script that still reads every stream to message_end) and
// seed-style (what a Dify load test records), and HttpUser lean.
var locustScripts = []locustScript{
	{"FastHttpUser", "lean", locustFast, "reads lines to message_end and records the total only"},
	{"FastHttpUser", "seed-style", locustSeed, "decodes lines and records the time to the first data: line and the total at message_end, each as a request event, as the case study's script does"},
	{"HttpUser", "lean", locustHTTP, "reads iter_lines to message_end and records the total only"},
}

// label is the script's row name.
func (sc locustScript) label() string {
	if sc.style == "seed-style" {
		return "Locust " + sc.class + ", seed-style (TTFB + total)"
	}
	return "Locust " + sc.class + ", lean (total only)"
}

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
func (e *env) runLocust(ctx context.Context, locust string, sc locustScript, url string, users int, onStart func(int)) (ok, failed int64, ps *os.ProcessState, err error) {
	name := strings.ToLower(sc.class + "-" + sc.style)
	file := filepath.Join(e.dir, name+".py")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(locustCommon, sc.class)+sc.body), 0o644); err != nil {
		return 0, 0, nil, err
	}
	prefix := filepath.Join(e.dir, name)
	n := strconv.Itoa(users)
	args := []string{"-f", file, "--headless", "--host", url, "-u", n, "-r", n,
		"-t", fmt.Sprintf("%ds", int(e.dur.Seconds())), "--stop-timeout", "2",
		"--csv", prefix, "--only-summary", "--loglevel", "WARNING"}
	cmd, args := e.pin(1, locust, args...)
	// Exit code 1 means some requests failed; the CSV says how many.
	ps, err = e.runLogged(ctx, e.dur+60*time.Second, name, nil, onStart, cmd, args...)
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

package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tune-dify/tune/results"
)

// freeAddr is a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestEmulateThenLoad is the README's pairing: `tune emulate` in one
// process, `tune load` against it in another, with the key from the
// environment and never printed.
func TestEmulateThenLoad(t *testing.T) {
	const key = "app-emulated-do-not-print"
	t.Setenv("DIFY_API_KEY", key)
	addr := freeAddr(t)
	var eout, eerr bytes.Buffer
	done := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		err := run(ctx, []string{"emulate", "--budget", "8c16g", "--space", seedSpace,
			"--config", "../../spaces/presets/s8-final.yaml", "--listen", addr, "--for", "20s"}, &eout, &eerr)
		done <- exitCode(err)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulate did not listen: %v\n%s", err, eerr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stdout, stderr, code := runCLI(t, "load", "--url", "http://"+addr+"/v1", "--users", "5", "--spawn-rate", "0",
		"--duration", "1500ms", "--think-time", "50ms..100ms")
	if code != exitOK || !strings.Contains(stdout, "completed") {
		t.Errorf("load against the emulator: exit %d\n%s\n%s", code, stdout, stderr)
	}
	cancel() // as an interrupt would
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("emulate exit %d: %s", code, eerr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulate did not stop when interrupted")
	}
	out := eout.String()
	if !strings.Contains(out, "serving http://"+addr+"/v1 (key from $DIFY_API_KEY)") || !strings.Contains(out, "stopped; CPU utilisation api") {
		t.Errorf("emulate output:\n%s", out)
	}
	for _, s := range []string{out, eerr.String(), stdout, stderr} {
		if strings.Contains(s, key) {
			t.Fatal("the API key was printed")
		}
	}
}

func TestEmulateBadInput(t *testing.T) {
	t.Setenv("DIFY_API_KEY", "")
	for name, args := range map[string][]string{
		"no-key":    {"emulate", "--budget", "8c16g", "--space", space},
		"app":       {"emulate", "--budget", "8c16g", "--space", space, "--api-key-file", "/dev/null", "--app", "chatbot"},
		"no-budget": {"emulate", "--space", space},
	} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, args...)
			if code != exitBadInput || stdout != "" {
				t.Errorf("exit %d, want 2; stdout %q; stderr %s", code, stdout, stderr)
			}
			golden(t, "bad-emulate-"+name+".txt", stderr)
		})
	}
}

// TestLocalTargetStudy: a study whose trials are served by the emulator and
// measured by the loader over HTTP, with the load shortened by flags (to 6
// s: in a CI run busy with race-instrumented tests a 2 s load completed no
// stream).
func TestLocalTargetStudy(t *testing.T) {
	if testing.Short() {
		t.Skip("two 6 s trials over HTTP")
	}
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--target", "local", "--budget", "8c16g", "--space", space,
		"--trials", "2", "--users", "10", "--duration", "6s", "--seed", "1", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "target local") {
		t.Errorf("the study does not say its target:\n%s", stdout)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) != 2 {
		t.Fatalf("trials.jsonl: %d trials, %v", len(trials), err)
	}
	for _, tr := range trials {
		if tr.State != results.StateComplete || tr.Metrics.TPS <= 0 || tr.Metrics.P95 <= 0 {
			t.Errorf("trial %d: %s, %+v", tr.Number, tr.State, tr.Metrics)
		}
	}
	for _, f := range []string{"pareto.json", "values.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// A mixed load through the local target: each app behind its own key on
// the emulator, the study named after the mix.
func TestLocalTargetMixedStudy(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s trial over HTTP")
	}
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "--target", "local", "--budget", "16c32g", "--space", seedSpace,
		"--scenario", "chatflow=60,agent=30,retrieval=10", "--trials", "1", "--users", "10", "--duration", "2s", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if want := `study "seed-16c32g-chatflow60-agent30-retrieval10-u10-2s": budget 16c32g, target local, scenario chatflow=60,agent=30,retrieval=10`; !strings.Contains(stdout, want) {
		t.Errorf("the header does not name the mix (%s):\n%s", want, stdout)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) != 1 {
		t.Fatalf("trials.jsonl: %d trials, %v", len(trials), err)
	}
	if tr := trials[0]; tr.State != results.StateComplete || tr.Metrics.TPS <= 0 || tr.Metrics.ErrorRate > 0 || tr.Utilisation["xinference"] <= 0 {
		t.Errorf("trial: %s, %+v, utilisation %v", tr.State, tr.Metrics, tr.Utilisation)
	}
}

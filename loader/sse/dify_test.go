package sse_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tune-dify/tune/loader/sse"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the decoder's output")

// transcript decodes a stream into a readable record of everything the
// decoder reports, in order: events, keep-alives and how the stream ended.
func transcript(t *testing.T, in []byte, oneByte bool) string {
	t.Helper()
	var b strings.Builder
	r := bytes.NewReader(in)
	d := sse.NewDecoder(r,
		sse.WithCommentFunc(func(text []byte) { fmt.Fprintf(&b, "comment %q\n", text) }),
		sse.WithEmptyEventFunc(func(typ string) { fmt.Fprintf(&b, "empty event %s\n", typ) }))
	if oneByte {
		d.Reset(iotest.OneByteReader(r))
	}
	for {
		e, err := d.Next()
		if err != nil {
			fmt.Fprintf(&b, "end: %v\n", err)
			return b.String()
		}
		fmt.Fprintf(&b, "event %s id=%q %s\n", e.Type, e.ID, e.Data)
	}
}

// TestDifyStreams decodes streams shaped like Dify's chat API output
// (chatflow with ping keep-alives, an error event, a cut connection) and
// compares with golden transcripts; go test -update rewrites them.
func TestDifyStreams(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.sse")
	if len(files) == 0 {
		t.Fatal("no testdata/*.sse")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := transcript(t, in, false)
			if oneByte := transcript(t, in, true); oneByte != got {
				t.Errorf("one byte at a time differs:\n%s", oneByte)
			}
			golden := strings.TrimSuffix(f, ".sse") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("transcript differs from %s (go test -update to accept):\n%s", golden, got)
			}
		})
	}
}

// TestDifyChatflow checks what a load tester reads off a chatflow stream: the
// event sequence, the answer, the token usage and the pings.
func TestDifyChatflow(t *testing.T) {
	in, err := os.ReadFile("testdata/chatflow.sse")
	if err != nil {
		t.Fatal(err)
	}
	pings := 0
	d := sse.NewDecoder(bytes.NewReader(in), sse.WithEmptyEventFunc(func(typ string) {
		if typ == "ping" {
			pings++
		}
	}))
	var kinds []string
	var answer strings.Builder
	var usage struct {
		TotalTokens int `json:"total_tokens"`
	}
	for {
		e, err := d.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		var m struct {
			Event    string `json:"event"`
			Answer   string `json:"answer"`
			Metadata struct {
				Usage json.RawMessage `json:"usage"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(e.Data, &m); err != nil {
			t.Fatalf("event %d: %v", len(kinds), err)
		}
		kinds = append(kinds, m.Event)
		answer.WriteString(m.Answer)
		if m.Event == "message_end" {
			if err := json.Unmarshal(m.Metadata.Usage, &usage); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(kinds) != 21 || kinds[0] != "workflow_started" || kinds[len(kinds)-1] != "message_end" {
		t.Errorf("events %v", kinds)
	}
	if got := answer.String(); got != "Dify is an open-source platform for building LLM apps." {
		t.Errorf("answer %q", got)
	}
	if usage.TotalTokens != 1168 || pings != 2 {
		t.Errorf("total_tokens %d, pings %d", usage.TotalTokens, pings)
	}
}

package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tune-dify/tune/loader/sse"
)

// chatflowStream is a 21-event chatflow stream as Dify sends it.
func chatflowStream() []byte {
	var b bytes.Buffer
	b.WriteString(`data: {"event":"workflow_started","task_id":"t","workflow_run_id":"r","data":{"id":"r","workflow_id":"w","created_at":1}}` + "\n\n")
	b.WriteString(`data: {"event":"node_started","task_id":"t","workflow_run_id":"r","data":{"id":"n","node_id":"1","node_type":"start","title":"Start","index":1}}` + "\n\n")
	for i := range 16 {
		fmt.Fprintf(&b, `data: {"event":"message","task_id":"t","message_id":"m","conversation_id":"c","answer":"chunk %d ","created_at":1}`+"\n\n", i)
	}
	b.WriteString(`data: {"event":"node_finished","task_id":"t","workflow_run_id":"r","data":{"id":"n","node_id":"1","node_type":"answer","status":"succeeded"}}` + "\n\n")
	b.WriteString(`data: {"event":"message_end","task_id":"t","id":"m","message_id":"m","conversation_id":"c","metadata":{"usage":{"total_tokens":3}}}` + "\n\n")
	b.WriteString(`data: {"event":"workflow_finished","task_id":"t","workflow_run_id":"r","data":{"id":"r","status":"succeeded","outputs":{}}}` + "\n\n")
	return b.Bytes()
}

// BenchmarkChatRead is the client's per-stream parsing: one 21-event
// chatflow stream read to its end, with no network.
func BenchmarkChatRead(b *testing.B) {
	body := chatflowStream()
	r := bytes.NewReader(body)
	dec := sse.NewDecoder(nil)
	resp := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(r)}
	c := &Chat{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(body)
		dec.Reset(r)
		s := Stream{Resp: resp, dec: dec}
		if err := c.Read(&s); err != nil {
			b.Fatal(err)
		}
	}
}

// readChat reads body as a chatflow stream.
func readChat(body string) error {
	dec := sse.NewDecoder(strings.NewReader(body))
	resp := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(strings.NewReader(""))}
	s := Stream{Resp: resp, dec: dec}
	return (&Chat{}).Read(&s)
}

// TestSkimmedEventsStillJudged: the fast path that skips decoding answer
// chunks never hides an end, an error or a chunk cut short.
func TestSkimmedEventsStillJudged(t *testing.T) {
	chunk := `data: {"event":"message","answer":"hi"}` + "\n\n"
	end := `data: {"event":"message_end","metadata":{}}` + "\n\n"
	cases := []struct {
		name, body, kind string
	}{
		{"ok", chunk + chunk + end, ""},
		{"spaced JSON", `data: {"event": "message", "answer": "hi"}` + "\n\n" + `data: {"event": "message", "answer": "x"}` + "\n\n" + end, ""},
		{"chunk cut short", chunk + `data: {"event":"message","answer":"h` + "\n\n" + end, KindMalformed},
		{"error event type", chunk + "event: error\ndata: {\"event\":\"message\",\"code\":\"quota\",\"message\":\"no\"}\n\n" + end, KindErrorEvent},
		{"error event", chunk + `data: {"event":"error","status":500,"code":"x","message":"boom"}` + "\n\n", KindErrorEvent},
		{"no end", chunk + chunk, KindNoEndEvent},
		{"failed workflow after chunks", `data: {"event":"workflow_started"}` + "\n\n" + chunk + end +
			`data: {"event":"workflow_finished","data":{"status":"failed","error":"boom"}}` + "\n\n", KindWorkflowFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := readChat(c.body)
			var e *Error
			switch {
			case c.kind == "" && err != nil:
				t.Errorf("want success, got %v", err)
			case c.kind != "" && (!errors.As(err, &e) || e.Kind != c.kind):
				t.Errorf("got %v, want kind %s", err, c.kind)
			}
		})
	}
}

// FuzzSkippable: whatever the bytes, a skipped event is one that opens
// with a Dify event name and closes its object, and no stream succeeds
// without its end event.
func FuzzSkippable(f *testing.F) {
	for _, s := range []string{`{"event":"message","answer":"x"}`, `{"event": "node_started"}`, `{"event":"message_end"}`, `{"event":"mess`, `{}`, ``} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data string, tokened bool) {
		ev := sse.Event{Data: []byte(data)}
		if skippable(ev, tokened) && (!strings.HasPrefix(data, `{"event":`) || !strings.HasSuffix(data, "}")) {
			t.Errorf("skipped %q", data)
		}
		if strings.ContainsAny(data, "\r\n") {
			return
		}
		err := readChat(`data: {"event":"message","answer":"a"}` + "\n\ndata: " + data + "\n\n")
		if err == nil && !strings.Contains(data, "message_end") {
			t.Errorf("a stream ending with %q succeeded without message_end", data)
		}
	})
}

// TestSkimsDifysBytes reads a chatflow stream as Dify 1.12 writes it
// (testdata/dify-1.12-agent.sse, recorded from tune emulate --app agent:
// orjson's compact JSON, "event" first, raw UTF-8): every event is found,
// and all but the four that decide the outcome (workflow_started, the
// first answer chunk, workflow_finished, message_end) are skimmed.
func TestSkimsDifysBytes(t *testing.T) {
	body, err := os.ReadFile("testdata/dify-1.12-agent.sse")
	if err != nil {
		t.Fatal(err)
	}
	dec := sse.NewDecoder(bytes.NewReader(body))
	resp := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}}, Body: io.NopCloser(bytes.NewReader(nil))}
	s := Stream{Resp: resp, dec: dec}
	if err := (&Chat{}).Read(&s); err != nil {
		t.Fatal(err)
	}
	want := bytes.Count(body, []byte("\ndata: ")) + 1
	if s.events != want || s.skimmed != want-4 || s.token.IsZero() || s.end.IsZero() {
		t.Errorf("events %d (want %d), skimmed %d (want %d), token %v, end %v", s.events, want, s.skimmed, want-4, s.token, s.end)
	}
}

// FuzzEventDecode: the allocation-free event fields decode exactly as
// plain strings would: the same names and statuses, an answer or text
// present exactly when the string is non-empty, the same inputs refused.
func FuzzEventDecode(f *testing.F) {
	for _, s := range []string{`{"event":"message","answer":"hi"}`, `{"event":"message","answer":""}`, `{"event":"\u006dessage","answer":null}`,
		`{"event":"workflow_finished","data":{"status":"failed","error":"boom"}}`, `{"event":"text_chunk","data":{"text":"x"}}`,
		`{"event":"novel","answer":5}`, `{"event":null}`, `{"data":{"status":"succeeded"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var plain struct {
			Event  *string `json:"event"`
			Answer *string `json:"answer"`
			Data   struct {
				Status *string `json:"status"`
				Text   *string `json:"text"`
			} `json:"data"`
		}
		var got event
		perr, gerr := json.Unmarshal([]byte(s), &plain), json.Unmarshal([]byte(s), &got)
		if (perr == nil) != (gerr == nil) {
			t.Fatalf("%q: plain %v, ours %v", s, perr, gerr)
		}
		if perr != nil {
			return
		}
		str := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		if string(got.Event) != str(plain.Event) || string(got.Data.Status) != str(plain.Data.Status) ||
			bool(got.Answer) != (str(plain.Answer) != "") || bool(got.Data.Text) != (str(plain.Data.Text) != "") {
			t.Errorf("%q: ours %+v, plain %q %q %q %q", s, got, str(plain.Event), str(plain.Answer), str(plain.Data.Status), str(plain.Data.Text))
		}
	})
}

package loader

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/tune-dify/tune/loader/sse"
)

// spacedEvents are events as Dify's json.dumps wrote them before it took
// orjson: "event" first, ", " and ": " separators, non-ASCII escaped.
var spacedEvents = []string{
	`{"event": "workflow_started", "conversation_id": "9b60308a-950c-44d0-9435-1f5937ad9653", "message_id": "2086ac45", "created_at": 1795998672, "task_id": "ff6655b8", "workflow_run_id": "f29af367", "data": {"id": "f29af367", "workflow_id": "w", "sequence_number": 1, "inputs": {"sys.query": "\u5929\u6c14?", "sys.files": []}, "created_at": 1795998672}}`,
	`{"event": "message", "conversation_id": "9b60308a-950c-44d0-9435-1f5937ad9653", "message_id": "2086ac45", "created_at": 1795998672, "task_id": "ff6655b8", "id": "2086ac45", "answer": "\u4eca\u5929 \"sunny\"\n", "from_variable_selector": ["1733000000002", "text"]}`,
	`{"event": "message", "conversation_id": "c", "message_id": "m", "created_at": 1, "task_id": "t", "id": "m", "answer": "", "from_variable_selector": null}`,
	`{"event": "message_end", "conversation_id": "9b60308a-950c-44d0-9435-1f5937ad9653", "message_id": "2086ac45", "created_at": 1795998672, "task_id": "ff6655b8", "id": "2086ac45", "metadata": {"annotation_reply": null, "retriever_resources": [{"position": 1, "score": 0.98, "content": "\u00e9t\u00e9"}], "usage": {"prompt_tokens": 12, "prompt_unit_price": "0.001", "completion_tokens": 100, "total_tokens": 112, "total_price": "0.0002", "currency": "USD", "latency": 0.2e-1}}, "files": []}`,
	`{"event": "workflow_finished", "conversation_id": "c", "message_id": "m", "created_at": 1, "task_id": "t", "workflow_run_id": "r", "data": {"id": "r", "workflow_id": "w", "status": "succeeded", "outputs": {"answer": "ok"}, "error": null, "elapsed_time": 1.5, "total_tokens": 112, "total_steps": 5, "created_by": {"id": "u", "user": "tune-1"}, "created_at": 1, "finished_at": 2, "exceptions_count": 0, "files": []}}`,
	`{"event": "workflow_finished", "task_id": "t", "workflow_run_id": "r", "data": {"id": "r", "status": "failed", "outputs": null, "error": "node 3 timed out", "elapsed_time": 30.0}}`,
	`{"event": "text_chunk", "task_id": "t", "workflow_run_id": "r", "data": {"text": "\ud83d\ude00", "from_variable_selector": ["1", "text"]}}`,
}

// difysEvents are the data of every event of the recorded Dify 1.12
// stream (orjson's compact bytes) and of spacedEvents.
func difysEvents(t testing.TB) [][]byte {
	body, err := os.ReadFile("testdata/dify-1.12-agent.sse")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	dec := sse.NewDecoder(bytes.NewReader(body))
	for {
		ev, err := dec.Next()
		if err != nil {
			break
		}
		out = append(out, bytes.Clone(ev.Data))
	}
	if len(out) < 30 {
		t.Fatalf("read %d events from the recording", len(out))
	}
	for _, s := range spacedEvents {
		out = append(out, []byte(s))
	}
	return out
}

// agree fails t unless fastEvent's answer for data, when it gives one,
// is encoding/json's; it reports whether fastEvent gave one.
func agree(t *testing.T, data []byte) bool {
	t.Helper()
	var fast, slow event
	ok := fastEvent(data, &fast)
	err := json.Unmarshal(data, &slow)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%q: the fast path took what encoding/json refuses (%v): %+v", data, err, fast)
	}
	if fast.Event != slow.Event || fast.Answer != slow.Answer || fast.Code != slow.Code || fast.Message != slow.Message || fast.Data != slow.Data {
		t.Fatalf("%q: fast path %+v, encoding/json %+v", data, fast, slow)
	}
	if !fast.convSlow {
		var cv conversation
		if err := json.Unmarshal(data, &cv); err != nil || cv.ConversationID != string(fast.conv) {
			t.Fatalf("%q: fast path's conversation %q, encoding/json's %q (%v)", data, fast.conv, cv.ConversationID, err)
		}
	}
	return true
}

// Every event of Dify's own streams, compact or spaced, takes the fast
// path and decodes as encoding/json decodes it.
func TestFastEventTakesDifysShapes(t *testing.T) {
	for _, data := range difysEvents(t) {
		if !agree(t, data) {
			t.Errorf("not on the fast path: %s", data)
		}
	}
}

// What is not Dify's shape goes to encoding/json: the fast path declines.
func TestFastEventDeclines(t *testing.T) {
	for _, s := range []string{
		`{"event":"error","code":"quota","message":"no"}`, // an error's strings
		`{"Event":"message_end"}`,                         // case folding
		`{"evenſ":"message_end"}`,                         // Unicode folding
		`{"\u0065vent":"message_end"}`,                    // an escaped key
		`{"event":null}`, `{"event":"message","answer":null}`, `{"event":"x","data":null}`,
		`{"event":"message_\u0065nd"}`,                                          // an escaped name
		`{"event":"workflow_finished","data":{"status":"failed","error":"\n"}}`, // an escaped error
		`{"event":"message_end"} x`, `{"event":"message_end",}`, `{"event":"message_end"`, `[]`, `null`, ``,
		`{"event":"message_end","n":01}`, `{"event":"message_end","n":[1,]}`, `{"event":"message_end","s":"\x"}`,
		`{"event":"message_end","deep":` + string(bytes.Repeat([]byte("["), 100)) + string(bytes.Repeat([]byte("]"), 100)) + `}`,
	} {
		if agree(t, []byte(s)) {
			t.Errorf("%q took the fast path", s)
		}
	}
}

// FuzzFastEvent: on every input, the fast path either declines or gives
// encoding/json's answer (fields and conversation), and never takes what
// encoding/json refuses.
func FuzzFastEvent(f *testing.F) {
	for _, data := range difysEvents(f) {
		f.Add(data)
	}
	for _, s := range []string{`{"event":"message","answer":"hi"}`, `{"event":"message","answer":"","answer":"x"}`,
		`{"event":"message_end","conversation_id":"a","conversation_id":null}`, `{"conversation_id":"\u00e9"}`,
		`{"event":"workflow_finished","data":{"status":"succeeded","error":null},"data":{"text":"t"}}`,
		`{"event":"novel","x":[true,false,null,-0.5e+3,{"a":{}}]}`, ` {"event" : "text_chunk" } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { agree(t, data) })
}

// BenchmarkParse is the decode of the two events a bench-load stream
// does not skim, on the fast path and through encoding/json.
func BenchmarkParse(b *testing.B) {
	first := memEvents[1][bytes.IndexByte(memEvents[1], '{') : bytes.LastIndexByte(memEvents[1], '}')+1]
	end := memEvents[21][bytes.IndexByte(memEvents[21], '{') : bytes.LastIndexByte(memEvents[21], '}')+1]
	var p event
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !fastEvent(first, &p) || !fastEvent(end, &p) || p.Event != "message_end" {
				b.Fatal("not on the fast path")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if json.Unmarshal(first, &p) != nil || json.Unmarshal(end, &p) != nil || p.Event != "message_end" {
				b.Fatal("did not decode")
			}
		}
	})
}

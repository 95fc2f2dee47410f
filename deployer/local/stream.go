package local

import (
	"time"
)

// answer is what every emulated app says, cut into chunks.
const answer = "Dify's service API streams this answer in chunks, the way an LLM node would. 这是一个模拟的回答。"

// The apps the emulator serves. A chat app (chatflow, agent, llm) answers
// POST /chat-messages and refuses /workflows/run with 400 not_workflow_app;
// a workflow app the other way round, with 400 not_chat_app.
const (
	AppChatflow = "chatflow" // start → answer: a fixed reply, no model call
	AppAgent    = "agent"    // the seed's complex chatflow: if/else, LLM function call, tools, a plugin, two HTTP requests
	AppWorkflow = "workflow" // start → LLM → end, text in text_chunk events
	AppLLM      = "llm"      // start → LLM → answer, the answer streamed as the model generates it
)

// Apps lists the apps Options.App accepts.
var Apps = []string{AppChatflow, AppAgent, AppWorkflow, AppLLM}

// chatApp reports whether app answers /chat-messages (Dify's advanced-chat
// mode) rather than /workflows/run.
func chatApp(app string) bool { return app != AppWorkflow }

// node is one node of an app's graph, as its events name it.
type node struct {
	id, typ, title string
	pred           string // predecessor node id; "" for the start node
}

// graph is an app's nodes in the order they run: the nodes before the
// answer, the node whose output streams, and the nodes after it.
type graph struct {
	before []node
	stream node
	after  []node
	// selector is the variable the streamed text comes from.
	selector []string
}

const (
	startID = "1733000000001"
	llmID   = "1733000000002"
)

// graphs are the emulated apps' graphs, Dify's node types and the ids its
// editor gives nodes (creation timestamps in ms).
var graphs = map[string]graph{
	AppChatflow: {
		stream:   node{"answer", "answer", "Answer", startID},
		selector: []string{"answer", "answer"},
	},
	AppAgent: {
		before: []node{
			{"1733000000010", "if-else", "Keyword check", startID},
			{"1733000000011", "llm", "Function call", "1733000000010"},
			{"1733000000012", "tool", "Current Time", "1733000000011"},
			{"1733000000013", "tool", "Weather", "1733000000012"}, // a plugin's tool
			{"1733000000014", "http-request", "Forecast API", "1733000000013"},
			{"1733000000015", "http-request", "Air quality API", "1733000000013"}, // parallel to the forecast
		},
		stream:   node{"answer", "answer", "Merge", "1733000000014"},
		selector: []string{"answer", "answer"},
	},
	AppWorkflow: {
		stream:   node{llmID, "llm", "LLM", startID},
		after:    []node{{"1733000000003", "end", "End", llmID}},
		selector: []string{llmID, "text"},
	},
	AppLLM: {
		stream:   node{llmID, "llm", "LLM", startID},
		after:    []node{{"answer", "answer", "Answer", llmID}},
		selector: []string{llmID, "text"},
	},
}

// stream writes the events of one streamed call as Dify's service API
// writes them: each event one `data: <JSON>` line and a blank line, handed
// to send on its own (Dify's generator yields, and the server flushes,
// event by event). A chat app's events open with event, conversation_id,
// message_id and created_at (the advanced-chat converter's prefix); a
// workflow app's with event and workflow_run_id; then the fields of the
// event's response model in the order Dify declares them.
type stream struct {
	app                  string
	g                    graph
	task, msg, conv, run string
	user                 string
	created              int64
	pieces               []string // the answer's chunks
	start                time.Time
	send                 func([]byte)
	buf                  []byte

	query   string
	said    []byte // the answer sent so far
	sent    int    // answer chunks sent
	opened  bool   // workflow_started and the start node sent
	reached bool   // the nodes before the answer sent, the streaming node started
	runs    map[string]nodeRun
}

// nodeRun is one node's execution in this run.
type nodeRun struct {
	id    string
	index int // 1 for the start node
}

func newStream(app, query, conv, user string, pieces []string, send func([]byte)) *stream {
	if conv == "" && chatApp(app) {
		conv = newID()
	}
	return &stream{app: app, g: graphs[app], task: newID(), msg: newID(), conv: conv, run: newID(),
		query: query, user: user, created: time.Now().Unix(), pieces: pieces, start: time.Now(), send: send,
		runs: map[string]nodeRun{}}
}

// event sends one event: the mode's prefix, then fields.
func (st *stream) event(name string, fields object) {
	var head object
	if chatApp(st.app) {
		head = object{{"event", name}, {"conversation_id", st.conv}, {"message_id", st.msg}, {"created_at", st.created}}
	} else {
		head = object{{"event", name}, {"workflow_run_id", st.run}}
	}
	for _, f := range fields {
		if !has(head, f.k) {
			head = append(head, f)
		}
	}
	st.buf = append(st.buf[:0], "data: "...)
	st.buf = appendJSON(st.buf, head)
	st.buf = append(st.buf, "\n\n"...)
	st.send(st.buf)
}

func has(o object, k string) bool {
	for _, f := range o {
		if f.k == k {
			return true
		}
	}
	return false
}

// nodeRun is n's execution in this run, the same in its started and
// finished events.
func (st *stream) nodeRun(n node) nodeRun {
	r, ok := st.runs[n.id]
	if !ok {
		r = nodeRun{newID(), len(st.runs) + 1}
		st.runs[n.id] = r
	}
	return r
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (st *stream) nodeStarted(n node) {
	r := st.nodeRun(n)
	st.event("node_started", object{{"task_id", st.task}, {"workflow_run_id", st.run}, {"data", object{
		{"id", r.id}, {"node_id", n.id}, {"node_type", n.typ}, {"title", n.title}, {"index", r.index},
		{"predecessor_node_id", nullable(n.pred)}, {"inputs", object{}}, {"inputs_truncated", false},
		{"created_at", time.Now().Unix()}, {"extras", object{}}, {"iteration_id", nil}, {"loop_id", nil},
		{"agent_strategy", nil}}}})
}

func (st *stream) nodeFinished(n node, outputs object) {
	r := st.nodeRun(n)
	var meta any
	if n.typ == "llm" {
		meta = object{{"total_tokens", 80}, {"total_price", "0"}, {"currency", "USD"}}
	}
	st.event("node_finished", object{{"task_id", st.task}, {"workflow_run_id", st.run}, {"data", object{
		{"id", r.id}, {"node_id", n.id}, {"node_type", n.typ}, {"title", n.title}, {"index", r.index},
		{"predecessor_node_id", nullable(n.pred)}, {"inputs", object{}}, {"inputs_truncated", false},
		{"process_data", nil}, {"process_data_truncated", false}, {"outputs", outputs}, {"outputs_truncated", false},
		{"status", "succeeded"}, {"error", nil}, {"elapsed_time", time.Since(st.start).Seconds()},
		{"execution_metadata", meta}, {"created_at", st.created}, {"finished_at", time.Now().Unix()},
		{"files", []any{}}, {"iteration_id", nil}, {"loop_id", nil}}}})
}

var startNode = node{startID, "start", "Start", ""}

// opening is what Dify sends as soon as the app starts: the workflow and
// its start node.
func (st *stream) opening() {
	if st.opened {
		return
	}
	st.opened = true
	inputs := object{{"sys.query", st.query}, {"sys.user_id", st.user}}
	if !chatApp(st.app) {
		inputs = object{{"sys.user_id", st.user}}
	}
	st.event("workflow_started", object{{"task_id", st.task}, {"workflow_run_id", st.run}, {"data", object{
		{"id", st.run}, {"workflow_id", "tune-emulate-" + st.app}, {"inputs", inputs}, {"created_at", st.created}}}})
	st.nodeStarted(startNode)
}

// reach sends the events up to the answer's first chunk: the start node
// finished, the nodes before the streaming node, the streaming node started.
func (st *stream) reach() {
	st.opening()
	if st.reached {
		return
	}
	st.reached = true
	st.nodeFinished(startNode, object{})
	for _, n := range st.g.before {
		st.nodeStarted(n)
		st.nodeFinished(n, object{})
	}
	st.nodeStarted(st.g.stream)
}

// chunk sends the answer's next chunk. A call that generates its answer
// over time may ask for more chunks than the answer has: the text then
// starts over, so every generated token is an event.
func (st *stream) chunk() {
	st.reach()
	p := st.pieces[st.sent%len(st.pieces)]
	st.sent++
	st.said = append(st.said, p...)
	if chatApp(st.app) {
		st.event("message", object{{"task_id", st.task}, {"id", st.msg}, {"answer", p},
			{"from_variable_selector", st.g.selector}})
	} else {
		st.event("text_chunk", object{{"task_id", st.task}, {"data", object{
			{"text", p}, {"from_variable_selector", st.g.selector}}}})
	}
}

// success sends the rest of a stream that succeeded: what is left of the
// answer, the nodes after it, workflow_finished, and for a chat app
// message_end (Dify saves the message after the workflow finishes, then
// ends the message).
func (st *stream) success() {
	for st.sent < len(st.pieces) {
		st.chunk()
	}
	out := object{{"answer", string(st.said)}}
	if st.g.stream.typ == "llm" {
		out = object{{"text", string(st.said)}}
	}
	st.nodeFinished(st.g.stream, out)
	for _, n := range st.g.after {
		st.nodeStarted(n)
		st.nodeFinished(n, object{})
	}
	st.workflowFinished("succeeded", "")
	if chatApp(st.app) {
		st.event("message_end", object{{"task_id", st.task}, {"id", st.msg}, {"metadata", object{
			{"annotation_reply", nil}, {"retriever_resources", []any{}}, {"usage", usage(time.Since(st.start).Seconds())}}},
			{"files", []any{}}})
	}
}

func (st *stream) workflowFinished(status, errMsg string) {
	outputs := any(nil)
	if status == "succeeded" {
		outputs = object{{"answer", string(st.said)}}
		if !chatApp(st.app) {
			outputs = object{{"text", string(st.said)}}
		}
	}
	st.event("workflow_finished", object{{"task_id", st.task}, {"workflow_run_id", st.run}, {"data", object{
		{"id", st.run}, {"workflow_id", "tune-emulate-" + st.app}, {"status", status}, {"outputs", outputs},
		{"error", nullable(errMsg)}, {"elapsed_time", time.Since(st.start).Seconds()}, {"total_tokens", 80},
		{"total_steps", len(st.runs)}, {"created_by", object{{"id", st.user}, {"user", st.user}}},
		{"created_at", st.created}, {"finished_at", time.Now().Unix()}, {"exceptions_count", 0}, {"files", []any{}}}}})
}

// failure ends a stream the model failed after it began: the workflow
// finishes failed with the cause (when it had started), then Dify's error
// event with its generic message for an unexpected exception.
func (st *stream) failure(kind string) {
	if st.opened {
		st.workflowFinished("failed", failureMessage(kind))
	}
	st.event("error", object{{"code", "internal_server_error"},
		{"message", "Internal Server Error, please contact support."}, {"status", 500}})
}

// pieces cuts the answer into n chunks of whole runes (at most one a rune).
func pieces(n int) []string {
	r := []rune(answer)
	n = max(1, min(n, len(r)))
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, string(r[i*len(r)/n:(i+1)*len(r)/n]))
	}
	return out
}

// usage is the LLM usage Dify reports (its prices are Decimals, written
// as strings).
func usage(latency float64) object {
	return object{{"prompt_tokens", 32}, {"prompt_unit_price", "0"}, {"prompt_price_unit", "0"}, {"prompt_price", "0"},
		{"completion_tokens", 48}, {"completion_unit_price", "0"}, {"completion_price_unit", "0"}, {"completion_price", "0"},
		{"total_tokens", 80}, {"total_price", "0"}, {"currency", "USD"}, {"latency", latency},
		{"time_to_first_token", nil}, {"time_to_generate", nil}}
}

// blocking is the JSON body of a blocking call that succeeded.
func (st *stream) blocking() object {
	elapsed := time.Since(st.start).Seconds()
	if !chatApp(st.app) {
		return object{{"task_id", st.task}, {"workflow_run_id", st.run}, {"data", object{
			{"id", st.run}, {"workflow_id", "tune-emulate-" + st.app}, {"status", "succeeded"},
			{"outputs", object{{"text", answer}}}, {"error", nil}, {"elapsed_time", elapsed}, {"total_tokens", 80},
			{"total_steps", 3}, {"created_at", st.created}, {"finished_at", time.Now().Unix()}}}}
	}
	return object{{"event", "message"}, {"task_id", st.task}, {"id", st.msg}, {"message_id", st.msg},
		{"conversation_id", st.conv}, {"mode", "advanced-chat"}, {"answer", answer},
		{"metadata", object{{"annotation_reply", nil}, {"retriever_resources", []any{}}, {"usage", usage(elapsed)}}},
		{"created_at", st.created}}
}

// records is the knowledge API's answer: k segments of dataset.
func records(dataset, query string, k int) object {
	recs := make([]object, 0, k)
	for i := range k {
		recs = append(recs, object{
			{"segment", object{{"id", newID()}, {"position", i + 1}, {"document_id", newID()},
				{"content", "Segment " + string(rune('A'+i)) + " of the emulated knowledge base."},
				{"word_count", 8}, {"tokens", 12}, {"keywords", []string{"dify"}}, {"status", "completed"},
				{"document", object{{"id", newID()}, {"data_source_type", "upload_file"}, {"name", "emulated.txt"}}},
				{"dataset_id", dataset}}},
			{"score", 0.9 - 0.1*float64(i)},
		})
	}
	return object{{"query", object{{"content", query}}}, {"records", recs}}
}

package local

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// answer is what every emulated app says, cut into chunks.
const answer = "Dify's service API streams this answer in chunks, the way an LLM node would. 这是一个模拟的回答。"

// stream writes the events of one streamed call in Dify's shapes: each
// event one `data: {compact JSON}` line and a blank line.
type stream struct {
	app                     string // chatflow, agent or workflow
	task, msg, conv, run    string
	created                 int64
	chunks                  int
	start                   time.Time
	buf                     bytes.Buffer
	startNode, answerNodeID string
}

func newStream(app, conv string, chunks int) *stream {
	if conv == "" {
		conv = newID()
	}
	return &stream{app: app, task: newID(), msg: newID(), conv: conv, run: newID(),
		created: time.Now().Unix(), chunks: chunks, start: time.Now(),
		startNode: "1700000000001", answerNodeID: "answer"}
}

type obj = map[string]any

// event appends one event; chat events carry the message and conversation
// ids, workflow events the run id.
func (st *stream) event(name string, fields obj) {
	e := obj{"event": name, "task_id": st.task, "created_at": st.created}
	if st.app == "workflow" {
		e["workflow_run_id"] = st.run
	} else {
		e["message_id"] = st.msg
		e["conversation_id"] = st.conv
		if strings.HasPrefix(name, "workflow_") || strings.HasPrefix(name, "node_") {
			e["workflow_run_id"] = st.run
		}
	}
	if name == "message_end" {
		e["id"] = st.msg
	}
	for k, v := range fields {
		e[k] = v
	}
	b, _ := json.Marshal(e)
	st.buf.WriteString("data: ")
	st.buf.Write(b)
	st.buf.WriteString("\n\n")
}

func (st *stream) take() []byte {
	out := bytes.Clone(st.buf.Bytes())
	st.buf.Reset()
	return out
}

func (st *stream) node(name, id, typ, title string, index int, done bool) {
	d := obj{"id": newID(), "node_id": id, "node_type": typ, "title": title, "index": index,
		"predecessor_node_id": nil, "created_at": st.created}
	if done {
		d["status"] = "succeeded"
		d["elapsed_time"] = time.Since(st.start).Seconds()
	}
	st.event(name, obj{"data": d})
}

// opening is what Dify sends as soon as the app starts: the workflow and
// its start node, or the agent's first thought.
func (st *stream) opening() []byte {
	switch st.app {
	case "agent":
		st.event("agent_thought", obj{"id": newID(), "position": 1, "thought": "", "observation": "",
			"tool": "", "tool_input": "", "message_files": []any{}})
	default:
		st.event("workflow_started", obj{"data": obj{"id": st.run, "workflow_id": "tune-emulate",
			"sequence_number": 1, "inputs": obj{}, "created_at": st.created}})
		st.node("node_started", st.startNode, "start", "Start", 1, false)
	}
	return st.take()
}

// pieces cuts the answer into n chunks of whole runes.
func pieces(n int) []string {
	r := []rune(answer)
	n = max(1, min(n, len(r)))
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, string(r[i*len(r)/n:(i+1)*len(r)/n]))
	}
	return out
}

func usage() obj {
	return obj{"prompt_tokens": 32, "completion_tokens": 48, "total_tokens": 80,
		"prompt_price": "0", "completion_price": "0", "total_price": "0", "currency": "USD"}
}

// success is the rest of a stream that succeeded: the answer in chunks and
// the end events.
func (st *stream) success() []byte {
	elapsed := time.Since(st.start).Seconds()
	switch st.app {
	case "agent":
		for _, p := range pieces(st.chunks) {
			st.event("agent_message", obj{"answer": p})
		}
		st.event("agent_thought", obj{"id": newID(), "position": 2, "thought": answer, "observation": "",
			"tool": "", "tool_input": "", "message_files": []any{}})
		st.event("message_end", obj{"metadata": obj{"usage": usage()}})
	case "workflow":
		st.node("node_finished", st.startNode, "start", "Start", 1, true)
		st.node("node_started", "llm", "llm", "LLM", 2, false)
		for _, p := range pieces(st.chunks) {
			st.event("text_chunk", obj{"data": obj{"text": p, "from_variable_selector": []string{"llm", "text"}}})
		}
		st.node("node_finished", "llm", "llm", "LLM", 2, true)
		st.workflowFinished("succeeded", "", elapsed)
	default:
		st.node("node_finished", st.startNode, "start", "Start", 1, true)
		st.node("node_started", st.answerNodeID, "answer", "Answer", 2, false)
		for _, p := range pieces(st.chunks) {
			st.event("message", obj{"answer": p, "from_variable_selector": []string{"llm", "text"}})
		}
		st.node("node_finished", st.answerNodeID, "answer", "Answer", 2, true)
		st.event("message_end", obj{"metadata": obj{"usage": usage(), "retriever_resources": []any{}}})
		st.workflowFinished("succeeded", "", elapsed)
	}
	return st.take()
}

func (st *stream) workflowFinished(status, errMsg string, elapsed float64) {
	d := obj{"id": st.run, "workflow_id": "tune-emulate", "status": status, "outputs": obj{},
		"elapsed_time": elapsed, "total_tokens": 80, "total_steps": 2,
		"created_at": st.created, "finished_at": time.Now().Unix()}
	if status == "succeeded" {
		d["outputs"] = obj{"answer": answer}
	} else {
		d["error"] = errMsg
	}
	st.event("workflow_finished", obj{"data": d})
}

// failure ends a stream the model failed after it began: the workflow
// finishes failed (chatflow, workflow), then Dify's error event.
func (st *stream) failure(kind string) []byte {
	msg := failureMessage(kind)
	if st.app != "agent" {
		st.workflowFinished("failed", msg, time.Since(st.start).Seconds())
	}
	st.event("error", obj{"status": 500, "code": "internal_server_error", "message": msg})
	return st.take()
}

// blocking is the JSON body of a blocking call that succeeded.
func (st *stream) blocking() any {
	if st.app == "workflow" {
		return obj{"task_id": st.task, "workflow_run_id": st.run, "data": obj{
			"id": st.run, "workflow_id": "tune-emulate", "status": "succeeded", "outputs": obj{"text": answer},
			"elapsed_time": time.Since(st.start).Seconds(), "total_tokens": 80, "total_steps": 2,
			"created_at": st.created, "finished_at": time.Now().Unix()}}
	}
	mode := "advanced-chat"
	if st.app == "agent" {
		mode = "agent-chat"
	}
	return obj{"event": "message", "task_id": st.task, "id": st.msg, "message_id": st.msg,
		"conversation_id": st.conv, "mode": mode, "answer": answer,
		"metadata": obj{"usage": usage()}, "created_at": st.created}
}

// records is the knowledge API's answer: k segments of dataset.
func records(dataset, query string, k int) any {
	recs := make([]any, 0, k)
	for i := range k {
		recs = append(recs, obj{
			"segment": obj{"id": newID(), "position": i + 1, "document_id": newID(),
				"content":    "Segment " + string(rune('A'+i)) + " of the emulated knowledge base.",
				"word_count": 8, "tokens": 12, "keywords": []string{"dify"}, "status": "completed",
				"document":   obj{"id": newID(), "data_source_type": "upload_file", "name": "emulated.txt"},
				"dataset_id": dataset},
			"score": 0.9 - 0.1*float64(i),
		})
	}
	return obj{"query": obj{"content": query}, "records": recs}
}

package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tune-dify/tune/loader/sse"
)

// Scenario is one kind of Dify call. Request builds it (the loader adds the
// Authorization header, unless the request has one: a Mix's app key); Read judges a 200 response, returning nil for a
// success or an *Error, and marks the first token and the end on s.
type Scenario interface {
	Request(ctx context.Context, base string, c Call) (*http.Request, error)
	Read(s *Stream) error
}

// Call is what varies between requests.
type Call struct {
	User           string // tune-<n>, one per virtual user
	Query          string
	ConversationID string // the user's conversation so far, if the scenario keeps one
}

// Stream is a 200 response as a Scenario reads it. Its methods record the
// moments the loader times.
type Stream struct {
	Resp *http.Response

	dec          *sse.Decoder
	events       int
	skimmed      int    // events passed over without decoding their JSON
	last         []byte // the last decoded event's data, until the next Next
	streamed     bool
	token, end   time.Time
	conversation string
}

// Next returns the next event of an event stream, counting it.
func (s *Stream) Next() (sse.Event, error) {
	s.streamed = true
	ev, err := s.dec.Next()
	if err == nil {
		s.events++
	}
	return ev, err
}

// Token marks the first token; later calls do nothing.
func (s *Stream) Token() {
	if s.token.IsZero() {
		s.token = time.Now()
	}
}

// End marks the end event; later calls do nothing.
func (s *Stream) End() {
	if s.end.IsZero() {
		s.end = time.Now()
	}
}

// SetConversation keeps a conversation ID for the user's next call.
func (s *Stream) SetConversation(id string) { s.conversation = id }

// expect fails with KindMalformed unless the response has media type want.
// Dify's own header values are recognised without mime.ParseMediaType,
// which builds a map of the parameters on every response.
func (s *Stream) expect(want string) error {
	ct := s.Resp.Header.Get("Content-Type")
	if rest, ok := strings.CutPrefix(ct, want); ok && (rest == "" || rest == "; charset=utf-8") {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != want {
		return errorf(KindMalformed, "content type %q, want %s", ct, want)
	}
	return nil
}

// event holds the fields of a Dify stream event that decide the outcome.
// Its types decode without allocating for what every stream carries (the
// event names, a status, whether an answer is empty), so judging a stream
// costs a few decodes and nearly no garbage.
type event struct {
	Event   name    `json:"event"`
	Answer  present `json:"answer"`
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Data    struct {
		Status name    `json:"status"`
		Text   present `json:"text"`
		Error  string  `json:"error"`
	} `json:"data"`

	// conv is the conversation_id's bytes (aliasing the event's data) as
	// fastEvent found it; convSlow, that encoding/json must decode it.
	conv     []byte
	convSlow bool
}

// name is a JSON string decoded without allocating when it is one of the
// names a stream's judgement compares against.
type name string

var names = []name{"message", "agent_message", "message_end", "workflow_started", "workflow_finished",
	"text_chunk", "error", "succeeded", "failed", "stopped", "partial-succeeded"}

// UnmarshalJSON implements json.Unmarshaler.
func (n *name) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		for _, known := range names {
			if string(b[1:len(b)-1]) == string(known) {
				*n = known
				return nil
			}
		}
	}
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*n = ""
	if s != nil {
		*n = name(*s)
	}
	return nil
}

// present records whether a JSON string is non-empty, without keeping it.
type present bool

// UnmarshalJSON implements json.Unmarshaler: a string (empty or not) or
// null; anything else is not what Dify sends.
func (p *present) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*p = false
	case len(b) >= 2 && b[0] == '"':
		*p = len(b) > 2
	default:
		return fmt.Errorf("want a string, got %.20s", b)
	}
	return nil
}

// conversation is read from message_end only when a scenario keeps the
// conversation going.
type conversation struct {
	ConversationID string `json:"conversation_id"`
}

// conversationID is the conversation_id of the event p was parsed from
// (data, which parsed just now).
func (p *event) conversationID(data []byte) string {
	if !p.convSlow {
		return string(p.conv)
	}
	var cv conversation
	_ = json.Unmarshal(data, &cv)
	return cv.ConversationID
}

// parse decodes one event's JSON, Dify's own shapes on a fast path and
// anything else with encoding/json; Dify names the event inside the data,
// and an SSE event type of "error" counts too.
func parse(ev sse.Event, p *event) error {
	if !fastEvent(ev.Data, p) {
		*p = event{convSlow: true}
		if err := json.Unmarshal(ev.Data, p); err != nil {
			return errorf(KindMalformed, "event %q: %v", ev.Type, err)
		}
	}
	if ev.Type == "error" || p.Event == "error" {
		return &Error{Kind: KindErrorEvent, Code: p.Code, Message: p.Code + ": " + p.Message}
	}
	return nil
}

// skippable reports whether ev is one of the many events of a stream that
// decide nothing: node progress, or an answer chunk once the first token is
// marked (tokened). It recognises them from their opening {"event":"<name>"
// without decoding the JSON. Anything else (the end events, errors, an
// event that does not open that way or is cut short) is decoded in full.
// It spares the client most of its JSON work: streams are mostly chunks.
func skippable(ev sse.Event, tokened bool) bool {
	if ev.Type != "" && ev.Type != "message" {
		return false
	}
	d := ev.Data
	if len(d) < 2 || d[len(d)-1] != '}' {
		return false
	}
	var ok bool
	if d, ok = bytes.CutPrefix(d, []byte(`{"event":`)); !ok {
		return false
	}
	d = bytes.TrimLeft(d, " ")
	if len(d) == 0 || d[0] != '"' {
		return false
	}
	d = d[1:]
	end := bytes.IndexByte(d, '"')
	if end < 0 {
		return false
	}
	switch string(d[:end]) {
	case "message", "agent_message", "text_chunk":
		return tokened
	case "node_started", "node_finished", "agent_thought", "iteration_started", "iteration_next",
		"iteration_completed", "message_file", "tts_message":
		return true
	}
	return false
}

// decided reads events until one that may decide the outcome (skippable
// ones are passed over) and decodes it into p; io.EOF at the stream's end.
func (s *Stream) decided(p *event) error {
	for {
		ev, err := s.Next()
		if err != nil {
			return err
		}
		if !skippable(ev, !s.token.IsZero()) {
			s.last = ev.Data
			return parse(ev, p)
		}
		s.skimmed++
	}
}

// failedWorkflow is the failure a workflow_finished event reports, or nil
// when it succeeded.
func (p *event) failedWorkflow() error {
	if p.Data.Status == "succeeded" {
		return nil
	}
	return &Error{Kind: KindWorkflowFailed, Message: string(p.Data.Status) + ": " + p.Data.Error}
}

// Chat is the chatflow and agent scenario: POST {base}/chat-messages,
// streaming. Success is message_end, and, when the app announced a workflow
// with workflow_started, also workflow_finished with status succeeded,
// whichever order they come in. The total time is taken at message_end.
// The first token is the first message or agent_message with an answer.
type Chat struct {
	Inputs map[string]any
	// Conversation makes each user continue its conversation, as a person
	// chatting would; otherwise every call starts a new one.
	Conversation bool
}

// Request implements Scenario.
func (c *Chat) Request(ctx context.Context, base string, call Call) (*http.Request, error) {
	body := struct {
		Inputs         map[string]any `json:"inputs"`
		Query          string         `json:"query"`
		ResponseMode   string         `json:"response_mode"`
		User           string         `json:"user"`
		ConversationID string         `json:"conversation_id,omitempty"`
	}{inputs(c.Inputs), call.Query, "streaming", call.User, ""}
	if c.Conversation {
		body.ConversationID = call.ConversationID
	}
	return post(ctx, base+"/chat-messages", body)
}

// Read implements Scenario.
func (c *Chat) Read(s *Stream) error {
	if err := s.expect("text/event-stream"); err != nil {
		return err
	}
	var p event
	var msgEnd, wfStarted, wfFinished bool
	for {
		err := s.decided(&p)
		if err == io.EOF {
			if msgEnd {
				return errorf(KindNoEndEvent, "stream ended after message_end without workflow_finished")
			}
			return errorf(KindNoEndEvent, "stream ended without message_end after %d events", s.events)
		}
		if err != nil {
			return err
		}
		switch p.Event {
		case "message", "agent_message":
			if p.Answer {
				s.Token()
			}
		case "message_end":
			msgEnd = true
			s.End()
			if c.Conversation {
				s.SetConversation(p.conversationID(s.last))
			}
		case "workflow_started":
			wfStarted = true
		case "workflow_finished":
			wfFinished = true
			if err := p.failedWorkflow(); err != nil {
				return err
			}
		}
		if msgEnd && (!wfStarted || wfFinished) {
			return nil
		}
	}
}

// Workflow is POST {base}/workflows/run, streaming: text arrives in
// text_chunk events and the end is workflow_finished with status succeeded.
type Workflow struct {
	Inputs map[string]any
	// QueryInput, if set, is the input the query is passed in.
	QueryInput string
}

// Request implements Scenario.
func (w *Workflow) Request(ctx context.Context, base string, call Call) (*http.Request, error) {
	in := inputs(w.Inputs)
	if w.QueryInput != "" {
		in = make(map[string]any, len(w.Inputs)+1)
		for k, v := range w.Inputs {
			in[k] = v
		}
		in[w.QueryInput] = call.Query
	}
	body := struct {
		Inputs       map[string]any `json:"inputs"`
		ResponseMode string         `json:"response_mode"`
		User         string         `json:"user"`
	}{in, "streaming", call.User}
	return post(ctx, base+"/workflows/run", body)
}

// Read implements Scenario.
func (w *Workflow) Read(s *Stream) error {
	if err := s.expect("text/event-stream"); err != nil {
		return err
	}
	var p event
	for {
		err := s.decided(&p)
		if err == io.EOF {
			return errorf(KindNoEndEvent, "stream ended without workflow_finished after %d events", s.events)
		}
		if err != nil {
			return err
		}
		switch p.Event {
		case "text_chunk":
			if p.Data.Text {
				s.Token()
			}
		case "workflow_finished":
			s.End()
			return p.failedWorkflow()
		}
	}
}

// MaxRetrievalQuery is the longest query, in characters, the knowledge API
// accepts; longer queries are truncated.
const MaxRetrievalQuery = 250

// maxJSONBody bounds a retrieval response.
const maxJSONBody = 16 << 20

// Retrieval is POST {base}/datasets/{DatasetID}/retrieve with hybrid search
// and no reranking. Success is a 200 JSON body with a records array; there
// is no token, and the total time ends when the body is decoded.
type Retrieval struct {
	DatasetID string
	TopK      int // default 3
}

// Request implements Scenario.
func (r *Retrieval) Request(ctx context.Context, base string, call Call) (*http.Request, error) {
	type model struct {
		SearchMethod          string `json:"search_method"`
		RerankingEnable       bool   `json:"reranking_enable"`
		TopK                  int    `json:"top_k"`
		ScoreThresholdEnabled bool   `json:"score_threshold_enabled"`
	}
	k := r.TopK
	if k <= 0 {
		k = 3
	}
	body := struct {
		Query          string `json:"query"`
		RetrievalModel model  `json:"retrieval_model"`
	}{truncate(call.Query, MaxRetrievalQuery), model{"hybrid_search", false, k, false}}
	return post(ctx, base+"/datasets/"+url.PathEscape(r.DatasetID)+"/retrieve", body)
}

// Validate reports a missing dataset ID; Config.Validate calls it.
func (r *Retrieval) Validate() error {
	if r.DatasetID == "" {
		return errors.New("loader: retrieval needs a dataset id")
	}
	return nil
}

// Read implements Scenario.
func (r *Retrieval) Read(s *Stream) error {
	if err := s.expect("application/json"); err != nil {
		return err
	}
	// Read first, then parse: a cut connection is a transport error, a
	// complete body that does not parse is malformed.
	b, err := io.ReadAll(io.LimitReader(s.Resp.Body, maxJSONBody+1))
	if err != nil {
		return err
	}
	s.End()
	if len(b) > maxJSONBody {
		return errorf(KindMalformed, "body over %d bytes", maxJSONBody)
	}
	var body struct {
		Records json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return errorf(KindMalformed, "body: %v", err)
	}
	if !bytes.HasPrefix(body.Records, []byte("[")) {
		return errorf(KindMalformed, "no records array")
	}
	return nil
}

func inputs(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{} // Dify wants {}, not null
	}
	return m
}

func post(ctx context.Context, url string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

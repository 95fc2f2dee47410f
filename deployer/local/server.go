// Package local serves the embedded model as a Dify-compatible API on
// loopback, in real time (`tune emulate`).
//
// The server speaks Dify's service API as its clients see it, byte for
// byte where a client can notice: Bearer keys (401 otherwise), one app per
// key (a chat app answers POST /v1/chat-messages and refuses
// /v1/workflows/run with 400 not_workflow_app, a workflow app the other
// way round), text/event-stream whose events Dify 1.12 would write (the
// advanced-chat and workflow converters' key order, orjson's compact JSON
// with raw UTF-8, workflow_finished before message_end, one write and
// flush per event), pings every 10 s from the request's start (so before
// the first event when the app is slow to start), blocking JSON, POST
// /v1/datasets/{id}/retrieve and Dify's error bodies. Each request takes
// as long as the model says; where the model fails one (too many
// PostgreSQL clients, a pool timeout, an OOM-killed pod) the client sees
// what Dify would send: a 500 before the stream, a failed
// workflow_finished and an error event inside it, or 502 from the ingress
// once the pods are gone. A model call that generates its answer over
// time (the llm app) streams each chunk as the model produces it.
//
// It owns the emulated Dify.
//
// Imports of this module: spaces and deployer/sim.
// Never imports: helm.sh/helm, k8s.io.
package local

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/spaces"
)

// Options configure a Server.
type Options struct {
	System spaces.System
	// App is what the keys serve (one of Apps): chatflow (default), agent
	// (the seed's complex chatflow) or llm answer /chat-messages; workflow
	// answers /workflows/run.
	App string
	// LLM is the model provider the llm app's LLM node streams from (the
	// space's load.llm; zero fields: the defaults).
	LLM  spaces.LLM
	Seed int64 // the model's noise
	// Keys are the accepted API keys (app- and dataset- keys alike); at
	// least one is required, here or in AppKeys.
	Keys []string
	// AppKeys serve more apps than App on the same system, as one Dify
	// serves several apps (a mixed load): each entry is an API key and the
	// app it serves (one of Apps). Keys serve App.
	AppKeys map[string]string
	// Ping is the interval of `event: ping` on open streams (Dify: 10 s).
	Ping time.Duration
	// MaxActive, when positive, answers 429 too_many_requests to a request
	// arriving while that many are in flight (Dify's APP_MAX_ACTIVE_REQUESTS).
	MaxActive int
	// Chunks is how many answer chunks a stream carries (default 20, which
	// makes a chatflow stream 27 events).
	Chunks int
}

// call is one request in the model (a *sim.Call): First is closed at its
// first byte, Done delivers its outcome ("" for success, else a failure
// kind).
type call interface {
	First() <-chan struct{}
	Done() <-chan string
}

// generator is a call that produces its answer over time (the model's llm
// scenario): Tokens delivers how many tokens the model has just generated,
// as it generates them. The server streams a message event for each token,
// as Dify relays each chunk of the provider's stream.
type generator interface {
	Tokens() <-chan int
}

// model is what the server needs of the performance model (sim.Live).
type model interface {
	Run(ctx context.Context) error
	Do(scenario string) (call, error)
	Cancel(call)
	Err() error
	Utilisation() map[string]float64
}

// live adapts *sim.Live to model.
type live struct{ *sim.Live }

func (l live) Do(scenario string) (call, error) {
	c, err := l.Live.Do(scenario)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (l live) Cancel(c call) { l.Live.Cancel(c.(*sim.Call)) }

// Server is the emulated Dify. Close it when done.
type Server struct {
	opts   Options
	model  model
	pieces []string
	ln     net.Listener
	http   *http.Server
	cancel context.CancelFunc
	ran    chan struct{}
	active atomic.Int64
	once   sync.Once
}

// maxBody bounds a request body, as Dify's nginx does (client_max_body_size
// is larger, but no service-API call here needs more).
const maxBody = 1 << 20

// Start builds the model of opts.System and serves it on addr (for example
// "127.0.0.1:0"). A configuration whose pods cannot start returns the
// model's *sim.OOMError.
func Start(addr string, opts Options) (*Server, error) {
	opts, err := opts.defaults()
	if err != nil {
		return nil, err
	}
	// The model's chat slot runs the app's scenario; a workflow app runs
	// the chatflow's steps.
	scenario := opts.App
	if scenario == AppWorkflow {
		scenario = AppChatflow
	}
	l, err := sim.New(opts.Seed).Live(opts.System, scenario, opts.LLM)
	if err != nil {
		return nil, err
	}
	return start(addr, opts, live{l})
}

func (o Options) defaults() (Options, error) {
	if len(o.Keys)+len(o.AppKeys) == 0 || slices.Contains(o.Keys, "") {
		return o, errors.New("emulate: an API key is required")
	}
	for k, app := range o.AppKeys {
		if k == "" || !slices.Contains(Apps, app) {
			return o, fmt.Errorf("emulate: a key for app %q: want a key and one of %s", app, strings.Join(Apps, ", "))
		}
	}
	if o.App == "" {
		o.App = AppChatflow
	}
	if !slices.Contains(Apps, o.App) {
		return o, fmt.Errorf("emulate: app %q: want one of %s", o.App, strings.Join(Apps, ", "))
	}
	if o.Ping <= 0 {
		o.Ping = 10 * time.Second
	}
	if o.Chunks <= 0 {
		o.Chunks = 20
	}
	return o, nil
}

// start serves m on addr.
func start(addr string, opts Options, m model) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulate: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{opts: opts, model: m, pieces: pieces(opts.Chunks), ln: ln, cancel: cancel, ran: make(chan struct{})}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		defer close(s.ran)
		_ = m.Run(ctx)
	}()
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// URL is the base URL of the service API, http://127.0.0.1:<port>/v1.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/v1" }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Down is closed when the model stops serving: it failed (Err says how) or
// the server was closed.
func (s *Server) Down() <-chan struct{} { return s.ran }

// Err is the model's failure (an OOM kill) once it has one.
func (s *Server) Err() error { return s.model.Err() }

// Utilisation is each service's CPU use since the start, as a fraction of
// what the configuration gives it.
func (s *Server) Utilisation() map[string]float64 { return s.model.Utilisation() }

// Close stops the model (open streams end), the listener and every
// connection, and waits for the model's goroutine.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		<-s.ran
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err = s.http.Shutdown(ctx); err != nil {
			err = s.http.Close()
		}
	})
	return err
}

// Handler is the service API, for mounting elsewhere (tests).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat-messages", s.auth(s.chat))
	mux.HandleFunc("POST /v1/workflows/run", s.auth(s.workflow))
	mux.HandleFunc("POST /v1/datasets/{id}/retrieve", s.auth(s.retrieve))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if s.model.Err() != nil {
			difyError(w, http.StatusServiceUnavailable, "unavailable", "the system is down")
			return
		}
		writeJSON(w, http.StatusOK, object{{"status", "ok"}, {"version", "tune-emulate"}})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		difyError(w, http.StatusNotFound, "not_found", "The requested URL was not found on the server.")
	})
	return mux
}

// auth checks the Bearer key in constant time, then admits the request
// under MaxActive for the key's app.
func (s *Server) auth(next func(w http.ResponseWriter, r *http.Request, app string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		app, known := s.appOf(key)
		if !ok || !known {
			difyError(w, http.StatusUnauthorized, "unauthorized", "Access token is invalid")
			return
		}
		n := s.active.Add(1)
		defer s.active.Add(-1)
		if s.opts.MaxActive > 0 && n > int64(s.opts.MaxActive) {
			difyError(w, http.StatusTooManyRequests, "too_many_requests",
				fmt.Sprintf("Too many requests. Please try again later. The current maximum concurrent requests allowed is %d.", s.opts.MaxActive))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next(w, r, app)
	}
}

// appOf is the app key serves, comparing it with every key in constant
// time.
func (s *Server) appOf(key string) (app string, known bool) {
	found := 0
	for _, k := range s.opts.Keys {
		found |= subtle.ConstantTimeCompare([]byte(k), []byte(key))
	}
	if found == 1 {
		app = s.opts.App
	}
	for k, a := range s.opts.AppKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			found, app = 1, a
		}
	}
	return app, found == 1
}

// chatBody is POST /chat-messages and /workflows/run.
type chatBody struct {
	Inputs         map[string]any `json:"inputs"`
	Query          string         `json:"query"`
	ResponseMode   string         `json:"response_mode"`
	User           string         `json:"user"`
	ConversationID string         `json:"conversation_id"`
	Files          []any          `json:"files"`
}

// decode reads a JSON body into v, answering 400 invalid_param itself when
// it is not JSON.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		difyError(w, http.StatusBadRequest, "invalid_param", "The browser (or proxy) sent a request that this server could not understand.")
		return false
	}
	return true
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, app string) {
	if !chatApp(app) {
		difyError(w, http.StatusBadRequest, "not_chat_app", "Please check if your app mode matches the right API route.")
		return
	}
	s.run(w, r, true, app)
}

func (s *Server) workflow(w http.ResponseWriter, r *http.Request, app string) {
	if chatApp(app) {
		difyError(w, http.StatusBadRequest, "not_workflow_app", "Please check if your app mode matches the right API route.")
		return
	}
	s.run(w, r, false, app)
}

// run checks a chat-messages or workflows/run body as Dify does (a query
// for chat, a user, a response mode) and serves the call.
func (s *Server) run(w http.ResponseWriter, r *http.Request, chat bool, app string) {
	var b chatBody
	if !decode(w, r, &b) {
		return
	}
	switch {
	case chat && strings.TrimSpace(b.Query) == "":
		difyError(w, http.StatusBadRequest, "invalid_param", "query is required")
		return
	case b.User == "":
		difyError(w, http.StatusBadRequest, "invalid_param", "user is required")
		return
	case b.ResponseMode != "streaming" && b.ResponseMode != "blocking":
		difyError(w, http.StatusBadRequest, "invalid_param", "response_mode must be streaming or blocking")
		return
	}
	conv := ""
	if chat {
		conv = b.ConversationID
	}
	s.serve(w, r, app, b.ResponseMode == "blocking", b.Query, conv, b.User)
}

// serve runs one model call and writes what Dify writes as it goes, one
// write and flush per event: a ping each Ping from the start (headers go
// out with the first one when the app is slow to start), the workflow's
// opening events at the model's first byte, each answer chunk as the model
// generates it (an llm call) and the rest when the call ends.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, app string, blocking bool, query, conv, user string) {
	scenario := app
	if scenario == AppWorkflow {
		scenario = "workflow"
	}
	c, err := s.model.Do(scenario)
	if err != nil {
		badGateway(w)
		return
	}
	rc := http.NewResponseController(w)
	broken := false
	send := func(p []byte) {
		if broken {
			return
		}
		if _, err := w.Write(p); err != nil || rc.Flush() != nil {
			broken = true // the client went away; the request's context ends too
		}
	}
	st := newStream(app, query, conv, user, s.pieces, send)
	open := false // status and headers sent
	begin := func() {
		if open {
			return
		}
		open = true
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()
	}
	ping := time.NewTicker(s.opts.Ping)
	defer ping.Stop()
	first := c.First()
	var tokens <-chan int
	for {
		select {
		case <-first:
			first = nil
			if blocking {
				continue
			}
			begin()
			st.opening()
			if g, ok := c.(generator); ok {
				tokens = g.Tokens()
			}
		case n, ok := <-tokens:
			if !ok {
				tokens = nil
				continue
			}
			for range n {
				st.chunk()
			}
		case kind := <-c.Done():
			switch {
			case blocking && kind == "":
				writeJSON(w, http.StatusOK, st.blocking())
			case kind != "" && (blocking || !open):
				failure(w, kind)
			case kind == "":
				begin()
				s.drain(st, tokens)
				st.success()
			default:
				st.failure(kind)
			}
			return
		case <-ping.C:
			if !blocking {
				begin()
				send(pingEvent)
			}
		case <-r.Context().Done():
			s.model.Cancel(c)
			return
		}
	}
}

// drain sends the chunks a generating call produced before it ended.
func (s *Server) drain(st *stream, tokens <-chan int) {
	for tokens != nil {
		select {
		case n, ok := <-tokens:
			if !ok {
				return
			}
			for range n {
				st.chunk()
			}
		default:
			return
		}
	}
}

var pingEvent = []byte("event: ping\n\n")

// retrieveBody is POST /datasets/{id}/retrieve.
type retrieveBody struct {
	Query          string `json:"query"`
	RetrievalModel struct {
		SearchMethod string `json:"search_method"`
		TopK         int    `json:"top_k"`
	} `json:"retrieval_model"`
}

func (s *Server) retrieve(w http.ResponseWriter, r *http.Request, _ string) {
	var b retrieveBody
	if !decode(w, r, &b) {
		return
	}
	switch n := len([]rune(b.Query)); {
	case n == 0:
		difyError(w, http.StatusBadRequest, "invalid_param", "query is required")
		return
	case n > 250:
		difyError(w, http.StatusBadRequest, "invalid_param", "Query cannot exceed 250 characters")
		return
	}
	k := b.RetrievalModel.TopK
	if k <= 0 || k > 10 {
		k = 3
	}
	c, err := s.model.Do("retrieval")
	if err != nil {
		badGateway(w)
		return
	}
	select {
	case kind := <-c.Done():
		if kind != "" {
			failure(w, kind)
			return
		}
		writeJSON(w, http.StatusOK, records(r.PathValue("id"), b.Query, k))
	case <-r.Context().Done():
		s.model.Cancel(c)
	}
}

// failure answers a request the model failed before its stream began.
func failure(w http.ResponseWriter, kind string) {
	if kind == "down" {
		badGateway(w)
		return
	}
	difyError(w, http.StatusInternalServerError, "internal_server_error", failureMessage(kind))
}

// failureMessage is what Dify's log and error body say for a model failure.
func failureMessage(kind string) string {
	switch kind {
	case "db_too_many_connections":
		return "(psycopg2.OperationalError) connection to server failed: FATAL:  sorry, too many clients already"
	case "pool_timeout":
		return "QueuePool limit reached, connection timed out, timeout 30.00"
	case "down":
		return "upstream connection reset: the pod was OOMKilled"
	}
	return "Internal Server Error: " + kind
}

// badGateway is what the ingress answers when no pod is left behind it.
func badGateway(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = io.WriteString(w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
}

// difyError writes Dify's error body {code, message, status}.
func difyError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, object{{"code", code}, {"message", msg}, {"status", status}})
}

func writeJSON(w http.ResponseWriter, status int, v object) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(appendJSON(nil, v), '\n'))
}

func newID() string { return uuid.NewString() }

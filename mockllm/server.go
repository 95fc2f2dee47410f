package mockllm

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tune-dify/tune/internal/wait"
)

// Options configure a Server.
type Options struct {
	// TTFT is the time from a request's arrival to its first token
	// (default 500 ms).
	TTFT time.Duration
	// TokensPerSecond is each completion's generation rate after the
	// first token (default 50).
	TokensPerSecond float64
	// Tokens is a completion's length when the request does not ask for
	// fewer with max_tokens or max_completion_tokens (default 128).
	Tokens int
	// Models are the names GET /v1/models lists (default mock-llm). Any
	// model name is accepted in a completion request.
	Models []string
	// Key, if set, is the Bearer key every request must carry.
	Key string
}

// Limits that keep one request from holding the server.
const (
	maxTokens = 16384   // a completion's length, whatever the options or request say
	maxBody   = 8 << 20 // a request body: long prompts, bounded
)

// Errors of Start, compared with errors.Is.
var (
	ErrOptions = errors.New("mockllm: bad options")
)

// Server is a running mock provider. Close it when done.
type Server struct {
	opts Options
	ln   net.Listener
	http *http.Server
	once sync.Once

	completions, tokens atomic.Int64
}

// Start validates opts, fills in defaults and serves on addr (for example
// "127.0.0.1:0").
func Start(addr string, opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mockllm: %w", err)
	}
	s := &Server{opts: opts, ln: ln}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute, // the body; a stream's writes are bounded by its tokens
		IdleTimeout:       2 * time.Minute,
	}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.TTFT == 0 {
		o.TTFT = 500 * time.Millisecond
	}
	if o.TokensPerSecond == 0 {
		o.TokensPerSecond = 50
	}
	if o.Tokens == 0 {
		o.Tokens = 128
	}
	if len(o.Models) == 0 {
		o.Models = []string{"mock-llm"}
	}
	var errs []error
	if o.TTFT < 0 {
		errs = append(errs, fmt.Errorf("%w: TTFT %v is negative", ErrOptions, o.TTFT))
	}
	if o.TokensPerSecond < 0 || o.TokensPerSecond > 1e6 {
		errs = append(errs, fmt.Errorf("%w: tokens per second %g: want 0 < rate ≤ 1e6", ErrOptions, o.TokensPerSecond))
	}
	if o.Tokens < 1 || o.Tokens > maxTokens {
		errs = append(errs, fmt.Errorf("%w: tokens %d: want 1 to %d", ErrOptions, o.Tokens, maxTokens))
	}
	return o, errors.Join(errs...)
}

// URL is the base URL an OpenAI client takes, http://<addr>/v1.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/v1" }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Served is how many completions finished and how many tokens they held.
func (s *Server) Served() (completions, tokens int64) { return s.completions.Load(), s.tokens.Load() }

// Close stops the listener and ends open completions within 5 s.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err = s.http.Shutdown(ctx); err != nil {
			err = s.http.Close()
		}
	})
	return err
}

// Handler is the API, for mounting elsewhere (tests).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.auth(s.complete))
	mux.HandleFunc("GET /v1/models", s.auth(s.models))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "invalid_request_error", "", "Unknown request URL: "+r.Method+" "+r.URL.Path+".")
	})
	return mux
}

func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Key != "" {
			key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.Key)) != 1 {
				apiError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next(w, r)
	}
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, m := range s.opts.Models {
		list.Data = append(list.Data, model{m, "model", 0, "tune"})
	}
	writeJSON(w, http.StatusOK, list)
}

// request is the part of a chat-completions request the mock reads; other
// fields (temperature, tools, ...) are accepted and ignored.
type request struct {
	Model         string    `json:"model"`
	Messages      []message `json:"messages"`
	Stream        bool      `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int `json:"max_tokens"`
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	N                   *int `json:"n"`
}

// message content is a string or an array of parts.
type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// promptTokens estimates the prompt's tokens as OpenAI's rule of thumb
// does: about four characters a token.
func promptTokens(msgs []message) int {
	chars := 0
	for _, m := range msgs {
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			chars += utf8.RuneCountInString(s)
			continue
		}
		var parts []struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(m.Content, &parts) == nil {
			for _, p := range parts {
				chars += utf8.RuneCountInString(p.Text)
			}
		}
	}
	return max(1, (chars+3)/4)
}

// length is the completion's token count and why it stops there.
func (s *Server) length(req *request) (int, string) {
	n, reason := s.opts.Tokens, "stop"
	for _, limit := range []*int{req.MaxTokens, req.MaxCompletionTokens} {
		if limit != nil && *limit < n {
			n, reason = *limit, "length"
		}
	}
	return min(n, maxTokens), reason
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request: "+err.Error())
		return
	}
	switch {
	case req.Model == "":
		apiError(w, http.StatusBadRequest, "invalid_request_error", "", "you must provide a model parameter")
		return
	case len(req.Messages) == 0:
		apiError(w, http.StatusBadRequest, "invalid_request_error", "", "[] is too short - 'messages'")
		return
	case req.N != nil && *req.N != 1:
		apiError(w, http.StatusBadRequest, "invalid_request_error", "", "n: the mock generates one choice")
		return
	case req.MaxTokens != nil && *req.MaxTokens < 1, req.MaxCompletionTokens != nil && *req.MaxCompletionTokens < 1:
		apiError(w, http.StatusBadRequest, "invalid_request_error", "", "max_tokens must be at least 1")
		return
	}
	c := &completion{s: s, id: "chatcmpl-" + randomID(), model: req.Model, created: arrived.Unix(),
		arrived: arrived, prompt: promptTokens(req.Messages)}
	c.n, c.finish = s.length(&req)
	if req.Stream {
		c.stream(w, r.Context(), req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	c.whole(w, r.Context())
}

// completion is one answer being generated.
type completion struct {
	s         *Server
	id, model string
	created   int64
	arrived   time.Time
	prompt, n int
	finish    string
	buf       []byte
}

// due is when token i (from 0) is generated.
func (c *completion) due(i int) time.Time {
	return c.arrived.Add(c.s.opts.TTFT + time.Duration(float64(i)/c.s.opts.TokensPerSecond*float64(time.Second)))
}

// words is what the mock says, a token a word.
var words = strings.Fields("This answer comes from tune mock-llm: no model ran, so the platform around it " +
	"is what a load test measures. Each word is one token, produced at the rate the mock was given.")

func token(i int) string { return words[i%len(words)] + " " }

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (c *completion) usage() usage { return usage{c.prompt, c.n, c.prompt + c.n} }

type delta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chunkChoice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	Logprobs     *string `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint *string       `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *usage        `json:"usage,omitempty"`
}

// stream writes the completion as OpenAI's server-sent events, one write
// and flush per chunk: the role and first token at TTFT, a token each
// 1/rate after, the finish reason, the usage when asked, and [DONE].
func (c *completion) stream(w http.ResponseWriter, ctx context.Context, withUsage bool) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	send := func(ch chunk) bool {
		b, _ := json.Marshal(ch)
		c.buf = append(append(append(c.buf[:0], "data: "...), b...), "\n\n"...)
		_, err := w.Write(c.buf)
		return err == nil && rc.Flush() == nil
	}
	base := chunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model}
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for i := range c.n {
		if !wait.Until(ctx, tm, c.due(i)) {
			return
		}
		text := token(i)
		ch := base
		d := delta{Content: &text}
		if i == 0 {
			d.Role = "assistant"
		}
		ch.Choices = []chunkChoice{{Delta: d}}
		if !send(ch) {
			return
		}
	}
	ch := base
	ch.Choices = []chunkChoice{{FinishReason: &c.finish}}
	if !send(ch) {
		return
	}
	if withUsage {
		ch := base
		u := c.usage()
		ch.Choices, ch.Usage = []chunkChoice{}, &u
		if !send(ch) {
			return
		}
	}
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	c.s.completions.Add(1)
	c.s.tokens.Add(int64(c.n))
}

// whole answers a non-streaming request once its last token is generated.
func (c *completion) whole(w http.ResponseWriter, ctx context.Context) {
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	if !wait.Until(ctx, tm, c.due(c.n-1)) {
		return
	}
	var text strings.Builder
	for i := range c.n {
		text.WriteString(token(i))
	}
	type choice struct {
		Index   int `json:"index"`
		Message struct {
			Role    string  `json:"role"`
			Content string  `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"message"`
		Logprobs     *string `json:"logprobs"`
		FinishReason string  `json:"finish_reason"`
	}
	ch := choice{FinishReason: c.finish}
	ch.Message.Role, ch.Message.Content = "assistant", text.String()
	writeJSON(w, http.StatusOK, struct {
		ID                string   `json:"id"`
		Object            string   `json:"object"`
		Created           int64    `json:"created"`
		Model             string   `json:"model"`
		SystemFingerprint *string  `json:"system_fingerprint"`
		Choices           []choice `json:"choices"`
		Usage             usage    `json:"usage"`
	}{c.id, "chat.completion", c.created, c.model, nil, []choice{ch}, c.usage()})
	c.s.completions.Add(1)
	c.s.tokens.Add(int64(c.n))
}

// apiError writes OpenAI's error body.
func apiError(w http.ResponseWriter, status int, typ, code, msg string) {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: msg, Type: typ}
	if code != "" {
		b.Code = &code
	}
	writeJSON(w, status, struct {
		Error body `json:"error"`
	}{b})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

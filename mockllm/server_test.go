package mockllm_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/mockllm"
)

func start(t *testing.T, opts mockllm.Options) *mockllm.Server {
	t.Helper()
	srv, err := mockllm.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// client is go-openai, a real OpenAI client library, pointed at srv.
func client(srv *mockllm.Server, key string) *openai.Client {
	cfg := openai.DefaultConfig(key)
	cfg.BaseURL = srv.URL()
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	return openai.NewClientWithConfig(cfg)
}

func chatRequest(maxTokens int) openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{
		Model:               "gpt-4o-mini",
		Messages:            []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "What is Dify?"}},
		MaxCompletionTokens: maxTokens,
	}
}

// TestStreamParsedByOpenAIClient: go-openai's stream reader parses every
// chunk: the role first, one token per chunk, the finish reason, the
// usage when asked for, then io.EOF at [DONE].
func TestStreamParsedByOpenAIClient(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, mockllm.Options{TTFT: time.Millisecond, TokensPerSecond: 1e5, Tokens: 12})
	req := chatRequest(0)
	req.Stream = true
	req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	st, err := client(srv, "sk-any").CreateChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var text strings.Builder
	var roles, tokens int
	var finish openai.FinishReason
	var usage *openai.Usage
	for {
		resp, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.Object != "chat.completion.chunk" || resp.Model != "gpt-4o-mini" || !strings.HasPrefix(resp.ID, "chatcmpl-") {
			t.Errorf("chunk %+v", resp)
		}
		if resp.Usage != nil {
			usage = resp.Usage
			continue
		}
		d := resp.Choices[0].Delta
		if d.Role == openai.ChatMessageRoleAssistant {
			roles++
		}
		if d.Content != "" {
			tokens++
			text.WriteString(d.Content)
		}
		if resp.Choices[0].FinishReason != "" {
			finish = resp.Choices[0].FinishReason
		}
	}
	if roles != 1 || tokens != 12 || finish != openai.FinishReasonStop || !strings.HasPrefix(text.String(), "This answer comes from tune mock-llm") {
		t.Errorf("roles %d, tokens %d, finish %q, text %q", roles, tokens, finish, text.String())
	}
	if usage == nil || usage.CompletionTokens != 12 || usage.PromptTokens < 1 || usage.TotalTokens != usage.PromptTokens+12 {
		t.Errorf("usage %+v", usage)
	}
	if n, tok := srv.Served(); n != 1 || tok != 12 {
		t.Errorf("served %d completions, %d tokens", n, tok)
	}
}

// TestWholeCompletion: a non-streaming request gets one chat.completion
// with the message, the finish reason (length when max_tokens cuts it)
// and the usage.
func TestWholeCompletion(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, mockllm.Options{TTFT: time.Millisecond, TokensPerSecond: 1e5, Tokens: 40})
	resp, err := client(srv, "").CreateChatCompletion(context.Background(), chatRequest(5))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if resp.Object != "chat.completion" || c.Message.Role != "assistant" || len(strings.Fields(c.Message.Content)) != 5 ||
		c.FinishReason != openai.FinishReasonLength || resp.Usage.CompletionTokens != 5 {
		t.Errorf("completion %+v", resp)
	}
	models, err := client(srv, "").ListModels(context.Background())
	if err != nil || len(models.Models) != 1 || models.Models[0].ID != "mock-llm" {
		t.Errorf("models %+v, %v", models, err)
	}
}

// TestTokensArriveOverTime: with a TTFT and a rate the first token comes
// no sooner than TTFT and the last no sooner than TTFT + (n-1)/rate, from
// the request's start (lower bounds the server guarantees, not a timing
// assertion on the machine's speed).
func TestTokensArriveOverTime(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, mockllm.Options{TTFT: 50 * time.Millisecond, TokensPerSecond: 100, Tokens: 11})
	req := chatRequest(0)
	req.Stream = true
	t0 := time.Now()
	st, err := client(srv, "").CreateChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var first, last time.Time
	for {
		resp, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Choices) > 0 && resp.Choices[0].Delta.Content != "" {
			if first.IsZero() {
				first = time.Now()
			}
			last = time.Now()
		}
	}
	if ttft, total := first.Sub(t0), last.Sub(t0); ttft < 50*time.Millisecond || total < 150*time.Millisecond {
		t.Errorf("first token after %v, last after %v; want ≥ 50 ms and ≥ 150 ms", ttft, total)
	}
}

func TestRefusals(t *testing.T) {
	leakcheck.Check(t)
	srv := start(t, mockllm.Options{Key: "sk-mock", TTFT: time.Millisecond})
	_, err := client(srv, "sk-wrong").CreateChatCompletion(context.Background(), chatRequest(1))
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Errorf("wrong key: %v", err)
	}
	bad := chatRequest(1)
	bad.Messages = nil
	_, err = client(srv, "sk-mock").CreateChatCompletion(context.Background(), bad)
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 400 || apiErr.Type != "invalid_request_error" {
		t.Errorf("no messages: %v", err)
	}
	if _, err := client(srv, "sk-mock").CreateChatCompletion(context.Background(), chatRequest(1)); err != nil {
		t.Errorf("right key: %v", err)
	}
}

// TestClientGoneEndsCompletion: a client that cancels mid-stream frees the
// server at once (Close returns without waiting out the tokens).
func TestClientGoneEndsCompletion(t *testing.T) {
	leakcheck.Check(t)
	srv, err := mockllm.Start("127.0.0.1:0", mockllm.Options{TTFT: time.Millisecond, TokensPerSecond: 1, Tokens: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req := chatRequest(0)
	req.Stream = true
	st, err := client(srv, "").CreateChatCompletionStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	st.Close()
	if err := srv.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if n, _ := srv.Served(); n != 0 {
		t.Errorf("a cancelled completion counted as served")
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []mockllm.Options{{TTFT: -time.Second}, {TokensPerSecond: -1}, {Tokens: 1 << 20}} {
		if _, err := mockllm.Start("127.0.0.1:0", o); !errors.Is(err, mockllm.ErrOptions) {
			t.Errorf("%+v: err %v", o, err)
		}
	}
}

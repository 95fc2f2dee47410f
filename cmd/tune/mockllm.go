package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/mockllm"
)

type mockLLMOpts struct {
	listen  string
	ttft    time.Duration
	rate    float64
	tokens  int
	models  []string
	keyEnv  string
	keyFile string
	forD    time.Duration
}

func newMockLLMCmd() *cobra.Command {
	o := &mockLLMOpts{}
	c := &cobra.Command{
		Use:   "mock-llm [--listen ADDR] [--ttft D] [--tokens-per-second R] [--tokens N]",
		Short: "Serve an OpenAI-compatible chat-completions endpoint that costs nothing",
		Long: `mock-llm serves POST /v1/chat/completions (streaming and not) and GET /v1/models
the way OpenAI's API does, but no model runs: each completion waits --ttft, then
produces --tokens tokens (fewer if the request's max_tokens says so) at
--tokens-per-second, streamed one chunk a token. Point a real Dify's
"OpenAI-API-compatible" model provider at it (API endpoint URL
http://<this host>:<port>/v1, any model name) and load-test the platform with
tune load without paying for tokens.

The provider must reach it: on a cluster, listen on an address the api and
worker pods can reach (--listen 0.0.0.0:8000, or run it in a pod). A key is
required only if --api-key-env names a set variable or --api-key-file is given.
It serves until interrupted, or for --for, then prints what it served.`,
		Example: `  tune mock-llm --listen 0.0.0.0:8000 --ttft 800ms --tokens-per-second 40 --tokens 200
  MOCK_LLM_KEY=sk-local tune mock-llm --api-key-env MOCK_LLM_KEY --for 10m`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.run(c.Context(), c.OutOrStdout())
		},
	}
	f := c.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8000", "address to serve on")
	f.DurationVar(&o.ttft, "ttft", 500*time.Millisecond, "time from a request to its first token")
	f.Float64Var(&o.rate, "tokens-per-second", 50, "each completion's generation rate after its first token")
	f.IntVar(&o.tokens, "tokens", 128, "tokens a completion has unless the request's max_tokens asks for fewer")
	f.StringSliceVar(&o.models, "model", []string{"mock-llm"}, "model names GET /v1/models lists (any name is accepted in a request)")
	f.StringVar(&o.keyEnv, "api-key-env", "MOCK_LLM_API_KEY", "environment variable holding the Bearer key requests must carry (unset: no key)")
	f.StringVar(&o.keyFile, "api-key-file", "", "file holding the Bearer key (instead of --api-key-env)")
	f.DurationVar(&o.forD, "for", 0, "stop after this long (0: until interrupted)")
	return c
}

func (o *mockLLMOpts) run(ctx context.Context, stdout io.Writer) error {
	switch {
	case o.ttft <= 0:
		return badInput("--ttft %v: want a positive duration", o.ttft)
	case o.rate <= 0 || o.rate > 1e6:
		return badInput("--tokens-per-second %g: want 0 < rate ≤ 1e6", o.rate)
	case o.tokens < 1 || o.tokens > 16384:
		return badInput("--tokens %d: want 1 to 16384", o.tokens)
	case o.forD < 0:
		return badInput("--for %v: must not be negative", o.forD)
	}
	key, where := strings.TrimSpace(os.Getenv(o.keyEnv)), "$"+o.keyEnv
	if o.keyFile != "" {
		b, err := os.ReadFile(o.keyFile)
		if err != nil {
			return badInput("--api-key-file: %w", err)
		}
		if key, where = strings.TrimSpace(string(b)), o.keyFile; key == "" {
			return badInput("--api-key-file %s is empty", o.keyFile)
		}
	}
	srv, err := mockllm.Start(o.listen, mockllm.Options{TTFT: o.ttft, TokensPerSecond: o.rate, Tokens: o.tokens,
		Models: o.models, Key: key})
	if err != nil {
		return fmt.Errorf("mock-llm: %w", err)
	}
	defer srv.Close()
	auth := "no key"
	if key != "" {
		auth = "key from " + where
	}
	fmt.Fprintf(stdout, "mock LLM on %s (%s): first token after %v, %g tokens/s, %d tokens a completion\n",
		srv.URL(), auth, o.ttft, o.rate, o.tokens)
	if o.forD > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.forD)
		defer cancel()
	}
	<-ctx.Done()
	_ = srv.Close()
	n, tokens := srv.Served()
	fmt.Fprintf(stdout, "stopped; served %d completions, %d tokens\n", n, tokens)
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tune-dify/tune/deployer/local"
	"github.com/tune-dify/tune/spaces"
)

type emulateOpts struct {
	common
	config    string
	listen    string
	app       string
	keys      keySource
	maxActive int
	ping      time.Duration
	forD      time.Duration
}

func newEmulateCmd() *cobra.Command {
	o := &emulateOpts{}
	c := &cobra.Command{
		Use:   "emulate --budget B --space F [--config C.yaml]",
		Short: "Serve the embedded model as a Dify-compatible API on loopback, in real time",
		Long: `emulate serves one configuration of the embedded model as Dify's service API:
POST /v1/chat-messages (streaming or blocking), /v1/workflows/run and
/v1/datasets/{id}/retrieve, with Dify's event shapes, a ping every 10 s, 401 for a
wrong key, 429 over --max-active, and 500s or error events where the model fails a
request. Each request takes as long as the model says it would on that configuration,
so any load tool (tune load, Locust) can be pointed at it.

The key it accepts comes from --api-key-env (default DIFY_API_KEY) or --api-key-file.
It serves until interrupted, or for --for.`,
		Example: `  DIFY_API_KEY=app-local tune emulate --budget 8c16g --space spaces/default.yaml \
       --config spaces/presets/s8-final.yaml --listen 127.0.0.1:5001 &
  DIFY_API_KEY=app-local tune load --url http://127.0.0.1:5001/v1 --users 50 --duration 1m`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.run(c.Context(), c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.budget, "budget", "", "hardware the configuration is for (e.g. 8c16g)")
	f.StringVar(&o.space, "space", "", "search space file (e.g. spaces/default.yaml)")
	f.Int64Var(&o.seed, "seed", 1, "the model's noise")
	f.StringVar(&o.config, "config", "", "configuration file (parameter name → value); default: the space's current values")
	f.StringVar(&o.listen, "listen", "127.0.0.1:5001", "address to serve on")
	f.StringVar(&o.app, "app", "chatflow", "the app the keys serve: "+strings.Join(local.Apps, ", ")+" (chat apps answer /chat-messages, workflow /workflows/run; llm streams its answer token by token)")
	f.IntVar(&o.maxActive, "max-active", 0, "answer 429 beyond this many requests in flight, like APP_MAX_ACTIVE_REQUESTS (0: no limit)")
	f.DurationVar(&o.ping, "ping", 10*time.Second, "interval of the keep-alive ping event on open streams")
	f.DurationVar(&o.forD, "for", 0, "stop after this long (0: until interrupted)")
	o.keys.register(c, "environment variable holding the API key the emulator accepts")
	return c
}

func (o *emulateOpts) run(ctx context.Context, stdout, stderr io.Writer) error {
	o.target = "sim"
	in, err := o.load()
	if err != nil {
		return err
	}
	if !slices.Contains(local.Apps, o.app) {
		return badInput("--app %q: want one of %s", o.app, strings.Join(local.Apps, ", "))
	}
	if o.maxActive < 0 || o.ping <= 0 || o.forD < 0 {
		return badInput("--max-active, --ping and --for must not be negative (--ping must be positive)")
	}
	cfg := spaces.Config{}
	what := "the space's current configuration"
	if o.config != "" {
		if cfg, err = spaces.LoadConfig(o.config); err != nil {
			return err
		}
		what = o.config
	}
	cfg, sys, err := checkConfig(in, cfg, what)
	if err != nil {
		return err
	}
	key, err := o.keys.key()
	if err != nil {
		return err
	}
	srv, err := local.Start(o.listen, local.Options{System: sys, App: o.app, LLM: in.workload.LLM, Seed: o.seed,
		Keys: []string{string(key)}, Ping: o.ping, MaxActive: o.maxActive})
	if err != nil {
		return fmt.Errorf("emulate %s: %w", what, err)
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "emulating Dify (%s app) on %s: %s\n", o.app, in.budget.Name, shortConfig(in.space, cfg))
	fmt.Fprintf(stdout, "serving %s (key from %s); interrupt to stop\n", srv.URL(), o.keys.where())
	if o.forD > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.forD)
		defer cancel()
	}
	select {
	case <-ctx.Done():
	case <-srv.Down():
	}
	if err := srv.Err(); err != nil {
		fmt.Fprintf(stderr, "the emulated system failed: %v\n", err)
		return errSilent
	}
	fmt.Fprintf(stdout, "stopped; CPU utilisation %s\n", utilisationLine(srv.Utilisation()))
	return nil
}

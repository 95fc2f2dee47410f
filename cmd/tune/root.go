package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/tune-dify/tune/spaces"
)

// version is stamped by the Makefile (-X main.version=...).
var version = "dev"

// Exit codes, the command-line contract (README, "Exit codes").
const (
	exitOK       = 0
	exitFailed   = 1 // the study ran but something failed the user must see
	exitBadInput = 2 // flags, space file, budget, config
)

// inputError marks an error as the user's input (exit code 2).
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

// badInput wraps err (or a formatted message) as bad input.
func badInput(format string, a ...any) error { return inputError{fmt.Errorf(format, a...)} }

// errSilent ends a command with exit code 1 after it has already told the
// user why.
var errSilent = errors.New("")

func exitCode(err error) int {
	var in inputError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &in), errors.Is(err, spaces.ErrInvalid):
		return exitBadInput
	}
	return exitFailed
}

// run is the whole program: main only adds the process around it, so tests
// run commands in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRoot(stdout, stderr, args)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && err != errSilent {
		fmt.Fprintf(stderr, "tune: %v\n", err)
	}
	return err
}

// newRoot wires every command; args are kept for the command line that
// values.yaml records.
func newRoot(stdout, stderr io.Writer, args []string) *cobra.Command {
	root := newStudyCmd(append([]string{"tune"}, args...))
	root.Version = version
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return inputError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.PersistentFlags().String("config-file", "", "read flag values from this YAML file (keys are flag names, e.g. budget: 16c32g)")
	root.AddCommand(newEvalCmd(), newExportCmd(), newValidateCmd(), newLoadCmd(), newEmulateCmd(), newMockLLMCmd(), newVersionCmd())
	root.AddCommand(newReportCmd())
	for _, c := range root.Commands() {
		c.SilenceErrors, c.SilenceUsage = true, true
	}
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return bindEnv(c) }
	return root
}

// bindEnv fills every flag the user did not set from TUNE_<FLAG> environment
// variables and then from --config-file, through viper. Command-line flags
// win, then the environment, then the file.
func bindEnv(c *cobra.Command) error {
	v := viper.New()
	v.SetEnvPrefix("TUNE")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if f, _ := c.Flags().GetString("config-file"); f != "" {
		v.SetConfigFile(f)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return badInput("--config-file %s: %v", f, err)
		}
		for _, k := range v.AllKeys() {
			if c.Flags().Lookup(k) == nil {
				return badInput("--config-file %s: unknown key %q: keys are the flags of %s (see --help)", f, k, c.CommandPath())
			}
		}
	}
	var errs []error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config-file" || f.Name == "help" || !v.IsSet(f.Name) {
			return
		}
		val := v.Get(f.Name)
		var s string
		switch x := val.(type) {
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(x)
		}
		if err := f.Value.Set(s); err != nil {
			errs = append(errs, fmt.Errorf("%s (from TUNE_%s or --config-file): %v", f.Name,
				strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")), err))
		}
	})
	if len(errs) > 0 {
		return inputError{errors.Join(errs...)}
	}
	return nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tune's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), "tune", version)
			return nil
		},
	}
}

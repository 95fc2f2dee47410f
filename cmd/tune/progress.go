package main

import (
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tune-dify/tune/internal/progress"
	"github.com/tune-dify/tune/spaces"
)

// progressOpts are the study's --quiet and --json flags.
type progressOpts struct{ quiet, json bool }

func (p *progressOpts) register(c *cobra.Command) {
	c.Flags().BoolVarP(&p.quiet, "quiet", "q", false, "print only errors (the output folder is written as usual)")
	c.Flags().BoolVar(&p.json, "json", false, "print one JSON object per event (start, each trial, done) instead of text, for batch jobs")
}

// progressNow is the progress display's clock; tests replace it so that
// times per trial and ETAs print the same on every run.
var progressNow = time.Now

// display builds the study's progress display on stdout: a status line
// redrawn in place when stdout is a terminal, plain lines otherwise, or
// what --quiet and --json ask for. The study passes its OnTrial to
// search.Study.OnTrial, writes its other text to Text() and calls
// Finish at the end.
func (p *progressOpts) display(stdout io.Writer, sp *spaces.Space, trials int, timeout time.Duration) *progress.Display {
	tty, width := false, 0
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = w
		}
	}
	return progress.New(stdout, progress.Choose(p.quiet, p.json, tty), progress.Options{
		Trials: trials, Timeout: timeout, Width: width, Now: progressNow,
		Describe: func(params map[string]any) string { return shortConfig(sp, params) },
	})
}

// Package progress shows a study's progress as its trials finish: one line
// per trial plus, on a terminal, a status line redrawn in place (trials
// done, the best so far, time per trial, the ETA to --trials or --timeout);
// plain lines for logs and CI; one JSON object per event for batch jobs; or
// nothing but errors.
//
// It reads trial records only (results): it must not import search,
// deployer or loader. The study calls Display.OnTrial; it never calls
// back.
//
// Imports of this module: results.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tune-dify/tune/results"
)

// Mode is how progress is shown.
type Mode int

// The modes; Live needs a terminal (see Choose).
const (
	Plain Mode = iota // one line per trial: logs, CI, pipes
	Live              // a terminal: trial lines scroll, the status line is redrawn in place
	JSON              // one JSON object per event on its own line
	Quiet             // nothing
)

// Choose picks the mode from the --quiet and --json flags and whether the
// output is a terminal.
func Choose(quiet, asJSON, terminal bool) Mode {
	switch {
	case asJSON:
		return JSON
	case quiet:
		return Quiet
	case terminal:
		return Live
	}
	return Plain
}

// Options say what the ETA counts towards and how a trial reads.
type Options struct {
	Trials  int           // --trials: the study's total, trials already stored included
	Timeout time.Duration // --timeout; 0: none
	// Describe writes a configuration in one line; nil leaves it out.
	Describe func(params map[string]any) string
	// Now is the clock; nil is time.Now. Tests pass a fake one.
	Now func() time.Time
	// Width is the terminal's width for the live status line; 0 is 100.
	Width int
}

// Display shows progress on w. Its methods are safe to call from one
// goroutine at a time (the study's); Live mode redraws from its own
// goroutine as well, under the same lock.
type Display struct {
	w    io.Writer
	mode Mode
	o    Options

	mu        sync.Mutex
	start     time.Time
	doneHere  int // trials finished since this process started
	doneTotal int // of the study, stored ones included
	best      *results.Trial
	status    string // the live status line on screen, "" when none
	stop      chan struct{}
	stopped   sync.WaitGroup
}

// New starts showing progress on w; Close stops it. In Live mode the status
// line's clock ticks every second between trials.
func New(w io.Writer, mode Mode, o Options) *Display {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Width <= 0 {
		o.Width = 100
	}
	d := &Display{w: w, mode: mode, o: o, start: o.Now()}
	if mode == Live {
		d.stop = make(chan struct{})
		d.stopped.Add(1)
		go d.tick()
	}
	return d
}

// Event is one JSON-mode line.
type Event struct {
	Event string `json:"event"` // "start", "trial" or "done"
	// Done and Total count the study's trials (stored ones included).
	Done  int `json:"done"`
	Total int `json:"total"`
	// ElapsedS is this run's wall-clock time; PerTrialS its mean time per
	// trial; ETAS the seconds left to --trials or --timeout, whichever
	// comes first (null until a trial has finished).
	ElapsedS  float64        `json:"elapsed_s"`
	PerTrialS *float64       `json:"per_trial_s"`
	ETAS      *float64       `json:"eta_s"`
	ETAUntil  string         `json:"eta_until,omitempty"` // "trials" or "timeout"
	Trial     *results.Trial `json:"trial,omitempty"`
	Best      *Best          `json:"best"`
	Study     string         `json:"study,omitempty"`
	// Recommended is the trial to deploy, in the "done" event; null when
	// no trial met the SLO.
	Recommended *int   `json:"recommended,omitempty"`
	Message     string `json:"message,omitempty"`
}

// Best is the best trial so far as events show it.
type Best struct {
	Number int     `json:"number"`
	TPS    float64 `json:"tps"`
	P95    float64 `json:"p95_ms"`
}

// Start announces a study: its name and how many trials are already stored.
func (d *Display) Start(study string, stored int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.doneTotal = stored
	if d.mode == JSON {
		e := d.event("start")
		e.Study = study
		d.emit(e)
	}
}

// OnTrial shows a finished trial and the best one so far (nil while no
// trial meets the SLO): the study's OnTrial hook.
func (d *Display) OnTrial(t results.Trial, best *results.Trial) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.doneHere++
	d.doneTotal = max(d.doneTotal+1, t.Number+1)
	if best != nil {
		b := *best
		d.best = &b
	}
	switch d.mode {
	case JSON:
		e := d.event("trial")
		e.Trial = &t
		d.emit(e)
	case Plain:
		fmt.Fprintf(d.w, "%s | %s\n", d.trialLine(t), d.timing())
	case Live:
		d.clear()
		fmt.Fprintln(d.w, d.trialLine(t))
		d.redraw()
	}
}

// Finish ends the display: the live status line is replaced by its last
// state, and JSON mode emits a "done" event with the recommended trial
// (nil: none) and message (why the study stopped early, or ""). It stops
// Live mode's clock; call it once.
func (d *Display) Finish(recommended *results.Trial, message string) {
	if d.stop != nil {
		close(d.stop)
		d.stopped.Wait()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.mode {
	case JSON:
		e := d.event("done")
		e.Message = message
		if recommended != nil {
			n := recommended.Number
			e.Recommended = &n
		}
		d.emit(e)
	case Live:
		if d.status != "" {
			d.clear()
			fmt.Fprintln(d.w, d.statusLine())
		}
	}
}

// Text is where the study's other human-readable lines go (its header and
// summary): w in Plain and Live mode (clearing the status line first, so
// text never mixes with it), nothing in JSON and Quiet mode.
func (d *Display) Text() io.Writer {
	switch d.mode {
	case Plain:
		return d.w
	case Live:
		return textWriter{d}
	}
	return io.Discard
}

type textWriter struct{ d *Display }

func (t textWriter) Write(p []byte) (int, error) {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	t.d.clear()
	n, err := t.d.w.Write(p)
	if err == nil && strings.HasSuffix(string(p), "\n") && t.d.doneHere > 0 {
		t.d.redraw()
	}
	return n, err
}

func (d *Display) tick() {
	defer d.stopped.Done()
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-tk.C:
			d.mu.Lock()
			if d.status != "" {
				d.redraw()
			}
			d.mu.Unlock()
		}
	}
}

// clear erases the status line (the cursor stays at its start).
func (d *Display) clear() {
	if d.status != "" {
		fmt.Fprint(d.w, "\r\x1b[2K")
		d.status = ""
	}
}

func (d *Display) redraw() {
	line := d.statusLine()
	if r := []rune(line); len(r) > d.o.Width-1 {
		line = string(r[:d.o.Width-2]) + "…"
	}
	fmt.Fprint(d.w, "\r\x1b[2K"+line)
	d.status = line
}

func (d *Display) statusLine() string {
	return fmt.Sprintf("%s · %s · %s", d.counter(), d.bestWords(), d.timing())
}

func (d *Display) counter() string {
	if d.o.Trials > 0 {
		return fmt.Sprintf("%d/%d trials", d.doneTotal, d.o.Trials)
	}
	return fmt.Sprintf("%d trials", d.doneTotal)
}

func (d *Display) bestWords() string {
	if d.best == nil {
		return "best — (none meets the SLO yet)"
	}
	return fmt.Sprintf("best %.1f TPS at P95 %.0f ms (#%d)", d.best.Metrics.TPS, d.best.Metrics.P95, d.best.Number)
}

// trialLine is one finished trial: its number, who proposed it, its
// configuration, its result and the best so far.
func (d *Display) trialLine(t results.Trial) string {
	var res string
	switch t.State {
	case results.StateComplete:
		m := t.Metrics
		res = fmt.Sprintf("TPS %6.1f  P95 %6.0f ms  err %5.2f%%", m.TPS, m.P95, 100*m.ErrorRate)
		if t.Screened() {
			res += fmt.Sprintf(" (screen %gs)", t.ScreenS)
		}
	default:
		res = fmt.Sprintf("%s: %s", t.State, strings.Join(strings.Fields(t.Error), " "))
	}
	// #N is the trial's stored number, as in trials.jsonl and the report;
	// k/total counts the trials done.
	total := max(d.o.Trials, d.doneTotal)
	w := len(fmt.Sprint(total))
	parts := []string{fmt.Sprintf("trial #%-*d %*d/%d  %-8s", w, t.Number, w, d.doneTotal, total, t.Origin)}
	if d.o.Describe != nil {
		parts[0] += " " + d.o.Describe(t.Params)
	}
	b := "best —"
	if d.best != nil {
		b = fmt.Sprintf("best %.1f (#%d)", d.best.Metrics.TPS, d.best.Number)
	}
	return strings.Join(append(parts, res, b), " | ")
}

// timing is the time per trial and the ETA in words.
func (d *Display) timing() string {
	per, eta, until, ok := d.eta()
	if !ok {
		return "elapsed " + words(d.o.Now().Sub(d.start))
	}
	s := fmt.Sprintf("%s/trial", words(per))
	switch {
	case until == "trials":
		s += ", ETA " + words(eta)
	case until == "timeout":
		s += ", ETA " + words(eta) + " (--timeout)"
	case d.o.Trials > 0:
		s += ", done"
	}
	return s
}

// eta is the mean time per trial of this run and the time left until
// --trials are done or --timeout ends the study, whichever comes first.
func (d *Display) eta() (per, eta time.Duration, until string, ok bool) {
	if d.doneHere == 0 {
		return 0, 0, "", false
	}
	elapsed := d.o.Now().Sub(d.start)
	per = elapsed / time.Duration(d.doneHere)
	if d.o.Trials > 0 {
		left := d.o.Trials - d.doneTotal
		if left <= 0 {
			return per, 0, "", true // done
		}
		eta, until = per*time.Duration(left), "trials"
	}
	if d.o.Timeout > 0 {
		if rest := max(d.o.Timeout-elapsed, 0); until == "" || rest < eta {
			eta, until = rest, "timeout"
		}
	}
	return per, eta, until, true
}

func (d *Display) event(kind string) Event {
	e := Event{Event: kind, Done: d.doneTotal, Total: d.o.Trials, ElapsedS: seconds(d.o.Now().Sub(d.start))}
	if per, eta, until, ok := d.eta(); ok {
		p, r := seconds(per), seconds(eta)
		e.PerTrialS, e.ETAS, e.ETAUntil = &p, &r, until
	}
	if d.best != nil {
		e.Best = &Best{Number: d.best.Number, TPS: d.best.Metrics.TPS, P95: d.best.Metrics.P95}
	}
	return e
}

func (d *Display) emit(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		// A trial that cannot be encoded was refused by the store first;
		// say so rather than drop the event.
		b, _ = json.Marshal(Event{Event: e.Event, Done: e.Done, Total: e.Total, Message: err.Error()})
	}
	d.w.Write(append(b, '\n'))
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// words writes a duration as a person reads it: 0.4s, 12s, 3m05s, 2h10m.
func words(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

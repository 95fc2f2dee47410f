// Command benchload is make bench-load: completed SSE streams per second
// of the client process's own CPU time (user + system, from its rusage,
// its start-up before the first request left out) for tune load and, in
// the same run, for Debian's Locust (FastHttpUser with a lean script that
// records only each stream's total, FastHttpUser with a script that
// records what the case study's Locust script records, and HttpUser), for
// tune load built with -tags tune_netconn (its connections net.Conn's, not
// raw system calls) and for a floor client (one thread, raw epoll, no
// parsing), against a one-core server sending a Dify chatflow stream of
// 21 events, each written on its own as Dify flushes them; then how close
// tune load's p50 total time is to the server's own timing of streams
// whose events are 10 ms apart. It prints figures; it asserts nothing.
//
// The server is this program re-executed in serve mode, a fresh one for
// each client, pinned to core 0 with GOMAXPROCS=1; it sends pre-rendered
// bytes, so its cost is its writes. Each client is pinned to core 1.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tune-dify/tune/loader"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve" {
		return serve(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "floor" {
		return floor(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	users := fs.Int("users", 100, "closed-loop users of each client in the throughput runs")
	dur := fs.Duration("duration", 10*time.Second, "length of each run")
	flushEach := fs.Bool("flush-each", true, "the throughput server flushes every event as Dify does (false: as its buffer fills, which flatters the clients)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute) // the whole run, installs included
	defer cancel()
	dir, err := os.MkdirTemp("", "bench-load-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	e := &env{dir: dir, self: self, stderr: stderr, dur: *dur, users: *users, flushEach: *flushEach, nproc: runtime.NumCPU()}
	pinNote := "server pinned to core 0 (GOMAXPROCS=1), each client to core 1"
	if _, err := exec.LookPath("taskset"); err != nil {
		pinNote = "unpinned: taskset (util-linux) is missing"
	} else if e.nproc < 2 {
		pinNote = "unpinned: one core, so server and client cannot be apart"
	} else {
		e.pinned = true
	}
	return e.bench(ctx, stdout, pinNote)
}

// env is one run's setup: a temp dir for binaries, files and logs, and
// whether subprocesses are pinned.
type env struct {
	dir, self, tune string
	tuneNet         string // tune built with -tags tune_netconn
	stderr          io.Writer
	dur             time.Duration // of each throughput and accuracy run
	users, nproc    int
	pinned          bool
	flushEach       bool
}

func (e *env) bench(ctx context.Context, w io.Writer, pinNote string) error {
	// tune, and tune whose connections stay net.Conn's (the loader's raw
	// system calls built out), to show what those save.
	e.tune, e.tuneNet = filepath.Join(e.dir, "tune"), filepath.Join(e.dir, "tune-netconn")
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for bin, tags := range map[string]string{e.tune: "", e.tuneNet: "tune_netconn"} {
		if out, err := exec.CommandContext(bctx, "go", "build", "-tags", tags, "-o", bin, "github.com/tune-dify/tune/cmd/tune").CombinedOutput(); err != nil {
			return fmt.Errorf("go build -tags %q ./cmd/tune: %v\n%s", tags, err, out)
		}
	}
	cores := 1 // the client's cores
	if !e.pinned {
		cores = e.nproc
	}

	// Throughput: each client against a fresh server, one after another.
	type row struct {
		client     string
		rate       float64 // streams/s per client core; < 0: unknown
		busy       float64 // the server's CPU share mid-run; < 0: unknown
		client1    float64 // the client process's CPU share mid-run; < 0: unknown
		cpu, start float64 // the client's CPU seconds from its first request to its exit, and before; < 0: unknown
		sys        float64 // the system (kernel) part of cpu
		streams    int64
		note       string
	}
	perCPU := func(r row) float64 {
		if r.rate < 0 || r.cpu <= 0 {
			return -1
		}
		return float64(r.streams) / r.cpu
	}
	measure := func(r *row, client func(srv *server, onStart func(int)) (*os.ProcessState, error)) error {
		srv, err := e.startServer(ctx, 0, "", 0)
		if err != nil {
			return err
		}
		defer srv.stop()
		srvCPU := busy(srv.cmd.Process.Pid, e.dur)
		var cliCPU <-chan float64
		startCPU := make(chan [2]float64, 1)
		ps, err := client(srv, func(pid int) {
			cliCPU = busy(pid, e.dur)
			go func() {
				select {
				case <-srv.first: // the client's start-up is over
					u, s := cpuTimes(pid)
					startCPU <- [2]float64{u, s}
				case <-ctx.Done():
					startCPU <- [2]float64{-1, -1}
				}
			}()
		})
		r.busy = <-srvCPU
		if cliCPU != nil {
			r.client1 = <-cliCPU
			us := <-startCPU
			if us[0] >= 0 {
				r.start = us[0] + us[1]
				if ps != nil {
					r.sys = ps.SystemTime().Seconds() - us[1]
					r.cpu = ps.UserTime().Seconds() - us[0] + r.sys
				}
			}
		}
		return err
	}
	rows := []row{{client: "tune load", rate: -1, busy: -1, client1: -1, cpu: -1, start: -1}}
	var sum *loader.Summary
	err := measure(&rows[0], func(srv *server, onStart func(int)) (ps *os.ProcessState, err error) {
		sum, ps, err = e.tuneLoad(ctx, e.tune, srv.url, e.users, 0, onStart)
		return ps, err
	})
	if err != nil {
		return err
	}
	rows[0].rate, rows[0].streams = float64(sum.Completed)/sum.Duration/float64(cores), sum.Completed
	if sum.Failed > 0 {
		rows[0].note = fmt.Sprintf("%d failed %v", sum.Failed, sum.Errors)
	}
	tn := row{client: "tune load, net.Conn", rate: -1, busy: -1, client1: -1, cpu: -1, start: -1}
	var tnSum *loader.Summary
	if err := measure(&tn, func(srv *server, onStart func(int)) (ps *os.ProcessState, err error) {
		tnSum, ps, err = e.tuneLoad(ctx, e.tuneNet, srv.url, e.users, 0, onStart)
		return ps, err
	}); err != nil {
		tn.note = err.Error()
	} else if tn.rate, tn.streams = float64(tnSum.Completed)/tnSum.Duration/float64(cores), tnSum.Completed; tnSum.Failed > 0 {
		tn.note = fmt.Sprintf("%d failed %v", tnSum.Failed, tnSum.Errors)
	}
	fl := row{client: "floor (raw epoll)", rate: -1, busy: -1, client1: -1, cpu: -1, start: -1}
	var fc floorCounts
	if err := measure(&fl, func(srv *server, onStart func(int)) (ps *os.ProcessState, err error) {
		fc, ps, err = e.runFloor(ctx, srv.url, e.users, onStart)
		return ps, err
	}); err != nil {
		fl.note = "floor: " + err.Error()
	} else {
		fl.rate, fl.streams = float64(fc.streams)/e.dur.Seconds()/float64(cores), fc.streams
	}
	locust, lerr := e.findLocust(ctx)
	for i, sc := range locustScripts {
		r := row{client: sc.label(), rate: -1, busy: -1, client1: -1, cpu: -1, start: -1, note: "locust: not available"}
		if lerr == nil {
			r.note = ""
			var ok, failed int64
			err := measure(&r, func(srv *server, onStart func(int)) (ps *os.ProcessState, err error) {
				ok, failed, ps, err = e.runLocust(ctx, locust, sc, srv.url, e.users, onStart)
				return ps, err
			})
			if err != nil {
				r.note = "locust: failed: " + err.Error()
			} else if r.rate, r.streams = float64(ok)/e.dur.Seconds()/float64(cores), ok; failed > 0 {
				r.note = fmt.Sprintf("%d failed", failed)
			}
		} else if i == 0 {
			r.note += " (" + lerr.Error() + ")"
		}
		rows = append(rows, r)
	}
	rows = append(rows, tn, fl)

	fmt.Fprintf(w, "\nmachine: nproc %d, %s, %s %s/%s, locust %s, load average %s\n", e.nproc, pinNote,
		runtime.Version(), runtime.GOOS, runtime.GOARCH, locustVersion(ctx), loadAverage())
	flushing := "each event its own write (a TCP segment), as Dify flushes them"
	if !e.flushEach {
		flushing = "the whole response in one write (-flush-each=false)"
	}
	fmt.Fprintf(w, "throughput: %d users each, closed loop, no think time, %v, a fresh one-core server each; 21 events a stream, %s;\n", e.users, e.dur, flushing)
	fmt.Fprintf(w, "streams read to message_end; client CPU is the client process's user+system time (rusage) from its first request to its exit\n\n")
	width := 0
	for _, r := range rows {
		width = max(width, len(r.client))
	}
	fmt.Fprintf(w, "%-*s | %9s | %11s | %11s | %12s | %11s | %17s | %10s | %10s\n", width, "client", "streams/s", "server busy",
		"client busy", "client CPU-s", "kernel part", "streams per CPU-s", "vs lean", "vs seed")
	fmt.Fprintf(w, "%s|%s|%s|%s|%s|%s|%s|%s|%s\n", strings.Repeat("-", width+1), strings.Repeat("-", 11), strings.Repeat("-", 13),
		strings.Repeat("-", 13), strings.Repeat("-", 14), strings.Repeat("-", 13), strings.Repeat("-", 19), strings.Repeat("-", 12), strings.Repeat("-", 11))
	// The anchors: Locust FastHttpUser with the lean script and with the
	// seed-style one, rows 1 and 2.
	lean, seed := perCPU(rows[1]), perCPU(rows[2])
	ratio := func(f, anchor float64) string {
		if f <= 0 || anchor <= 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", f/anchor)
	}
	for _, r := range rows {
		rate, cpuS, kern, pc := "n/a", "n/a", "n/a", "n/a"
		if r.rate >= 0 {
			rate = fmt.Sprintf("%.0f", r.rate)
		}
		if r.cpu > 0 {
			cpuS, kern = fmt.Sprintf("%.2f", r.cpu), pct(r.sys/r.cpu)
		}
		f := perCPU(r)
		if f > 0 {
			pc = fmt.Sprintf("%.0f", f)
		}
		fmt.Fprintf(w, "%-*s | %9s | %11s | %11s | %12s | %11s | %17s | %10s | %10s\n", width, r.client, rate, pct(r.busy), pct(r.client1),
			cpuS, kern, pc, ratio(f, lean), ratio(f, seed))
		if r.note != "" {
			fmt.Fprintf(w, "  %s\n", r.note)
		}
	}
	for i, col := range []string{"vs lean", "vs seed"} {
		fmt.Fprintf(w, "  %s: against %s, whose script %s\n", col, rows[1+i].client, locustScripts[i].records)
	}
	fmt.Fprintf(w, "  tune load: %s the lean script's streams per CPU-second, %s the seed-style script's; it records per stream its time to headers, "+
		"to the first token and to message_end (HdrHistograms) and a per-second timeline\n", ratio(perCPU(rows[0]), lean), ratio(perCPU(rows[0]), seed))
	if fl.cpu > 0 && fc.reads > 0 {
		fmt.Fprintf(w, "  floor: the cheapest client this kernel allows (one thread, raw epoll, parses nothing): %.1f reads and %.1f epoll waits a stream, "+
			"%.1f µs of CPU a read, %s of it in the kernel\n",
			float64(fc.reads)/float64(fc.streams), float64(fc.waits)/float64(fc.streams), fl.cpu/float64(fc.reads)*1e6, pct(fl.sys/fl.cpu))
	}
	if t, f := perCPU(rows[0]), perCPU(fl); t > 0 && f > 0 {
		fmt.Fprintf(w, "  tune load: %.0f%% of the floor's streams per CPU-second", 100*t/f)
		if n := perCPU(tn); n > 0 {
			fmt.Fprintf(w, ", %.2f× its figure with net.Conn's reads and writes (-tags tune_netconn)", t/n)
		}
		fmt.Fprintln(w)
	}
	var starts []string
	for _, r := range rows {
		if r.start >= 0 {
			starts = append(starts, fmt.Sprintf("%s %.2f s", r.client, r.start))
		}
	}
	fmt.Fprintf(w, "  start-up CPU left out (before the first request): %s\n", strings.Join(starts, ", "))

	// Accuracy: tune's p50 total against the server's own p50; the first
	// warmUp of each run is left out on both sides.
	const warmUp = 2 * time.Second
	fmt.Fprintf(w, "\naccuracy: 20 message events 10 ms apart, then message_end; p50 total, first %v left out (tune's p50 has HdrHistogram's ~0.1 ms steps here)\n", warmUp)
	for _, users := range []int{50, 1000} {
		tune, server, busy, n, err := e.accuracy(ctx, users, warmUp)
		if err != nil {
			fmt.Fprintf(w, "  %4d streams: %v\n", users, err)
			continue
		}
		fmt.Fprintf(w, "  %4d streams: tune load %.2f ms, server %.2f ms (%d streams), difference %+.2f ms; server core busy %s\n",
			users, tune, server, n, tune-server, pct(busy))
	}
	return nil
}

// pin prefixes taskset -c core when pinning.
func (e *env) pin(core int, name string, args ...string) (string, []string) {
	if !e.pinned {
		return name, args
	}
	return "taskset", append([]string{"-c", strconv.Itoa(core), name}, args...)
}

// runLogged runs a command with a timeout, its output to a log in e.dir;
// a failure's error carries the log's tail.
// onStart, if set, is given the started process's id. The process's state
// (its rusage) comes back whenever it ran to its end.
func (e *env) runLogged(ctx context.Context, timeout time.Duration, logName string, env []string, onStart func(pid int), name string, args ...string) (*os.ProcessState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	path := filepath.Join(e.dir, logName+".log")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr, cmd.WaitDelay = f, f, 5*time.Second
	cmd.Env = append(os.Environ(), env...)
	err = cmd.Start()
	if err == nil {
		if onStart != nil {
			onStart(cmd.Process.Pid)
		}
		err = cmd.Wait()
	}
	if err != nil {
		out, _ := os.ReadFile(path)
		if len(out) > 600 {
			out = out[len(out)-600:]
		}
		return cmd.ProcessState, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return cmd.ProcessState, nil
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// tuneLoad runs the built tune load pinned to core 1 and returns its JSON
// summary and its process state; onStart (if set) gets its process id.
func (e *env) tuneLoad(ctx context.Context, bin, url string, users int, warmUp time.Duration, onStart func(int)) (*loader.Summary, *os.ProcessState, error) {
	out := filepath.Join(e.dir, fmt.Sprintf("%s-%d.json", filepath.Base(bin), users))
	name, args := e.pin(1, bin, "load", "--url", url+"/v1", "--users", strconv.Itoa(users), "--spawn-rate", "0",
		"--think-time", "0s", "--duration", e.dur.String(), "--warm-up", warmUp.String(),
		"--request-timeout", "30s", "--json", out)
	// Exit code 1 means some requests failed; the summary says which.
	ps, err := e.runLogged(ctx, e.dur+60*time.Second, fmt.Sprintf("%s-%d", filepath.Base(bin), users), []string{"DIFY_API_KEY=app-bench"}, onStart, name, args...)
	if err != nil && exitCode(err) != 1 {
		return nil, nil, err
	}
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		return nil, nil, errors.Join(err, rerr)
	}
	var s loader.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", out, err)
	}
	if s.Duration <= 0 {
		return nil, nil, fmt.Errorf("%s: no measured window", out)
	}
	return &s, ps, nil
}

// floorCounts is what the floor client did.
type floorCounts struct{ streams, reads, waits int64 }

// runFloor runs the floor client pinned to core 1 and returns its counts
// and its process state.
func (e *env) runFloor(ctx context.Context, url string, users int, onStart func(int)) (floorCounts, *os.ProcessState, error) {
	var fc floorCounts
	name, args := e.pin(1, e.self, "floor", "-addr", strings.TrimPrefix(url, "http://"), "-users", strconv.Itoa(users),
		"-duration", e.dur.String())
	ps, err := e.runLogged(ctx, e.dur+60*time.Second, "floor", nil, onStart, name, args...)
	if err != nil {
		return fc, ps, err
	}
	out, err := os.ReadFile(filepath.Join(e.dir, "floor.log"))
	if err != nil {
		return fc, ps, err
	}
	if _, err := fmt.Sscan(string(out), &fc.streams, &fc.reads, &fc.waits); err != nil || fc.streams <= 0 {
		return fc, ps, fmt.Errorf("floor printed %q", out)
	}
	return fc, ps, nil
}

// accuracy runs tune load with users against a server spacing events 10 ms
// apart and returns both p50 totals in ms, the server's CPU share mid-run
// and how many streams the server's figure is of.
func (e *env) accuracy(ctx context.Context, users int, warmUp time.Duration) (tune, server, serverBusy float64, n int, err error) {
	log := filepath.Join(e.dir, fmt.Sprintf("server-%d.log", users))
	srv, err := e.startServer(ctx, 10*time.Millisecond, log, warmUp)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer srv.stop()
	cpu := busy(srv.cmd.Process.Pid, e.dur)
	sum, _, err := e.tuneLoad(ctx, e.tune, srv.url, users, warmUp, nil)
	serverBusy = <-cpu
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if sum.Failed > 0 {
		return 0, 0, 0, 0, fmt.Errorf("tune load: %d failed %v", sum.Failed, sum.Errors)
	}
	if err := srv.stop(); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("server: %w", err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	var took []int64
	for line := range strings.Lines(string(b)) {
		ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			return 0, 0, 0, 0, fmt.Errorf("%s: %w", log, err)
		}
		took = append(took, ns)
	}
	if len(took) == 0 {
		return 0, 0, 0, 0, fmt.Errorf("server logged no streams after the warm-up")
	}
	slices.Sort(took)
	// The lower median, as HdrHistogram's p50 is a value at or below which half the samples fall.
	p50 := took[(len(took)-1)/2]
	return sum.Total.P50, float64(p50) / 1e6, serverBusy, len(took), nil
}

// server is a running serve-mode child.
type server struct {
	cmd   *exec.Cmd
	url   string
	first chan struct{} // closed when it reads its first request
	done  chan error
	err   error
}

// startServer re-executes this program in serve mode, pinned to core 0,
// and waits for its address.
func (e *env) startServer(ctx context.Context, gap time.Duration, log string, skip time.Duration) (*server, error) {
	args := []string{"serve", "-gap", gap.String(), "-flush-each=" + strconv.FormatBool(e.flushEach)}
	if log != "" {
		args = append(args, "-log", log, "-skip", skip.String())
	}
	name, args := e.pin(0, e.self, args...)
	cmd := exec.CommandContext(ctx, name, args...) // killed if the whole run times out
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr, cmd.WaitDelay = e.stderr, 5*time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, first: make(chan struct{}), done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		br := bufio.NewReader(out)
		line, _ := br.ReadString('\n')
		addr <- strings.TrimSpace(line)
		if line, _ = br.ReadString('\n'); strings.TrimSpace(line) == "first" {
			close(s.first)
		}
		_, _ = io.Copy(io.Discard, br)
		s.done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		if a != "" {
			s.url = "http://" + a
			return s, nil
		}
	case <-time.After(10 * time.Second):
	}
	s.stop()
	return nil, fmt.Errorf("server did not start")
}

// stop asks the server to exit (it writes its log then), kills it after 5
// s, and returns how it ended. Later calls return the same.
func (s *server) stop() error {
	if s.done == nil {
		return s.err
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case s.err = <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		s.err = errors.Join(errors.New("killed after 5s"), <-s.done)
	}
	s.done = nil
	return s.err
}

// loadAverage is the machine's 1-minute load average, from /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

func locustVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", "python3-locust").Output()
	if err != nil || len(out) == 0 {
		return "version unknown"
	}
	return string(out)
}

// busy returns pid's share of a core from 30% to 80% of a run of length
// dur starting now: mid-run for every client, Locust's second of start-up
// included. -1 if /proc is unreadable.
func busy(pid int, dur time.Duration) <-chan float64 {
	return midRun(dur, func() float64 { return cpuSeconds(pid) })
}

// midRun samples a CPU-seconds counter from 30% to 80% of a run of dur and
// delivers its rate; -1 if unreadable.
func midRun(dur time.Duration, seconds func() float64) <-chan float64 {
	ch := make(chan float64, 1)
	go func() {
		time.Sleep(dur * 3 / 10)
		a, t := seconds(), time.Now()
		time.Sleep(dur / 2)
		b := seconds()
		if a < 0 || b < 0 {
			ch <- -1
			return
		}
		ch <- (b - a) / time.Since(t).Seconds()
	}()
	return ch
}

// cpuSeconds is pid's user plus system CPU time so far; -1 if unreadable.
func cpuSeconds(pid int) float64 {
	u, s := cpuTimes(pid)
	if u < 0 {
		return -1
	}
	return u + s
}

// cpuTimes is pid's user and system CPU time so far, from /proc/pid/stat
// fields 14 and 15 in USER_HZ ticks (100 a second on Linux); -1s if
// unreadable.
func cpuTimes(pid int) (user, sys float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(string(b), ')')
	if err != nil || i < 0 {
		return -1, -1
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return -1, -1
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1, -1
	}
	return u / 100, s / 100
}

func pct(f float64) string {
	if f < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// logTail is how much of a process's log an error quotes.
const logTail = 4 << 10

// process is one running binary whose output goes to Dir/<name>.log.
type process struct {
	name string
	path string // binary
	args []string
	log  string // log file; appended to across restarts

	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited
	err  error         // cmd.Wait's result, set before done is closed
}

func newProcess(binDir, dir, name string, args ...string) *process {
	return &process{
		name: name,
		path: filepath.Join(binDir, name),
		args: args,
		log:  filepath.Join(dir, name+".log"),
	}
}

// start runs the process. It dies with the test process (see sysProcAttr), and
// its output goes to its log.
func (p *process) start() error {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own copy
	fmt.Fprintf(logf, "+ %s %q\n", p.path, p.args)
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done, p.err = cmd, make(chan struct{}), nil
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return nil
}

// running is whether the process was started and has not exited.
func (p *process) running() bool {
	exited, _ := p.exited()
	return p.cmd != nil && !exited
}

// exited is whether the process was started and has exited, and how.
func (p *process) exited() (bool, error) {
	if p.cmd == nil {
		return false, nil
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// failure wraps err with the process's name and the tail of its log.
func (p *process) failure(err error) error {
	return &ProcessError{Name: p.name, Log: p.log, Tail: tail(p.log, logTail), Err: err}
}

// stop kills the process and waits for it. SIGKILL, not SIGTERM: a cluster's
// data is thrown away, and a client of an API server that goes away sees the
// same refused connections either way, without kube-apiserver's drain delay.
// Stopping a process that is not running does nothing.
func (p *process) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// ProcessError is a control-plane process that failed to start or to become
// ready, with the end of its log.
type ProcessError struct {
	Name string // binary, e.g. "kube-apiserver"
	Log  string // path of its whole log
	Tail string // the log's last few KiB
	Err  error
}

func (e *ProcessError) Error() string {
	return fmt.Sprintf("%s: %v (log %s)\n--- last lines of %s.log ---\n%s", e.Name, e.Err, e.Log, e.Name, e.Tail)
}

func (e *ProcessError) Unwrap() error { return e.Err }

// tail is the last n bytes of the file at path, from a line start.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := max(fi.Size()-n, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

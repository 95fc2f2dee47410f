//go:build !race && !tune_netconn

package loader

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawConn is a TCP connection whose reads and writes skip Go's
// system-call bookkeeping. The socket is non-blocking, so a read or write
// returns at once (or with EAGAIN) and the goroutine waits on Go's
// netpoller as net.Conn's do; but the call itself is a raw system call,
// which the scheduler does not see. Through net.Conn, each enters the
// scheduler's syscall state, and the first after the process was idle
// wakes the scheduler's monitor thread (sysmon) from its deep sleep, which
// then polls every 20 µs for a while, and a P left in a syscall is handed
// to another thread. Against a server that flushes every event, a client
// that keeps up goes idle between events, and those wake-ups and hand-offs
// cost it more CPU than its reads do: in make bench-load's setting (perf
// stat), a stream took 9.7 reads, 4.5 epoll waits and 3.4 context switches
// through net.Conn, and 2.5, 0.3 and 0.2 with raw calls, and about half
// the CPU.
//
// Under the race detector the connection stays net.Conn's: its system
// calls tell the detector that what one side wrote before sending happened
// before what the other side does after receiving, and raw calls would not.
// Built with -tags tune_netconn it stays net.Conn's too: make bench-load's
// row that shows what raw calls save.
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn

	// The state of the call in progress, and the functions RawConn calls,
	// made once so that a read or write allocates nothing.
	rbuf, wbuf      []byte
	rn, wn          int
	rerrno, werrno  syscall.Errno
	readFn, writeFn func(fd uintptr) bool
}

// fastIO returns nc with raw reads and writes when it is a TCP connection.
func fastIO(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &rawConn{TCPConn: tc, rc: rc}
	c.readFn, c.writeFn = c.read, c.write
	return c
}

// Read reads as net.Conn's Read does, with its errors.
func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", unwrapOp(err))
	case c.rerrno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", c.rerrno))
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// read is one attempt; false to wait on the netpoller for more.
func (c *rawConn) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			c.rn = int(n)
		default:
			c.rerrno = e
		}
		return true
	}
}

// Write writes as net.Conn's Write does, with its errors: all of p, or
// an error and how much went.
func (c *rawConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.rc.Write(c.writeFn)
	c.wbuf = nil
	switch {
	case err != nil:
		return c.wn, c.opError("write", unwrapOp(err))
	case c.werrno != 0:
		return c.wn, c.opError("write", os.NewSyscallError("write", c.werrno))
	}
	return c.wn, nil
}

// write writes what is left; false to wait until the socket takes more.
func (c *rawConn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[c.wn])), uintptr(len(c.wbuf)-c.wn))
		switch e {
		case 0:
			c.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

// unwrapOp returns the error inside the *net.OpError that RawConn wraps
// the netpoller's errors (a deadline, the connection closed) in.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

func (c *rawConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

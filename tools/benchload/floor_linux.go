package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// floorRequest is what every floor user sends: the smallest request the
// server answers with a stream.
var floorRequest = []byte("POST /v1/chat-messages HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" +
	"Content-Length: 2\r\n\r\n{}")

// floor is the floor mode: the cheapest client this kernel allows, the
// row that tells what a client could save. One OS thread runs a
// level-triggered epoll loop over -users blocking-connected sockets: it
// sends a request on each, reads each ready socket once per wake-up into
// one 64 KB buffer, and recognises a response's end by the last chunk at
// the end of what it read (the bench server's responses are known, so it
// parses nothing, times nothing and allocates nothing). Its epoll waits,
// reads and writes are raw system calls, which Go's scheduler does not
// see, so it pays no scheduler either, as a C loop would not. Against a
// server flushing every event its cost is the kernel's: a wake-up and a
// read per burst of segments. It prints the streams it completed, its
// reads and its epoll waits.
func floor(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	addr := fs.String("addr", "", "the server's host:port")
	users := fs.Int("users", 100, "connections, each a closed-loop user")
	dur := fs.Duration("duration", 10*time.Second, "how long to run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	runtime.LockOSThread()
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	p, err := strconv.Atoi(port)
	ip := net.ParseIP(host).To4()
	if err != nil || ip == nil {
		return fmt.Errorf("floor: -addr %q: want an IPv4 host:port", *addr)
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer func() { _ = syscall.Close(ep) }()
	// tail keeps each connection's last bytes, as the last chunk may be
	// split between reads.
	const end = "\r\n0\r\n\r\n"
	tail := make(map[int32][]byte, *users)
	for range *users {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer func() { _ = syscall.Close(fd) }()
		sa := &syscall.SockaddrInet4{Port: p}
		copy(sa.Addr[:], ip)
		if err := syscall.Connect(fd, sa); err != nil {
			return fmt.Errorf("floor: connect: %w", err)
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
		tail[int32(fd)] = make([]byte, 0, 2*len(end))
		if _, err := syscall.Write(fd, floorRequest); err != nil {
			return err
		}
	}
	evs := make([]syscall.EpollEvent, 128)
	buf := make([]byte, 64<<10)
	streams, reads, waits := 0, 0, 0
	for stop := time.Now().Add(*dur); time.Now().Before(stop) && ctx.Err() == nil; {
		n, err := rawEpollWait(ep, evs, 100)
		waits++
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return err
		}
		for _, e := range evs[:max(n, 0)] {
			m, err := rawRead(e.Fd, buf)
			reads++
			if err != nil || m == 0 {
				return fmt.Errorf("floor: read: %v (%d bytes)", err, m)
			}
			t := tail[e.Fd]
			t = append(t, buf[max(0, m-len(end)):m]...)
			if bytes.HasSuffix(t, []byte(end)) {
				streams++
				t = t[:0]
				if err := rawWrite(e.Fd, floorRequest); err != nil {
					return err
				}
			} else if len(t) > len(end) {
				t = append(t[:0], t[len(t)-len(end):]...)
			}
			tail[e.Fd] = t
		}
	}
	_, err = fmt.Fprintln(stdout, streams, reads, waits)
	return err
}

// The loop's system calls, made raw: entering Go's syscall path would cost
// the scheduler's bookkeeping (and its monitor's wake-ups) on every call.

func rawEpollWait(ep int, evs []syscall.EpollEvent, msec int) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)),
		uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawRead(fd int32, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int32, b []byte) error {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return e
	}
	if int(n) != len(b) {
		return fmt.Errorf("floor: short write, %d of %d bytes", n, len(b))
	}
	return nil
}

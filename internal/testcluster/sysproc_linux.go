package testcluster

import "syscall"

// sysProcAttr puts a child in its own process group, so a terminal's Ctrl-C
// reaches the test only, and has the kernel SIGKILL it when the test process
// dies: an interrupted, timed-out or killed `go test` leaves no control plane
// behind. (Pdeathsig follows the thread that started the child; the Go runtime
// does not end threads of goroutines that are not locked to them.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

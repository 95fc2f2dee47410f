//go:build !linux

package testcluster

import "syscall"

// sysProcAttr is the default elsewhere: only Linux has Pdeathsig, so there a
// killed test can leave its processes behind.
func sysProcAttr() *syscall.SysProcAttr { return nil }

//go:build !linux

package peertest

import "syscall"

// sysProcAttr is the default elsewhere: only Linux has Pdeathsig.
func sysProcAttr() *syscall.SysProcAttr { return nil }

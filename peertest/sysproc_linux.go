package peertest

import "syscall"

// sysProcAttr has the kernel kill a peer when the test binary dies, so a
// crashed or interrupted test leaves no process behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// Package peertest starts the real third-party peers the channels talk to
// (Prism serving Twilio's own OpenAPI spec, Kannel with a fake or SMPP
// operator, the npm twilio package, Prism serving FCM's own discovery
// document behind a proxy that answers for dead tokens as FCM does, a
// PostgreSQL cluster in a temp dir, Chromium) on free loopback ports, for
// tests.
//
// It is imported only by _test.go files. Each peer is a child process
// stopped by its own PID in t.Cleanup; its output is kept and written to
// the test log when the test fails.
//
// scripts/peers installs the peers and exports where they are. When a peer
// is neither in the environment nor on the machine the test is skipped,
// unless CHANNELS_PEERS=require (set by scripts/test), which makes a
// missing peer a failure: CI must never pass by skipping.
package peertest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables scripts/peers exports.
const (
	envRequire    = "CHANNELS_PEERS"       // "require": a missing peer fails the test
	envPrism      = "CHANNELS_PRISM"       // the prism binary
	envSpec       = "CHANNELS_TWILIO_SPEC" // twilio_api_v2010.json
	envNodePath   = "CHANNELS_NODE_PATH"   // node_modules with twilio and smpp
	envKannelBin  = "CHANNELS_KANNEL_BIN"  // directory of bearerbox and smsbox
	envFakeSMSC   = "CHANNELS_FAKESMSC"    // Kannel's fakesmsc
	defaultCache  = ".cache/channels-peers"
	fakesmscPath  = "/usr/lib/kannel/test/fakesmsc"
	installAdvice = "run scripts/test, which installs it"
)

// missing skips the test for want, or fails it when peers are required.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + ": " + installAdvice
	if os.Getenv(envRequire) == "require" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// executable reports whether path is a regular executable file.
func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// find returns the file named by env, else the first of candidates that
// exists, else "" .
func find(env string, candidates ...string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, c := range candidates {
		if c != "" && executable(c) {
			return c
		}
	}
	return ""
}

// cacheDir is where scripts/peers installs, for a run without its env.
func cacheDir() string {
	if d := os.Getenv("CHANNELS_PEERS_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, defaultCache)
}

// lookPath is exec.LookPath returning "" when name is not on PATH.
func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// nodePath returns node and the node_modules directory holding module, or
// skips (fails) the test when either is missing.
func nodePath(t testing.TB, module string) (node, modules string) {
	t.Helper()
	node = lookPath("node")
	if node == "" {
		missing(t, "node is not installed")
	}
	modules = os.Getenv(envNodePath)
	if modules == "" {
		modules = filepath.Join(cacheDir(), "node_modules")
	}
	if _, err := os.Stat(filepath.Join(modules, module, "package.json")); err != nil {
		missing(t, "npm package %s not found in %s (%s)", module, modules, envNodePath)
	}
	return node, modules
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a
// moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("peertest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one peer process.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer // stderr, and stdout unless the caller reads it
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// start runs cmd as the peer name. Its output goes to the test log if the
// test fails, and line by line to line when that is not nil; it is stopped
// (SIGTERM, then SIGKILL) by its PID in t.Cleanup.
func start(t testing.TB, name string, cmd *exec.Cmd, line func(string)) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	var w io.Writer = p.out
	if line != nil {
		w = &lineWriter{out: p.out, fn: line}
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("peertest: start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("peertest: %s (pid %d) output:\n%s", name, cmd.Process.Pid, tail(p.out.String(), 200))
		}
	})
	return p
}

// lineWriter keeps a process's output in out and hands each complete line
// to fn.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	out     *syncBuffer
	fn      func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out.Write(b)
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := strings.TrimRight(string(w.partial[:i]), "\r")
		w.partial = w.partial[i+1:]
		w.fn(line)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process by its PID: SIGTERM, then SIGKILL after 3 s.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)\n", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "")
}

// logFiles writes the named files to the test log when the test fails;
// peers that log to files rather than to stdout need it.
func logFiles(t testing.TB, paths ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Logf("peertest: %s: %v", path, err)
				continue
			}
			t.Logf("peertest: %s:\n%s", path, tail(string(b), 200))
		}
	})
}

// waitFor polls ready every 50 ms until it returns nil, the process exits,
// or timeout passes; then it fails the test.
func waitFor(t testing.TB, p *proc, what string, timeout time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		if p != nil && p.exited() {
			t.Fatalf("peertest: %s exited before %s: %v\n%s", p.name, what, p.err, tail(p.out.String(), 50))
		}
		if time.Now().After(deadline) {
			t.Fatalf("peertest: %s not ready after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

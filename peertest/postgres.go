package peertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// envPostgresBin names the directory of PostgreSQL's server binaries
// (initdb, postgres); scripts/peers may export it.
const envPostgresBin = "CHANNELS_POSTGRES_BIN"

// Postgres is a throwaway PostgreSQL cluster, for one test and its
// subtests.
type Postgres struct {
	host string // 127.0.0.1
	port int
	n    atomic.Int64 // databases made so far

	bin, data, run string              // the server binaries, data and socket directories
	cred           *syscall.Credential // whom the server runs as; nil for this process's user
	mu             sync.Mutex
	server         *proc // the running server, or the last one
}

// StartPostgres initializes a cluster under t.TempDir and runs its server
// on a free loopback port (its Unix socket in the same directory), without
// fsync: a test's data need not survive a crash of the machine. The server
// is a child process stopped by its PID when t ends (and killed by the
// kernel should the test binary die first), so no cluster outlives its
// test. The binaries are found through CHANNELS_POSTGRES_BIN, else PATH,
// else /usr/lib/postgresql/<newest>/bin; when there are none the test is
// skipped, or fails under CHANNELS_PEERS=require. Run as root, initdb and
// the server run as the system user postgres, as they refuse root.
//
// Each test that wants an empty database asks Database for one: creating
// a database is far quicker than a cluster.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		missing(t, "PostgreSQL server binaries (initdb, postgres) not found (%s)", envPostgresBin)
	}
	var cred *syscall.Credential
	dir := t.TempDir()
	data, run := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	for _, d := range []string{data, run} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("peertest: postgres: %v", err)
		}
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "running as root, and there is no user postgres to run the PostgreSQL server as (%v)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The server's user must reach its directories through the
		// test's own temporary directory, which only root may enter.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatalf("peertest: postgres: %v", err)
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			t.Fatalf("peertest: postgres: %v", err)
		}
		for _, d := range []string{data, run} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatalf("peertest: postgres: %v", err)
			}
		}
	}

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = postgresProcAttr(cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("peertest: initdb: %v\n%s", err, tail(string(out), 50))
	}

	pg := &Postgres{host: "127.0.0.1", port: FreePort(t), bin: bin, data: data, run: run, cred: cred}
	pg.Start(t)
	return pg
}

// Start runs the cluster's server, on its data directory and port, and
// waits until it accepts connections: StartPostgres calls it, and a test
// calls it again after Stop to bring the same cluster back. A server that
// exits before it is ready (one killed with SIGKILL leaves its backends
// to notice, and the next one refuses their shared memory until they
// have) is started again, for up to 30 s.
func (pg *Postgres) Start(t testing.TB) {
	t.Helper()
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.server != nil && !pg.server.exited() {
		t.Fatalf("peertest: postgres: Start while the server (pid %d) runs", pg.server.cmd.Process.Pid)
	}
	ctx := context.Background()
	ready := func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := pgconn.Connect(ctx, pg.url("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command(filepath.Join(pg.bin, "postgres"), "-D", pg.data, "-p", strconv.Itoa(pg.port), "-k", pg.run,
			"-F", // no fsync
			"-c", "listen_addresses="+pg.host,
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=200",
			"-c", "shared_buffers=32MB")
		pg.server = startPostgres(t, cmd, pg.cred)
		for ready() != nil && !pg.server.exited() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !pg.server.exited() || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // exited early: try again
	}
	waitFor(t, pg.server, "postgres accepting connections", time.Until(deadline), ready)
}

// Stop ends the cluster's server with sig and waits until it has exited
// (for SIGKILL, the postmaster: its backends end on their own). SIGINT is
// PostgreSQL's fast shutdown (clients are disconnected, the data is
// checkpointed), SIGQUIT its immediate shutdown (as after a crash: the
// next Start recovers from the WAL) and SIGKILL kills the postmaster as
// the kernel's OOM killer would. Start brings the cluster back.
func (pg *Postgres) Stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	pg.mu.Lock()
	defer pg.mu.Unlock()
	p := pg.server
	if p == nil || p.exited() {
		t.Fatal("peertest: postgres: Stop while no server runs")
	}
	if err := syscall.Kill(p.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("peertest: postgres: stop: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("peertest: postgres (pid %d) still runs 30 s after %v", p.cmd.Process.Pid, sig)
	}
}

// postgresBin returns the directory of initdb and postgres, or "".
func postgresBin() string {
	var dirs []string
	if d := os.Getenv(envPostgresBin); d != "" {
		dirs = []string{d} // only there, when it is named
	} else {
		dirs = postgresDirs()
	}
	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

// postgresDirs lists where initdb and postgres may be: beside initdb on
// PATH, then Debian's directories, newest version first.
func postgresDirs() []string {
	var dirs []string
	if p := lookPath("initdb"); p != "" {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	installed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(installed, func(a, b string) int { // newest version first
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	return append(dirs, installed...)
}

// postgresProcAttr is sysProcAttr, run as cred when that is not nil.
func postgresProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	attr := sysProcAttr()
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Credential = cred
	return attr
}

// startPostgres is start for the server, which may have to run as another
// user, and which is stopped with SIGINT, its fast shutdown: SIGTERM
// would wait for every client to disconnect.
func startPostgres(t testing.TB, cmd *exec.Cmd, cred *syscall.Credential) *proc {
	t.Helper()
	p := &proc{name: "postgres", cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = postgresProcAttr(cred)
	if err := cmd.Start(); err != nil {
		t.Fatalf("peertest: start postgres: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
			}
		}
		p.stop() // SIGKILL if it is still there
		if t.Failed() {
			t.Logf("peertest: postgres (pid %d) output:\n%s", cmd.Process.Pid, tail(p.out.String(), 200))
		}
	})
	return p
}

// url returns the URL of the database db, as user postgres.
func (pg *Postgres) url(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     fmt.Sprintf("%s:%d", pg.host, pg.port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// URL returns the URL of the cluster's default database, postgres.
func (pg *Postgres) URL() string { return pg.url("postgres") }

// Database creates an empty database and returns its URL
// ("postgres://postgres@127.0.0.1:PORT/test_N?sslmode=disable"). It is
// left in the cluster, which ends with the test that started it.
func (pg *Postgres) Database(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", pg.n.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatalf("peertest: postgres: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name).ReadAll(); err != nil {
		t.Fatalf("peertest: postgres: create database %s: %v", name, err)
	}
	return pg.url(name)
}

// Pause stops the cluster's server and every backend it runs with
// SIGSTOP: the server neither answers nor refuses, as a database host
// that stopped responding (a network partition, a host frozen by its
// hypervisor) would, and its clients must give up on their own. Resume
// lets it go on; a test that pauses must resume before it ends, or Stop.
func (pg *Postgres) Pause(t testing.TB) {
	t.Helper()
	pg.signalAll(t, syscall.SIGSTOP)
}

// Resume lets a paused server go on.
func (pg *Postgres) Resume(t testing.TB) {
	t.Helper()
	pg.signalAll(t, syscall.SIGCONT)
}

// signalAll sends sig to the server and to its children, the backends.
func (pg *Postgres) signalAll(t testing.TB, sig syscall.Signal) {
	t.Helper()
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.server == nil || pg.server.exited() {
		t.Fatalf("peertest: postgres: %v while no server runs", sig)
	}
	pid := pg.server.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("peertest: postgres: %v: %v", sig, err)
	}
	for _, child := range children(pid) {
		_ = syscall.Kill(child, sig) // one may have just ended
	}
}

// children returns the PIDs of the processes whose parent is pid, from
// /proc.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(b)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil && ppid == pid {
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SocketSuffix makes the default admin socket path from the data file's:
// channels.db → channels.db.admin.sock.
const SocketSuffix = ".admin.sock"

// SocketPath is the default admin socket of the bbolt file data.
func SocketPath(data string) string { return data + SocketSuffix }

// dialTimeout bounds the wait for a server to accept on the socket: one
// that is alive accepts at once.
const dialTimeout = time.Second

// Answers reports whether a server accepts connections on the socket at
// path.
func Answers(path string) bool {
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Listen creates the admin socket at path, readable and writable by its
// owner only (mode 0600): whoever can connect can make keys. A socket file
// left by a server that died is removed first; a socket some server
// answers on, or a path that is not a socket, is an error and is left
// alone. Closing the listener removes the socket file.
//
// The socket is bound in a private directory (mode 0700) beside path,
// given its mode there, then renamed to path, so that it is never
// reachable with a wider mode, whatever the umask.
func Listen(path string) (net.Listener, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&fs.ModeSocket == 0:
		return nil, fmt.Errorf("admin socket %s: the path exists and is not a socket; remove it or choose another path", path)
	case err == nil && Answers(path):
		return nil, fmt.Errorf("admin socket %s: another server answers on it", path)
	case err == nil:
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("admin socket %s: remove the stale socket: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}

	dir, err := os.MkdirTemp(filepath.Dir(path), ".asock")
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	defer os.RemoveAll(dir) // empty once the socket is renamed out of it
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: listen (a socket path holds at most about 100 bytes): %w", path, err)
	}
	// The listener would unlink the temporary name; Close removes path.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	fi, err = os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return &listener{UnixListener: ln, path: path, file: fi}, nil
}

// listener is the admin socket: its address is the path it was renamed
// to, and closing it removes that file if it is still this socket.
type listener struct {
	*net.UnixListener
	path string
	file fs.FileInfo
}

func (l *listener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.file) {
		if rerr := os.Remove(l.path); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// dialContext dials the socket at path, for the Client's transport.
func dialContext(path string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

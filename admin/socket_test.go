package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/channelstest"
)

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "channels.db.admin.sock")
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if ln.Addr().String() != path {
		t.Errorf("Addr %s, want %s", ln.Addr(), path)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("Listen left files behind: %v", entries)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if !admin.Answers(path) {
		t.Error("Answers is false while the listener accepts")
	}
	if _, err := admin.Listen(path); err == nil || !strings.Contains(err.Error(), "another server answers") {
		t.Errorf("second Listen on a live socket: %v", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("Close left the socket file: %v", err)
	}
	if admin.Answers(path) {
		t.Error("Answers is true with no socket")
	}
}

// TestListenStale replaces the socket of a server that died, and refuses to
// touch a path that is not a socket.
func TestListenStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.sock")
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false) // as after a crash: the file stays
	dead.Close()
	if admin.Answers(path) {
		t.Fatal("a closed socket answers")
	}
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln.Close()

	file := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Listen(file); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("regular file: %v", err)
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "keep me" {
		t.Errorf("the file was touched: %q %v", data, err)
	}
	if _, err := admin.Listen(filepath.Join(dir, "missing", "admin.sock")); err == nil {
		t.Error("Listen in a missing directory succeeded")
	}
}

// TestServerRefusals sends the socket what the Client never would: the
// errors are JSON with a code and a detail the operator can read.
func TestServerRefusals(t *testing.T) {
	db := channelstest.OpenStore(t)
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.NewServer(admin.New(db, agency.NewKey, nil), nil)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	tests := []struct {
		name, method, path, body string
		status                   int
		code, detail             string
	}{
		{"unknown field", "POST", "/v1/agencies", `{"id":"lands","name":"Lands","secret":"x"}`, 400, "invalid", `unknown field "secret"`},
		{"not JSON", "POST", "/v1/agencies", `id=lands`, 400, "invalid", "body is not an object"},
		{"too large", "POST", "/v1/agencies", `{"id":"lands","name":"` + strings.Repeat("x", 20<<10) + `"}`, 413, "too_large", "request over 16384 bytes"},
		{"bad id", "POST", "/v1/agencies", `{"id":"L","name":"Lands"}`, 400, "invalid", `agency id "L" must be 2 to 40`},
		{"unknown agency", "POST", "/v1/agencies/lands/keys", ``, 404, "not_found", `no agency "lands"`},
		{"wrong method", "DELETE", "/v1/agencies", ``, 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://admin"+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, raw, tt.status)
			}
			if tt.code == "" {
				return
			}
			var body struct {
				Error struct{ Code, Message, Detail string } `json:"error"`
			}
			if err := json.Unmarshal(raw, &body); err != nil || body.Error.Code != tt.code || !strings.Contains(body.Error.Detail, tt.detail) {
				t.Errorf("%s, want code %s with %q", raw, tt.code, tt.detail)
			}
		})
	}
}

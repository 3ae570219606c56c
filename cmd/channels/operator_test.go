package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/password"
	"github.com/govchannels/channels/store/bolt"
)

// passwordOf returns the password a command printed for the operator id,
// and checks that it says the password is shown once.
func passwordOf(t *testing.T, out, id string) string {
	t.Helper()
	m := regexp.MustCompile(`Password of ` + regexp.QuoteMeta(id) + `: ([A-Za-z0-9]{16})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no password of %s printed:\n%s", id, out)
	}
	if !strings.Contains(out, "it will not be shown again") {
		t.Errorf("the password is printed without saying it is shown once:\n%s", out)
	}
	return m[1]
}

// inData runs f on the data file the commands use, opened and closed
// again around it, as between two commands with no server.
func inData(t *testing.T, path string, f func(db *bolt.DB)) {
	t.Helper()
	db, err := bolt.Open(path, bolt.Options{BatchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}()
	f(db)
}

// serveAdmin serves the admin socket of the data file data over db, as
// serve does, until the test ends.
func serveAdmin(t *testing.T, db *bolt.DB, data string) string {
	t.Helper()
	ln, err := admin.Listen(admin.SocketPath(data))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.NewServer(admin.New(db, agency.NewKey, nil), slog.New(slog.DiscardHandler))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return admin.SocketPath(data)
}

// checksOut reports whether pw is the password of the operator's stored
// hash, which must be argon2id.
func checksOut(t *testing.T, o *channels.Operator, pw string) bool {
	t.Helper()
	if !strings.HasPrefix(o.PasswordHash, "$argon2id$v=19$") {
		t.Fatalf("operator %s: the stored hash %q is not argon2id", o.ID, o.PasswordHash)
	}
	ok, err := password.Check(o.PasswordHash, pw)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// notStored checks that no file of the store holds pw.
func notStored(t *testing.T, data, pw string) {
	t.Helper()
	for _, path := range []string{data, data + "-sessions"} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(pw)) {
			t.Errorf("%s holds the password in clear", path)
		}
	}
}

// adminDetails returns the details of the log's entries, checking that
// each is an operator change by the admin.
func adminDetails(t *testing.T, db *bolt.DB) []string {
	t.Helper()
	entries, err := db.AuditEntries(context.Background(), channels.AuditQuery{Limit: admin.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Actor != "admin" || e.Action != channels.AuditOperatorChanged || e.At.IsZero() {
			t.Errorf("audit entry %+v, want an operator change by the admin", e)
		}
		out = append(out, e.Detail)
	}
	return out
}

// TestOperatorCommandsOnTheDataFile runs the commands with no server: they
// open the data file, store only a hash of the password they print, refuse
// what is wrong with exit status 1, and record each change, and only
// changes, in the audit log.
func TestOperatorCommandsOnTheDataFile(t *testing.T) {
	t.Setenv(envAdminSocket, "")
	data := filepath.Join(t.TempDir(), "channels.db")

	code, out, errOut := runCmd(t, "", "operator", "add", "-data", data, "-kiosk", "kisumu-post", "-region", "Kisumu", "-lang", "sw", "amina", "Amina Otieno")
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "Operator amina (Amina Otieno) added at kiosk kisumu-post, region Kisumu.\n") || !strings.Contains(errOut, "channels operator: on the data file "+data) {
		t.Errorf("add printed\n%s\n%s", out, errOut)
	}
	first := passwordOf(t, out, "amina")
	var added channels.Operator
	inData(t, data, func(db *bolt.DB) {
		o, err := db.Operator(context.Background(), "amina")
		if err != nil {
			t.Fatal(err)
		}
		if !checksOut(t, o, first) || checksOut(t, o, first[:15]) {
			t.Errorf("the printed password does not check against the stored hash (or a wrong one does)")
		}
		if o.Name != "Amina Otieno" || o.Kiosk != "kisumu-post" || o.Region != "Kisumu" || o.Lang != "sw" || o.Disabled || o.PasswordSetAt.IsZero() {
			t.Errorf("stored %+v", o)
		}
		added = *o
	})
	notStored(t, data, first)

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string
		stderr  []string
		audited string // the detail of the audit entry the command adds; "" when none
	}{
		{"the same operator again", []string{"add", "-kiosk", "k", "-region", "r", "amina", "Amina"}, 1, nil, []string{"channels operator add: operator amina exists already\n"}, ""},
		{"a bad id", []string{"add", "-kiosk", "k", "-region", "r", "Amina", "Amina"}, 1, nil, []string{`channels operator add: operator id "Amina" must be 2 to 32 lower-case letters`}, ""},
		{"no kiosk", []string{"add", "-region", "r", "baraka", "Baraka"}, 1, nil, []string{"kiosk must be 1 to 100 characters on one line"}, ""},
		{"no region", []string{"add", "-kiosk", "k", "baraka", "Baraka"}, 1, nil, []string{"region must be 1 to 100 characters on one line"}, ""},
		{"a language the catalog lacks", []string{"add", "-kiosk", "k", "-region", "r", "-lang", "de", "baraka", "Baraka"}, 1, nil, []string{`language "de" is not offered; the catalog's are [en fr sw ar]`}, ""},
		{"another operator", []string{"add", "-kiosk", "eldoret-centre", "-region", "Uasin Gishu", "baraka", "Baraka"}, 0, []string{"Operator baraka (Baraka) added at kiosk eldoret-centre, region Uasin Gishu.\n", "Password of baraka: "}, nil, "added baraka (eldoret-centre)"},
		{"disable", []string{"disable", "amina"}, 0, []string{"Operator amina disabled: their console sessions end at their next request.\n"}, nil, "disabled amina"},
		{"disable twice", []string{"disable", "amina"}, 1, nil, []string{"channels operator disable: operator amina is disabled already\n"}, ""},
		{"list", []string{"list"}, 0, []string{"ID      NAME          KIOSK           REGION       LANG  STATE     PASSWORD SET          CREATED\n", "\namina   Amina Otieno  kisumu-post     Kisumu       sw    disabled  20", "\nbaraka  Baraka        eldoret-centre  Uasin Gishu  -     active    20"}, nil, ""},
		{"enable", []string{"enable", "amina"}, 0, []string{"Operator amina enabled, with no lockout.\n"}, nil, "enabled amina"},
		{"enable twice", []string{"enable", "amina"}, 1, nil, []string{"operator amina is enabled already and not locked out"}, ""},
		{"reset an unknown operator", []string{"reset-password", "nobody"}, 1, nil, []string{`channels operator reset-password: no operator "nobody" (list them with 'channels operator list')`}, ""},
		{"disable an unknown operator", []string{"disable", "nobody"}, 1, nil, []string{`no operator "nobody"`}, ""},
		{"no command", nil, 2, nil, []string{"usage: channels operator"}, ""},
		{"unknown command", []string{"delete", "amina"}, 2, nil, []string{`channels operator: unknown command "delete"`}, ""},
		{"too few arguments", []string{"add", "-kiosk", "k", "-region", "r", "zawadi"}, 2, nil, []string{"want 2 arguments, got 1"}, ""},
		{"too many arguments", []string{"disable", "amina", "baraka"}, 2, nil, []string{"want 1 arguments, got 2"}, ""},
		{"a flag of add elsewhere", []string{"enable", "-kiosk", "k", "amina"}, 2, nil, []string{"flag provided but not defined: -kiosk"}, ""},
	}
	var details []string
	inData(t, data, func(db *bolt.DB) { details = adminDetails(t, db) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"operator"}
			if len(tt.args) > 0 {
				args = append(args, tt.args[0], "-data", data)
				args = append(args, tt.args[1:]...)
			}
			code, out, errOut := runCmd(t, "", args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(out, "argon2") || strings.Contains(out, "$") || strings.Contains(out, first) {
				t.Errorf("a hash or a password is shown:\n%s", out)
			}
			if tt.audited != "" {
				details = append(details, tt.audited)
			}
			inData(t, data, func(db *bolt.DB) {
				if got := adminDetails(t, db); strings.Join(got, "\n") != strings.Join(details, "\n") {
					t.Errorf("audit log\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(details, "\n"))
				}
			})
		})
	}

	code, out, errOut = runCmd(t, "", "operator", "reset-password", "-data", data, "amina")
	if code != 0 || !strings.Contains(out, "every console session of amina is signed out") {
		t.Fatalf("reset-password: %d %s %s", code, out, errOut)
	}
	second := passwordOf(t, out, "amina")
	inData(t, data, func(db *bolt.DB) {
		o, err := db.Operator(context.Background(), "amina")
		if err != nil {
			t.Fatal(err)
		}
		if checksOut(t, o, first) || !checksOut(t, o, second) {
			t.Error("after a reset the old password still checks, or the new one does not")
		}
		if !o.PasswordSetAt.After(added.PasswordSetAt) {
			t.Errorf("the password was set at %s, before the reset (first set at %s)", o.PasswordSetAt, added.PasswordSetAt)
		}
		want := append(details, "reset the password of amina")
		if got := adminDetails(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit log\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if n, err := db.VerifyAudit(context.Background()); err != nil || n != len(want) {
			t.Errorf("VerifyAudit = %d, %v", n, err)
		}
	})
	notStored(t, data, second)
}

// TestOperatorCommandsThroughTheSocket runs the commands while a server
// holds the data file: they go through its admin socket, and what they do
// holds at once in the store the server uses.
func TestOperatorCommandsThroughTheSocket(t *testing.T) {
	t.Setenv(envAdminSocket, "")
	dir := t.TempDir()
	data := filepath.Join(dir, "channels.db")
	db := openData(t, data)
	sock := serveAdmin(t, db, data)
	ctx := context.Background()

	code, out, errOut := runCmd(t, "", "operator", "add", "-data", data, "-kiosk", "kisumu-post", "-region", "Kisumu", "amina", "Amina Otieno")
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "channels operator: through the admin socket "+sock) {
		t.Errorf("add did not say it used the socket: %s", errOut)
	}
	first := passwordOf(t, out, "amina")
	o, err := db.Operator(ctx, "amina")
	if err != nil || !checksOut(t, o, first) {
		t.Fatalf("the printed password does not check against the stored hash: %v", err)
	}
	added := *o
	notStored(t, data, first)

	code, _, errOut = runCmd(t, "", "operator", "add", "-data", data, "-kiosk", "k", "-region", "r", "amina", "Amina")
	if code != 1 || !strings.Contains(errOut, "channels operator add: operator amina exists already\n") {
		t.Errorf("the same operator again, through the socket: %d %s", code, errOut)
	}

	// Wrong passwords at the console locked the account out.
	lockedUntil := time.Now().Add(15 * time.Minute).UTC().Truncate(time.Second)
	if _, err := db.UpdateOperator(ctx, "amina", func(o *channels.Operator) error {
		o.FailedSignIns, o.LockedUntil = 5, lockedUntil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd(t, "", "operator", "list", "-data", data)
	if code != 0 || !strings.Contains(out, "locked until "+lockedUntil.Format(time.RFC3339)) || strings.Contains(out, "argon2") {
		t.Errorf("list of a locked operator: %d %s", code, out)
	}
	code, out, errOut = runCmd(t, "", "operator", "enable", "-data", data, "amina")
	if code != 0 || !strings.Contains(out, "Operator amina enabled") {
		t.Fatalf("enable: %d %s %s", code, out, errOut)
	}
	if o, _ := db.Operator(ctx, "amina"); o == nil || o.FailedSignIns != 0 || !o.LockedUntil.IsZero() || o.Disabled {
		t.Errorf("enable left %+v", o)
	}

	// The socket named by the environment, the data file left at its default.
	t.Setenv(envAdminSocket, sock)
	code, out, errOut = runCmd(t, "", "operator", "reset-password", "amina")
	if code != 0 {
		t.Fatalf("reset-password: %d %s %s", code, out, errOut)
	}
	second := passwordOf(t, out, "amina")
	o, err = db.Operator(ctx, "amina")
	if err != nil || checksOut(t, o, first) || !checksOut(t, o, second) || !o.PasswordSetAt.After(added.PasswordSetAt) {
		t.Errorf("after a reset through the socket: %+v %v", o, err)
	}
	code, out, _ = runCmd(t, "", "operator", "disable", "-admin-socket", sock, "amina")
	if code != 0 || !strings.Contains(out, "Operator amina disabled") {
		t.Errorf("disable: %d %s", code, out)
	}
	if o, _ := db.Operator(ctx, "amina"); o == nil || !o.Disabled {
		t.Errorf("disable through the socket left %+v", o)
	}

	want := []string{"added amina (kisumu-post)", "enabled amina (lockout until " + lockedUntil.Format(time.RFC3339) + " cleared)", "reset the password of amina", "disabled amina"}
	if got := adminDetails(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// No server on the socket named, and the file held: a clear error.
	code, _, errOut = runCmd(t, "", "operator", "list", "-data", data, "-admin-socket", filepath.Join(dir, "none.sock"))
	if code != 1 || !strings.Contains(errOut, "is another channels running?") || !strings.Contains(errOut, "-admin-socket") {
		t.Errorf("held file, no socket: %d %s", code, errOut)
	}
}

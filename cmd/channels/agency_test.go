package main

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/store/bolt"
)

var printedKey = regexp.MustCompile(`API key ([a-z2-7]{16})(?: of agency \w+)?: (chk_[a-z2-7]{16}_[A-Za-z0-9_-]{43})\n`)

// keyOf returns the ID and plaintext of the key a command printed.
func keyOf(t *testing.T, out string) (id, plaintext string) {
	t.Helper()
	m := printedKey.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key printed:\n%s", out)
	}
	if !strings.Contains(out, "they will not be shown again") {
		t.Errorf("the key is printed without saying it is shown once:\n%s", out)
	}
	return m[1], m[2]
}

// agencyAPI serves the agency API over db, as serve would, with one case
// of civil_registry in it; it returns the base URL and the case.
func agencyAPI(t *testing.T, db *bolt.DB) (string, *channels.Case) {
	t.Helper()
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	agency.New(agency.Config{Cases: db, Keys: db, Bundle: bundle}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	now := time.Now().UTC()
	c, err := db.CreateCase(context.Background(), &channels.Case{
		Ref: channels.NewReference(), Service: "birth_certificate", Agency: "civil_registry",
		Phone: "+254712345678", Channel: channels.ChannelUSSD, Lang: "en",
		Status:    channels.StatusSubmitted,
		History:   []channels.StatusChange{{Status: channels.StatusSubmitted, At: now, Actor: "citizen"}},
		CreatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, c
}

// getCase reads the case ref with key and returns the status code.
func getCase(t *testing.T, base, key, ref string) int {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/v1/agency/cases/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// openData opens the data file the commands wrote, closed when the test
// ends.
func openData(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, bolt.Options{BatchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestAgencyCommandsOnTheDataFile runs the commands with no server: they
// open the data file, and the keys they print open the API of a server
// started on it afterwards, until revoked.
func TestAgencyCommandsOnTheDataFile(t *testing.T) {
	t.Setenv(envAdminSocket, "")
	data := filepath.Join(t.TempDir(), "channels.db")

	code, out, errOut := runCmd(t, "", "agency", "add", "-data", data, "civil_registry", "Civil Registry")
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "Agency civil_registry (Civil Registry) added.") || !strings.Contains(errOut, "on the data file "+data) || strings.Contains(errOut, "warning") {
		t.Errorf("add printed\n%s\n%s", out, errOut)
	}
	firstID, first := keyOf(t, out)
	code, out, errOut = runCmd(t, "", "agency", "key", "-data", data, "civil_registry")
	if code != 0 {
		t.Fatalf("key: %d %s %s", code, out, errOut)
	}
	secondID, second := keyOf(t, out)

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"the same agency again", []string{"add", "civil_registry", "Civil"}, 1, nil, []string{"channels agency add: agency civil_registry exists already\n"}},
		{"a bad agency id", []string{"add", "Civil", "Civil"}, 1, nil, []string{`agency id "Civil" must be 2 to 40 lower-case letters`}},
		{"an agency no service names", []string{"add", "lands", "Lands and Survey"}, 0, []string{"Agency lands (Lands and Survey) added."}, []string{"warning: no service of the shipped catalog names agency lands"}},
		{"a webhook over http", []string{"add", "-webhook", "http://works.example/hook", "county_works", "County Works"}, 1, nil, []string{"must be https (http only to localhost or 127.0.0.1)"}},
		{"a webhook", []string{"add", "-webhook", "https://works.example/hook", "county_works", "County Works"}, 0, []string{"Webhook https://works.example/hook\n", "Webhook secret (HMAC-SHA256 key, hex of 32 bytes): ", "they will not be shown again"}, nil},
		{"a key of an unknown agency", []string{"key", "roads"}, 1, nil, []string{`channels agency key: no agency "roads"`}},
		{"rotate a webhook secret", []string{"webhook", "-rotate-secret", "county_works", "https://works.example/v2"}, 0, []string{"Webhook of agency county_works: https://works.example/v2\nWebhook secret", "they will not be shown again"}, nil},
		{"remove a webhook", []string{"webhook", "county_works", ""}, 0, []string{"Webhook of agency county_works removed."}, nil},
		{"an API URL", []string{"add", "-api-url", "http://127.0.0.1:8090", "revenue", "Revenue Authority"}, 0, []string{"API URL http://127.0.0.1:8090\n", "Webhook secret (HMAC-SHA256 key, hex of 32 bytes): ", "they will not be shown again"}, nil},
		{"an API URL over http", []string{"add", "-api-url", "http://api.example", "roads", "Roads"}, 1, nil, []string{`API URL "http://api.example" must be https`}},
		{"change an API URL", []string{"api-url", "revenue", "https://api.revenue.example/v1"}, 0, []string{"API URL of agency revenue: https://api.revenue.example/v1\n"}, nil},
		{"the first API URL makes a secret", []string{"api-url", "civil_registry", "https://cr.example/api"}, 0, []string{"API URL of agency civil_registry: https://cr.example/api\n", "which signs the calls: ", "they will not be shown again"}, nil},
		{"list shows the API URL", []string{"list"}, 0, []string{"revenue  Revenue Authority", "  api-url https://api.revenue.example/v1\n"}, nil},
		{"remove an API URL", []string{"api-url", "revenue", ""}, 0, []string{"API URL of agency revenue removed"}, nil},
		{"the API URL of an unknown agency", []string{"api-url", "roads", "https://roads.example"}, 1, nil, []string{`channels agency api-url: no agency "roads"`}},
		{"list", []string{"list"}, 0, []string{
			"civil_registry  Civil Registry  created ",
			"  key " + firstID + "  created ", "  key " + secondID + "  created ",
			"county_works  County Works", "lands  Lands and Survey",
		}, nil},
		{"revoke", []string{"revoke", firstID}, 0, []string{"Key " + firstID + " of agency civil_registry revoked at "}, nil},
		{"revoke twice", []string{"revoke", firstID}, 1, nil, []string{"key " + firstID + " of agency civil_registry was revoked already"}},
		{"revoke an unknown key", []string{"revoke", "aaaaaaaaaaaaaaaa"}, 1, nil, []string{`no key "aaaaaaaaaaaaaaaa"`}},
		{"list after revoking", []string{"list"}, 0, []string{"  key " + firstID + "  created ", "  revoked ", "  key " + secondID + "  created "}, nil},
		{"no command", nil, 2, nil, []string{"usage: channels agency"}},
		{"unknown command", []string{"rename"}, 2, nil, []string{`unknown command "rename"`}},
		{"too few arguments", []string{"add", "roads"}, 2, nil, []string{"want 2 arguments, got 1"}},
		{"too many arguments", []string{"revoke", "a", "b"}, 2, nil, []string{"want 1 arguments, got 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"agency"}
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
			if strings.Contains(out, "hash") || (tt.name == "list" && strings.Contains(out, "chk_")) {
				t.Errorf("a secret or hash is shown:\n%s", out)
			}
		})
	}

	db := openData(t, data)
	base, c := agencyAPI(t, db)
	if got := getCase(t, base, second, c.Ref); got != http.StatusOK {
		t.Errorf("the key made by 'agency key': %d", got)
	}
	if got := getCase(t, base, first, c.Ref); got != http.StatusUnauthorized {
		t.Errorf("the revoked key: %d", got)
	}
}

// TestAgencyCommandsThroughTheSocket runs the commands while a server holds
// the data file: they go through its admin socket (opening the file would
// fail on its lock), and what they do holds at once in the live API.
func TestAgencyCommandsThroughTheSocket(t *testing.T) {
	t.Setenv(envAdminSocket, "")
	dir := t.TempDir()
	data := filepath.Join(dir, "channels.db")
	db := openData(t, data)
	ln, err := admin.Listen(admin.SocketPath(data))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.NewServer(admin.New(db, agency.NewKey, nil), slog.New(slog.DiscardHandler))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base, c := agencyAPI(t, db)

	fi, err := os.Lstat(data + ".admin.sock")
	if err != nil || fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket %v: %v", fi, err)
	}

	code, out, errOut := runCmd(t, "", "agency", "add", "-data", data, "civil_registry", "Civil Registry")
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "through the admin socket "+data+".admin.sock") {
		t.Errorf("add did not say it used the socket: %s", errOut)
	}
	keyID, key := keyOf(t, out)
	if got := getCase(t, base, key, c.Ref); got != http.StatusOK {
		t.Fatalf("the new key on the live API: %d", got)
	}

	code, _, errOut = runCmd(t, "", "agency", "add", "-data", data, "civil_registry", "Civil Registry")
	if code != 1 || !strings.Contains(errOut, "channels agency add: agency civil_registry exists already\n") {
		t.Errorf("the same agency again, through the socket: %d %s", code, errOut)
	}

	// The socket named by the environment, the data file left at its default.
	t.Setenv(envAdminSocket, data+".admin.sock")
	code, out, errOut = runCmd(t, "", "agency", "revoke", keyID)
	if code != 0 || !strings.Contains(out, "Key "+keyID+" of agency civil_registry revoked at ") {
		t.Fatalf("revoke: %d %s %s", code, out, errOut)
	}
	if got := getCase(t, base, key, c.Ref); got != http.StatusUnauthorized {
		t.Errorf("the revoked key on the live API: %d", got)
	}
	code, out, _ = runCmd(t, "", "agency", "list", "-admin-socket", data+".admin.sock")
	if code != 0 || !strings.Contains(out, "  key "+keyID+"  created ") || !strings.Contains(out, "  revoked ") {
		t.Errorf("list: %d %s", code, out)
	}

	// No server on the socket named, and the file held: a clear error.
	code, _, errOut = runCmd(t, "", "agency", "list", "-data", data, "-admin-socket", filepath.Join(dir, "none.sock"))
	if code != 1 || !strings.Contains(errOut, "is another channels running?") || !strings.Contains(errOut, "-admin-socket") {
		t.Errorf("held file, no socket: %d %s", code, errOut)
	}
}

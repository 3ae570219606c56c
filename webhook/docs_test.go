package webhook

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snippet returns the one code block of language lang in
// docs/webhooks.md.
func snippet(t *testing.T, lang string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) != 1 {
		t.Fatalf("docs/webhooks.md has %d %s blocks; want 1", len(blocks), lang)
	}
	return blocks[0][1]
}

// TestDocsVerifiers runs the Python and openssl verifiers that
// docs/webhooks.md gives integrators against a request the Sender really
// made, and against that request tampered with: what the documentation
// tells agencies to run must accept our requests and nothing else.
func TestDocsVerifiers(t *testing.T) {
	for _, tool := range []string{"python3", "openssl", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	db, _ := openStore(t)
	secret := newSecret(t)
	rc := newReceiver(t, nil)
	putAgency(t, db, rc.URL, secret)
	if _, err := newSender(t, db, Config{}).Send(context.Background(), sampleMessage(t)); err != nil {
		t.Fatal(err)
	}
	d := rc.deliveries()[0]
	ts, sig, body := d.Header.Get(HeaderTimestamp), d.Header.Get(HeaderSignature), string(d.Body)
	tsNum, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	oldTS := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	oldSig := "v1=" + externalHMAC(t, secret, []byte(oldTS+"."+body))

	tests := []struct {
		name, ts, sig, body string
		valid               bool
		pythonOnly          bool // the shell check leaves out the timestamp's age
	}{
		{name: "as delivered", ts: ts, sig: sig, body: body, valid: true},
		{name: "among other signatures", ts: ts, sig: "v2=abcd, " + sig, body: body, valid: true},
		{name: "body changed", ts: ts, sig: sig, body: strings.Replace(body, "in_review", "approved", -1)},
		{name: "body reformatted", ts: ts, sig: sig, body: body + "\n"},
		{name: "timestamp changed", ts: strconv.FormatInt(tsNum-1, 10), sig: sig, body: body},
		{name: "wrong secret", ts: ts, sig: "v1=" + externalHMAC(t, newSecret(t), []byte(ts+"."+body)), body: body},
		{name: "stale", ts: oldTS, sig: oldSig, body: body, pythonOnly: true},
	}
	python, shell := snippet(t, "python"), snippet(t, "sh")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(os.Environ(), "SECRET="+hex.EncodeToString(secret), "TS="+tt.ts, "SIG="+tt.sig)

			py := exec.Command("python3", "-c", python+"\nimport os, sys\nprint(verify(os.environ['SECRET'], os.environ['TS'], os.environ['SIG'], sys.stdin.buffer.read()))\n")
			py.Env, py.Stdin = env, strings.NewReader(tt.body)
			out, err := py.CombinedOutput()
			if want := map[bool]string{true: "True", false: "False"}[tt.valid]; err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("Python verify printed %q (err %v); want valid = %v", out, err, tt.valid)
			}

			if tt.pythonOnly {
				return
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			sh := exec.Command("sh", "-c", shell)
			sh.Env, sh.Dir = env, dir
			out, err = sh.CombinedOutput()
			want := map[bool]string{true: "valid", false: "INVALID"}[tt.valid]
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("shell check printed %q (err %v); want %s", out, err, want)
			}
		})
	}
}

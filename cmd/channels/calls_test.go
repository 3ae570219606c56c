package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govchannels/channels/webhook"
)

// demoAgency is a running `channels demo-agency`, a process of its own as
// an agency's server is.
type demoAgency struct {
	cmd    *exec.Cmd
	base   string
	stdout *lockedBuffer
	stderr *lockedBuffer
}

// startDemoAgency runs the binary's demo-agency on a free port with the
// secrets in secretFile and waits until it prints its address.
func startDemoAgency(t *testing.T, secretFile string, extra ...string) *demoAgency {
	t.Helper()
	args := append([]string{"demo-agency", "-addr", "127.0.0.1:0", "-secret-file", secretFile}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "CHANNELS_LOG_LEVEL=info")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &demoAgency{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(d.stdout, sc.Text())
			if listening.MatchString(sc.Text()) {
				found <- sc.Text()
			}
		}
		close(found)
	}()
	select {
	case banner, ok := <-found:
		if !ok {
			cmd.Wait()
			t.Fatalf("demo-agency exited without listening: %s", d.stderr)
		}
		d.base = listening.FindStringSubmatch(banner)[1]
	case <-time.After(30 * time.Second):
		t.Fatalf("demo-agency did not print its address: %s", d.stderr)
	}
	return d
}

// post signs body with secret as the call client does and posts it to the
// operation; it returns the status and the answer.
func (d *demoAgency) post(t *testing.T, ctx context.Context, secret []byte, operation, id, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/operations/"+operation, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", id)
	req.Header.Set(webhook.HeaderID, id)
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, []byte(body)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// writeSecret writes a secret file holding lines and returns its path.
func writeSecret(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demo-secrets")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDemoAgencyCommand runs `channels demo-agency` as someone trying the
// catalog would: without a secret it refuses to start; with one it says
// it is a demonstration, prints the seeded values, answers a signed call,
// refuses an unsigned one, and stops on SIGTERM even with a hanging call
// in flight.
func TestDemoAgencyCommand(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"demo-agency", "-addr", "127.0.0.1:0"}, nil, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "no secret") {
		t.Errorf("without a secret: exit %d, %q; want 2 and why", code, stderr.String())
	}

	secret := bytes.Repeat([]byte{0x5a}, 32)
	d := startDemoAgency(t, writeSecret(t, "# the agencies' shared secret", hex.EncodeToString(secret)))
	for _, want := range []string{
		"channels demo-agency: DEMONSTRATION ONLY",
		"channels demo-agency: seeded tax PIN A012345678Z: valid, Amani Otieno, certificate ready",
		"channels demo-agency: seeded magic slow: +254700000006 60000006 A000000006S",
	} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("the banner does not say %q:\n%s", want, d.stdout)
		}
	}

	const id = "ussd/ATUid_1/pin_status/2"
	body := `{"id":"` + id + `","operation":"pin_status","service":"tax_pin","changes":false,` +
		`"citizen":{"phone":"+254712345678","channel":"ussd","lang":"en"},"params":{"pin":"A012345678Z"},"sent_at":"2026-12-02T06:40:00Z"}`
	ctx := context.Background()
	status, answer, err := d.post(t, ctx, secret, "pin_status", id, body)
	if want := `{"outcome":"found","result":{"certificate":"ready","name":"Amani Otieno","status":"valid"}}`; err != nil || status != http.StatusOK || answer != want {
		t.Errorf("signed call: %d %s %v; want 200 %s", status, answer, err, want)
	}
	if status, answer, err := d.post(t, ctx, bytes.Repeat([]byte{1}, 32), "pin_status", id, body); err != nil || status != http.StatusUnauthorized {
		t.Errorf("call signed with another secret: %d %s %v; want 401", status, answer, err)
	}

	hung := make(chan error, 1)
	hangBody := strings.Replace(body, "A012345678Z", "A000000999H", 1)
	go func() {
		_, _, err := d.post(t, ctx, secret, "pin_status", "hang/1", strings.Replace(hangBody, id, "hang/1", 1))
		hung <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(d.stderr.String(), "hanging"); {
		if time.Now().After(deadline) {
			t.Fatalf("the hanging call did not arrive:\n%s", d.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, d.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo-agency did not stop after SIGTERM with a hanging call")
	}
	<-hung
}

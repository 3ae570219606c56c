package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govchannels/channels/ratelimit"
)

// binary is the channels command built once for the tests that run it as a
// process, as an operator would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "channels-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "channels")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build channels: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running `channels serve` (or another subcommand that listens).
type process struct {
	cmd    *exec.Cmd
	base   string
	banner string        // the line that says where it listens
	stdout *lockedBuffer // every line of the banner
	stderr *lockedBuffer
}

// lockedBuffer is a process's output, readable while the process writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startServe runs the binary on a free port with the data file data and
// waits until it prints its address.
func startServe(t *testing.T, data string, extra ...string) *process {
	t.Helper()
	return startCommand(t, "warn", append([]string{"serve", "-addr", "127.0.0.1:0", "-data", data}, extra...)...)
}

// startCommand runs the binary with args (a subcommand that serves HTTP) at
// the log level given and waits until it prints where it listens.
func startCommand(t *testing.T, logLevel string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "CHANNELS_LOG_LEVEL="+logLevel)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
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
			fmt.Fprintln(p.stdout, sc.Text())
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
			t.Fatalf("%s exited without listening: %s", args[0], p.stderr)
		}
		p.base, p.banner = listening.FindStringSubmatch(banner)[1], banner
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not print its address: %s", args[0], p.stderr)
	}
	return p
}

// ussd posts one Africa's Talking hop.
func (p *process) ussd(t *testing.T, session, phone, text string) string {
	t.Helper()
	reply, err := hop(context.Background(), p.base, session, phone, text)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

var reference = regexp.MustCompile(`\b[1-9][0-9]{9}\b`)

// TestKillAfterReferenceLosesNoCase completes a service by USSD, kills the
// server with SIGKILL as soon as the reference is shown, restarts it on the
// same file and finds the case.
func TestKillAfterReferenceLosesNoCase(t *testing.T) {
	data := filepath.Join(t.TempDir(), "channels.db")
	p := startServe(t, data)
	phone := "+254712345678"
	text := ""
	var reply string
	for i, in := range []string{"", "3", "1", "Kisumu market", "Broken water pipe", "1"} {
		if i > 1 {
			text += "*"
		}
		text += in
		reply = p.ussd(t, "kill-1", phone, text)
	}
	ref := reference.FindString(reply)
	if !strings.HasPrefix(reply, "END ") || ref == "" {
		t.Fatalf("last reply %q has no reference", reply)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()

	p = startServe(t, data)
	// The citizen checks the case by its reference, on USSD.
	var status string
	for _, text := range []string{"", "2", "2*1", "2*1*" + ref} {
		status = p.ussd(t, "kill-2", phone, text)
	}
	if !strings.Contains(status, ref) || !strings.Contains(status, "Submitted") {
		t.Errorf("status after restart = %q, want %s submitted", status, ref)
	}
}

// TestServeUnknownPaths: an app client gets the API's JSON error for an
// unknown /v1 path; the health check answers.
func TestServeUnknownPaths(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "channels.db"))
	req, _ := http.NewRequest("GET", p.base+"/v1/no-such-thing", nil)
	req.Header.Set("Accept-Language", "sw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 404 || body.Error.Code != "not_found" || body.Error.Message != "Haikupatikana." {
		t.Errorf("%d %+v %v", resp.StatusCode, body, err)
	}
	health, err := http.Get(p.base + "/healthz")
	if err != nil || health.StatusCode != 200 {
		t.Errorf("healthz: %v %v", health, err)
	}
}

// TestServeShutsDownOnSIGTERM checks the graceful path an orchestrator uses.
func TestServeShutsDownOnSIGTERM(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "channels.db"))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-ctx.Done():
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// TestServeRefusesLockedDataFile: a second instance on the same bbolt file
// must fail clearly instead of hanging.
func TestServeRefusesLockedDataFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "channels.db")
	startServe(t, data)
	var stderr bytes.Buffer
	if code := run([]string{"serve", "-addr", "127.0.0.1:0", "-data", data}, nil, io.Discard, &stderr); code != 1 {
		t.Fatalf("exit = %d, want 1; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), data) || !strings.Contains(stderr.String(), "locked by another process") {
		t.Errorf("error does not say another process holds the data file: %s", stderr.String())
	}
}

var (
	twilioArgs = []string{"-twilio-account-sid", "AC" + strings.Repeat("0", 32), "-twilio-auth-token", "tok", "-twilio-from", "+15005550006", "-public-url", "https://sms.gov.example"}
	kannelArgs = []string{"-kannel-sendsms", "http://127.0.0.1:13013/cgi-bin/sendsms", "-kannel-user", "channels", "-kannel-password", "pw", "-kannel-secret", testKannelSecret}
)

// secretFile writes a secret to a file of its own and returns its path.
func secretFile(t *testing.T, secret string) string {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		want  string // substring of the error; "" for success
		check func(c config) bool
	}{
		{"defaults", nil, nil, "", func(c config) bool {
			return c.Addr == ":8080" && c.Data == "channels.db" && c.Region == "KE" && c.USSDPage == 182
		}},
		{"environment", map[string]string{"CHANNELS_ADDR": "127.0.0.1:9", "CHANNELS_REGION": "gh", "CHANNELS_RESUME_WINDOW": "2m"}, nil, "",
			func(c config) bool {
				return c.Addr == "127.0.0.1:9" && c.Region == "GH" && c.ResumeWindow == 2*time.Minute
			}},
		{"flag beats environment", map[string]string{"CHANNELS_DATA": "env.db"}, []string{"-data", "flag.db"}, "", func(c config) bool { return c.Data == "flag.db" }},
		{"bad duration in environment", map[string]string{"CHANNELS_USSD_SESSION": "soon"}, nil, "CHANNELS_USSD_SESSION", nil},
		{"unknown region", nil, []string{"-region", "XX"}, `region "XX"`, nil},
		{"page too large", nil, []string{"-ussd-page", "300"}, "ussd-page 300", nil},
		{"negative window", nil, []string{"-resume-window", "-1m"}, "resume-window must be positive", nil},
		{"bad log level", nil, []string{"-log-level", "loud"}, "log-level", nil},
		{"time zone", map[string]string{"CHANNELS_TIMEZONE": "Africa/Accra"}, nil, "", func(c config) bool { return c.location.String() == "Africa/Accra" }},
		{"unknown time zone", nil, []string{"-timezone", "Mars/Olympus"}, `timezone "Mars/Olympus"`, nil},
		{"sms off by default", nil, nil, "", func(c config) bool { return !c.twilio() && !c.kannel() && c.sender() == "" }},
		{"twilio", nil, twilioArgs, "", func(c config) bool { return c.sender() == "twilio" && c.rate() == 1 }},
		{"twilio token from a file", map[string]string{"CHANNELS_TWILIO_AUTH_TOKEN_FILE": secretFile(t, "tokenFromFile42\n")},
			[]string{"-twilio-account-sid", "AC" + strings.Repeat("0", 32), "-twilio-from", "+15005550006", "-public-url", "https://sms.gov.example"}, "",
			func(c config) bool { return c.TwilioAuthToken == "tokenFromFile42" }},
		{"twilio secret file missing", map[string]string{"CHANNELS_TWILIO_AUTH_TOKEN_FILE": "/nonexistent/token"}, nil, "CHANNELS_TWILIO_AUTH_TOKEN_FILE", nil},
		{"twilio without public url", nil, twilioArgs[:6], "Twilio needs public-url", nil},
		{"twilio half configured", nil, []string{"-twilio-account-sid", "AC" + strings.Repeat("0", 32)}, "both twilio-account-sid and twilio-auth-token", nil},
		{"twilio from and service", nil, append(slices.Clone(twilioArgs), "-twilio-messaging-service", "MG1"), "one of twilio-from", nil},
		{"kannel", nil, kannelArgs, "", func(c config) bool { return c.sender() == "kannel" && c.rate() == 10 }},
		{"kannel without password", nil, kannelArgs[:2], "kannel-user and kannel-password", nil},
		{"kannel weak secret", nil, append(slices.Clone(kannelArgs), "-kannel-secret", "abc%2F"), "kannel-secret must be", nil},
		{"both gateways", nil, append(slices.Clone(twilioArgs), kannelArgs...), "choose the one that sends with sms-sender", nil},
		{"both gateways, one sends", nil, append(append(slices.Clone(twilioArgs), kannelArgs...), "-sms-sender", "twilio"), "", func(c config) bool { return c.sender() == "twilio" }},
		{"sender not configured", nil, append(slices.Clone(kannelArgs), "-sms-sender", "twilio"), "sms-sender twilio is not configured", nil},
		{"console alone", nil, []string{"-sms-sender", "console"}, "", func(c config) bool { return c.sender() == "console" && !c.twilio() && !c.kannel() }},
		{"console named over a gateway", nil, append(slices.Clone(kannelArgs), "-sms-sender", "console"), "", func(c config) bool { return c.sender() == "console" && c.kannel() }},
		{"console never by default with a gateway", nil, kannelArgs, "", func(c config) bool { return c.sender() == "kannel" }},
		{"console from the environment", map[string]string{"CHANNELS_SMS_SENDER": "console"}, nil, "", func(c config) bool { return c.sender() == "console" }},
		{"unknown sender", nil, []string{"-sms-sender", "stdout"}, `sms-sender "stdout" must be twilio, kannel or console`, nil},
		{"public url with a path", nil, []string{"-public-url", "https://sms.gov.example/x"}, "must be a scheme and host", nil},
		{"idle in seconds", nil, []string{"-sms-idle", "30s"}, "sms-idle must be at least a minute", nil},
		{"replies", nil, []string{"-sms-replies", "carrier-pigeon"}, "inline or outbox", nil},
		{"zero rate", nil, []string{"-kannel-rate", "0"}, "kannel-rate 0", nil},
		{"kannel without secret", nil, kannelArgs[:6], "SMS over Kannel (kannel-sendsms) needs kannel-secret", nil},
		{"kannel ussd", nil, []string{"-kannel-ussd", "-kannel-secret", testKannelSecret, "-kannel-allow", "10.0.0.5"}, "", func(c config) bool {
			return c.KannelUSSD && !c.kannel() && len(c.kannelAllow) == 1 && c.kannelAllow[0].String() == "10.0.0.5/32"
		}},
		{"kannel ussd without secret", map[string]string{"CHANNELS_KANNEL_USSD": "true"}, nil, "USSD over Kannel (kannel-ussd) needs kannel-secret", nil},
		{"kannel secret without a route", nil, []string{"-kannel-secret", testKannelSecret}, "no Kannel route is on", nil},
		{"kannel allow without a route", nil, []string{"-kannel-allow", "10.0.0.0/8"}, "no Kannel route is on", nil},
		{"kannel bad allow", nil, append(slices.Clone(kannelArgs), "-kannel-allow", "10.0.0.0/8,kannel.local"), `kannel-allow: "kannel.local" is not an IP address or CIDR`, nil},
		{"at secret and allow", map[string]string{"CHANNELS_AT_SECRET_FILE": secretFile(t, "atSecretFromAFile1\n")}, []string{"-at-allow", "196.201.214.0/24, 196.201.215.7"}, "", func(c config) bool {
			return c.ATSecret == "atSecretFromAFile1" && len(c.atAllow) == 2
		}},
		{"at weak secret", nil, []string{"-at-secret", "short"}, "at-secret must be", nil},
		{"at bad allow", nil, []string{"-at-allow", "196.201.214.0/33"}, `at-allow: "196.201.214.0/33" is not`, nil},
		{"default limits", nil, nil, "", func(c config) bool {
			return c.smsPerPhone == ratelimit.Per(20, time.Hour) && c.ussdLimits.DialsPerPhone == ratelimit.Per(10, 15*time.Minute) &&
				c.ussdLimits.HopsPerSource == ratelimit.Per(5000, time.Second)
		}},
		{"a limit off", nil, []string{"-sms-per-source", "off"}, "", func(c config) bool { return c.smsPerSource.Off() }},
		{"bad limit", nil, []string{"-sms-per-phone", "20 an hour"}, `sms-per-phone: "20 an hour" is not N/DURATION`, nil},
		{"outbox lease", map[string]string{"CHANNELS_OUTBOX_LEASE": "30s"}, nil, "", func(c config) bool { return c.OutboxLease == 30*time.Second }},
		{"outbox lease default", nil, nil, "", func(c config) bool { return c.OutboxLease == 2*time.Minute }},
		{"outbox lease too short", nil, []string{"-outbox-lease", "500ms"}, "outbox-lease 500ms must be at least 2s", nil},
		{"trusted proxies", nil, []string{"-trusted-proxies", "10.0.0.0/8, 192.168.1.1"}, "", func(c config) bool { return len(c.proxies()) == 2 }},
		{"bad proxy", nil, []string{"-trusted-proxies", "10.0.0.0/8,proxy.local"}, `"proxy.local" is not an IP`, nil},
		{"metrics token and allow from the environment", map[string]string{
			"CHANNELS_METRICS_TOKEN_FILE": secretFile(t, strings.Repeat("m", 32)+"\n"), "CHANNELS_METRICS_ALLOW": "172.28.0.0/24,10.0.0.9",
		}, nil, "", func(c config) bool {
			return c.metricsToken == strings.Repeat("m", 32) && len(c.metricsAllow) == 2 && c.metricsAllow[1].String() == "10.0.0.9/32"
		}},
		{"metrics token too short", nil, []string{"-metrics-token-file", secretFile(t, strings.Repeat("m", 31))}, "holds 31 bytes, fewer than 32", nil},
		{"metrics token file missing", nil, []string{"-metrics-token-file", "/nonexistent/token"}, "metrics-token-file: metrics token", nil},
		{"metrics bad allow", nil, []string{"-metrics-allow", "prometheus.local"}, `metrics-allow: "prometheus.local" is not`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var c config
			fs := newFlagSet("serve")
			c.flags(fs)
			err := c.parse(fs, tt.args)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.check(c) {
					t.Errorf("config = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels/peertest"
)

const testKannelSecret = "kannelSecretForTests1"

// api calls the app API and decodes the JSON answer into out.
func (p *process) api(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && json.Unmarshal(data, out) != nil {
		t.Fatalf("%s %s: %d %s: not JSON", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

var code = regexp.MustCompile(`\b\d{6}\b`)

// signIn asks a code for phone, reads it from the SMS the operator got
// from Kannel and trades it for a token.
func (p *process) signIn(t *testing.T, k *peertest.Kannel, phone string) string {
	t.Helper()
	if st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"`+phone+`"}`, nil); st != http.StatusAccepted {
		t.Fatalf("ask a code for %s: %d", phone, st)
	}
	mt, ok := k.MT(t, 15*time.Second)
	if !ok || strings.TrimPrefix(mt.To, "+") != phone[1:] {
		t.Fatalf("no code reached %s: %+v", phone, mt)
	}
	c := code.FindString(mt.Text)
	var tok struct{ Token string }
	if st := p.api(t, "POST", "/v1/auth/verify", "", `{"phone":"`+phone+`","code":"`+c+`"}`, &tok); st != http.StatusOK || tok.Token == "" {
		t.Fatalf("verify %s with %q: %d", phone, c, st)
	}
	return tok.Token
}

// TestServeSMSOverKannel runs the binary as an operator would with a
// Kannel URL: a citizen completes a service by SMS alone, then signs in to
// the app with a code sent by SMS and sees that case, which another
// citizen cannot.
func TestServeSMSOverKannel(t *testing.T) {
	port := peertest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	k := peertest.StartKannel(t, peertest.KannelOptions{
		SMPP:   true,
		GetURL: base + "/sms/kannel?from=%p&to=%P&text=%a&id=%I&coding=%c&charset=%C&secret=" + testKannelSecret,
	})
	p := startServe(t, filepath.Join(t.TempDir(), "channels.db"),
		"-addr", "127.0.0.1:"+strconv.Itoa(port), "-public-url", base,
		"-kannel-sendsms", k.SendSMSURL, "-kannel-user", k.Username, "-kannel-password", k.Password,
		"-kannel-from", "22141", "-kannel-secret", testKannelSecret, "-kannel-rate", "50")

	const citizen, other = "+254712345678", "+254712345679"
	var reply string
	for _, m := range []string{"PROBLEM", "1", "Kisumu, near the bus park", "Broken water pipe", "1"} {
		k.SendMO(t, citizen, "22141", m)
		mt, ok := k.MT(t, 15*time.Second)
		if !ok {
			t.Fatalf("no reply to %q: %s", m, p.stderr)
		}
		reply = mt.Text
	}
	ref := reference.FindString(reply)
	if ref == "" {
		t.Fatalf("last reply %q has no reference", reply)
	}

	var c struct {
		Reference, Service string
	}
	token := p.signIn(t, k, citizen)
	if st := p.api(t, "GET", "/v1/cases/"+ref, token, "", &c); st != http.StatusOK || c.Reference != ref || c.Service != "report_problem" {
		t.Errorf("own case: %d %+v", st, c)
	}
	if st := p.api(t, "GET", "/v1/cases/"+ref, "", "", nil); st != http.StatusUnauthorized {
		t.Errorf("case without sign-in: %d, want 401", st)
	}
	otherToken := p.signIn(t, k, other)
	if st := p.api(t, "GET", "/v1/cases/"+ref, otherToken, "", nil); st != http.StatusNotFound {
		t.Errorf("another citizen reading the case: %d, want 404", st)
	}
	if st := p.api(t, "GET", "/v1/cases/"+ref+"?phone=%2B254712345678", otherToken, "", nil); st == http.StatusOK {
		t.Errorf("another citizen naming the owner's phone read the case")
	}

	// STOP holds for every sender: no code reaches a phone that opted out.
	k.SendMO(t, other, "22141", "STOP")
	if mt, ok := k.MT(t, 15*time.Second); !ok || !strings.Contains(mt.Text, "START") {
		t.Fatalf("STOP not confirmed: %+v", mt)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"`+other+`"}`, &e); st != http.StatusForbidden {
		t.Errorf("code for an opted-out phone: %d %+v, want 403", st, e)
	}
	if mt, ok := k.MT(t, 2*time.Second); ok {
		t.Errorf("an opted-out phone got %q", mt.Text)
	}
}

// TestServeWithoutSMS: with no gateway configured the SMS routes are off,
// the banner says so, and sign-in refuses clearly instead of queueing a
// code nobody will send.
func TestServeWithoutSMS(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "channels.db"))
	p.waitStdout(t, "channels: SMS: off (configure Twilio or Kannel)")
	resp, err := http.Post(p.base+"/sms/kannel", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/sms/kannel without Kannel: %d, want 404", resp.StatusCode)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"+254712345678"}`, &e)
	if st != http.StatusServiceUnavailable || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, "SMS cannot be sent") {
		t.Errorf("sign-in without SMS: %d %+v", st, e)
	}
	if strings.Contains(p.stderr.String(), "==== SMS to") {
		t.Errorf("a server not asked for the console sender printed an SMS:\n%s", p.stderr)
	}
}

// TestServeConsoleSMS runs the binary as a newcomer would, with nothing but
// -sms-sender console: the banner warns that it must never run in
// production, a sign-in code asked for is printed on stderr through the
// outbox, and trading it for a token opens an app session.
func TestServeConsoleSMS(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "channels.db"), "-sms-sender", "console")
	p.waitStdout(t, "channels: WARNING: -sms-sender console prints every SMS")
	p.waitStdout(t, "outbound SMS printed on stderr")

	const phone = "+254712345678"
	if st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"`+phone+`"}`, nil); st != http.StatusAccepted {
		t.Fatalf("ask a code: %d\n%s", st, p.stderr)
	}
	printed := regexp.MustCompile(`(?m)^==== SMS to \+254712345678 \(console sender, development only: not sent\) ====\n(.*)\n==== end of SMS ====$`)
	var sms []string
	for deadline := time.Now().Add(15 * time.Second); sms == nil; {
		if sms = printed.FindStringSubmatch(p.stderr.String()); sms == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no code printed for %s:\n%s", phone, p.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c := code.FindString(sms[1])
	var tok struct{ Token string }
	if st := p.api(t, "POST", "/v1/auth/verify", "", `{"phone":"`+phone+`","code":"`+c+`"}`, &tok); st != http.StatusOK || tok.Token == "" {
		t.Fatalf("verify with the printed code %q (from %q): %d", c, sms[1], st)
	}
	var session struct {
		Session string
		Screen  struct{ Kind string }
	}
	if st := p.api(t, "POST", "/v1/sessions", tok.Token, `{"service":"report_problem"}`, &session); st != http.StatusCreated || session.Session == "" {
		t.Errorf("start a session with the token: %d %+v", st, session)
	}
	if st := p.api(t, "POST", "/v1/sessions", "", `{"service":"report_problem"}`, nil); st != http.StatusUnauthorized {
		t.Errorf("a session without the token: %d, want 401", st)
	}
}

// waitStdout waits until the server has printed a line containing want.
func (p *process) waitStdout(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.stdout.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("the banner does not say %q:\n%s", want, p.stdout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeSMSOverTwilio runs the binary with Twilio credentials, its API
// played by Prism serving Twilio's own OpenAPI spec: a signed webhook is
// answered, its reply and a sign-in code go out through the outbox and
// twilio-go, and Prism accepts both as valid API calls.
func TestServeSMSOverTwilio(t *testing.T) {
	twilioAPI := recordTwilio(t, peertest.Prism(t))
	port := peertest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	const token = "0123456789abcdef0123456789abcdef"
	p := startServe(t, filepath.Join(t.TempDir(), "channels.db"),
		"-addr", "127.0.0.1:"+strconv.Itoa(port), "-public-url", base, "-log-level", "info",
		"-twilio-account-sid", "AC"+strings.Repeat("0a", 16), "-twilio-auth-token", token,
		"-twilio-from", "+15005550006", "-twilio-api", twilioAPI.URL, "-twilio-rate", "50", "-sms-replies", "outbox")

	form := url.Values{"MessageSid": {"SMtest1"}, "From": {"+254712345678"}, "To": {"+15005550006"}, "Body": {"MENU"}}
	post := func(sig string) *http.Response {
		req, _ := http.NewRequest("POST", base+"/sms/twilio", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	if resp := post("forged"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged webhook: %d, want 403", resp.StatusCode)
	}
	if resp := post(peertest.TwilioSignature(t, token, base+"/sms/twilio", params)); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed webhook: %d", resp.StatusCode)
	}
	if st := p.api(t, "POST", "/v1/auth/otp", "", `{"phone":"+254712345679"}`, nil); st != http.StatusAccepted {
		t.Fatalf("ask a code: %d", st)
	}
	twilioAPI.wait(t, "reply to MENU", func(m twilioSent) bool {
		return m.To == "+254712345678" && strings.Contains(m.Body, "1. Birth certificate")
	})
	twilioAPI.wait(t, "sign-in code", func(m twilioSent) bool {
		return m.To == "+254712345679" && code.MatchString(m.Body)
	})
	if strings.Contains(p.stderr.String(), "254712345679") {
		t.Error("a whole phone number reached the log")
	}
}

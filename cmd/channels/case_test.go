package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/peertest"
	"github.com/govchannels/channels/store/bolt"
)

// hookReceiver is an agency's webhook endpoint. It checks each delivery's
// signature with openssl, independently of the code that signed it, and
// keeps the events whose signature is right.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	secret string // hex, as `channels agency add` prints it
	events []map[string]any
	forged int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("Channels-Webhook-Timestamp")
		h.mu.Lock()
		secret := h.secret
		h.mu.Unlock()
		cmd := exec.Command("openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+secret)
		cmd.Stdin = bytes.NewReader(append([]byte(ts+"."), body...))
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("openssl: %v", err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mac := strings.TrimSpace(string(out[bytes.LastIndexByte(out, ' ')+1:]))
		var ev map[string]any
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Header.Get("Channels-Webhook-Signature") != "v1="+mac || json.Unmarshal(body, &ev) != nil || ev["id"] != r.Header.Get("Channels-Webhook-Id") {
			h.forged++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.events = append(h.events, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

// wait returns the first verified event of type typ whose case has the
// status status and, when actor is set, whose change was made by actor.
func (h *hookReceiver) wait(t *testing.T, typ, status, actor string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, ev := range h.events {
			c, _ := ev["case"].(map[string]any)
			ch, _ := ev["change"].(map[string]any)
			if ev["type"] == typ && c["status"] == status && (actor == "" || ch["actor"] == actor) {
				h.mu.Unlock()
				return ev
			}
		}
		h.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t.Fatalf("no verified %s webhook with status %s by %q; got %d events, %d refused", typ, status, actor, len(h.events), h.forged)
	return nil
}

var printedSecret = regexp.MustCompile(`Webhook secret [^:]*: ([0-9a-f]{64})`)

// addAgency runs `channels agency add` against the running server's data
// file (through its admin socket) and returns the key and webhook secret
// it printed once.
func addAgency(t *testing.T, data, id, name, hook string) (key, secret string) {
	t.Helper()
	args := []string{"agency", "add", "-data", data}
	if hook != "" {
		args = append(args, "-webhook", hook)
	}
	out, err := exec.Command(binary, append(args, id, name)...).CombinedOutput()
	if err != nil {
		t.Fatalf("channels agency add %s: %v\n%s", id, err, out)
	}
	if !strings.Contains(string(out), "through the admin socket") {
		t.Errorf("agency add did not go through the running server's socket:\n%s", out)
	}
	m := printedKey.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no key printed:\n%s", out)
	}
	m[1] = m[2]
	if s := printedSecret.FindSubmatch(out); s != nil {
		secret = string(s[1])
	}
	return string(m[1]), secret
}

// agencyAPI calls the agency API with key and decodes the answer into out.
func (p *process) agencyAPI(t *testing.T, method, path, key, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && json.Unmarshal(data, out) != nil {
		t.Fatalf("%s %s: %d %s: not JSON", method, path, resp.StatusCode, data)
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// setStatus moves a case through the agency API and fails the test on
// any answer but 200.
func (p *process) setStatus(t *testing.T, key, ref, status, note string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"status": status, "note": note})
	if st := p.agencyAPI(t, "POST", "/v1/agency/cases/"+ref+"/status", key, string(body), nil); st != http.StatusOK {
		t.Fatalf("set %s to %s: %d", ref, status, st)
	}
}

// waitFCM waits for the FCM peer's nth request (1-based).
func waitFCM(t *testing.T, fcm *peertest.FCM, n int) peertest.FCMRequest {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if rs := fcm.Requests(); len(rs) >= n {
			return rs[n-1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("FCM got %d requests, want %d", len(fcm.Requests()), n)
	return peertest.FCMRequest{}
}

// TestCaseLifecycle runs a case through its whole life against the real
// peers: a citizen reports a problem by SMS over Kannel; the agency, with
// a key made by `channels agency add` while the server runs, hears of it
// by a signed webhook, lists it and changes its status; the citizen is
// told by SMS, then by push once their app registered a device, answers
// the agency's question by SMS, and gets the SMS fallback when FCM
// reports the device's token dead. Another agency's key sees nothing.
func TestCaseLifecycle(t *testing.T) {
	port := peertest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	k := peertest.StartKannel(t, peertest.KannelOptions{
		SMPP:   true,
		GetURL: base + "/sms/kannel?from=%p&to=%P&text=%a&id=%I&coding=%c&charset=%C&secret=" + testKannelSecret,
	})
	fcm := peertest.StartFCM(t)
	hooks := newHookReceiver(t)
	data := filepath.Join(t.TempDir(), "channels.db")
	p := startServe(t, data,
		"-addr", "127.0.0.1:"+strconv.Itoa(port), "-public-url", base,
		"-kannel-sendsms", k.SendSMSURL, "-kannel-user", k.Username, "-kannel-password", k.Password,
		"-kannel-from", "22141", "-kannel-secret", testKannelSecret, "-kannel-rate", "50",
		"-firebase-project", fcm.ProjectID, "-fcm-endpoint", fcm.Endpoint)

	key, secret := addAgency(t, data, "county_works", "County Works", hooks.URL+"/hook")
	if secret == "" {
		t.Fatal("no webhook secret printed")
	}
	hooks.mu.Lock()
	hooks.secret = secret
	hooks.mu.Unlock()
	otherKey, _ := addAgency(t, data, "civil_registry", "Civil Registry", "")

	const citizen = "+254712345678"
	sms := func(texts ...string) string {
		t.Helper()
		var reply string
		for _, m := range texts {
			k.SendMO(t, citizen, "22141", m)
			mt, ok := k.MT(t, 15*time.Second)
			if !ok {
				t.Fatalf("no reply to %q: %s", m, p.stderr)
			}
			reply = mt.Text
		}
		return reply
	}
	notice := func(want string) {
		t.Helper()
		mt, ok := k.MT(t, 20*time.Second)
		if !ok || !strings.Contains(mt.Text, want) || strings.TrimPrefix(mt.To, "+") != citizen[1:] {
			t.Fatalf("SMS notice %+v, want one to the citizen with %q", mt, want)
		}
	}
	noSMS := func(why string) {
		t.Helper()
		if mt, ok := k.MT(t, 2*time.Second); ok {
			t.Fatalf("%s, but an SMS went: %q", why, mt.Text)
		}
	}

	ref := reference.FindString(sms("PROBLEM", "1", "Kisumu, near the bus park", "Broken water pipe", "1"))
	if ref == "" {
		t.Fatal("no reference")
	}
	created := hooks.wait(t, "case.created", "submitted", "citizen")
	if c := created["case"].(map[string]any); c["reference"] != ref || c["agency"] != "county_works" {
		t.Errorf("case.created webhook %v", created)
	}

	var page struct {
		Cases []struct {
			Reference string `json:"reference"`
		} `json:"cases"`
	}
	if st := p.agencyAPI(t, "GET", "/v1/agency/cases?status=submitted", key, "", &page); st != http.StatusOK || len(page.Cases) != 1 || page.Cases[0].Reference != ref {
		t.Fatalf("the agency's list: %d %+v", st, page)
	}
	if st := p.agencyAPI(t, "GET", "/v1/agency/cases/"+ref, otherKey, "", nil); st != http.StatusNotFound {
		t.Errorf("another agency read the case: %d, want 404", st)
	}
	if st := p.agencyAPI(t, "POST", "/v1/agency/cases/"+ref+"/status", otherKey, `{"status":"rejected","note":"not ours"}`, nil); st != http.StatusNotFound {
		t.Errorf("another agency changed the case: %d, want 404", st)
	}

	// No device yet: the notice goes by SMS, without the agency's own note.
	p.setStatus(t, key, ref, "in_review", "assigned to the Kisumu depot")
	notice("Report a problem " + ref + ": In review.")

	token := p.signIn(t, k, citizen)
	if st := p.api(t, "POST", "/v1/devices", token, `{"token":"tok-phone-1","platform":"android"}`, nil); st != http.StatusCreated {
		t.Fatalf("register the device: %d", st)
	}

	// With a device: by push, and no SMS.
	p.setStatus(t, key, ref, "more_info", "Which estate, and which street?")
	push := waitFCM(t, fcm, 1)
	if push.Token != "tok-phone-1" || push.Title != "Report a problem" || !strings.Contains(push.Body, "Which estate, and which street?") ||
		push.Data["reference"] != ref || push.Data["status"] != "more_info" || push.Data["link"] != "channels://cases/"+ref || push.Status != http.StatusOK {
		t.Errorf("push %+v", push)
	}
	noSMS("the push was taken")
	hooks.wait(t, "case.status_changed", "more_info", "")

	// The citizen answers by SMS; the agency hears of it by webhook.
	if reply := sms("STATUS", "3", ref, "Milimani estate, Oginga Odinga street", "1"); !strings.Contains(reply, ref) {
		t.Fatalf("answer not confirmed: %q", reply)
	}
	answered := hooks.wait(t, "case.status_changed", "in_review", "citizen")
	if ch := answered["change"].(map[string]any); ch["note"] != "Milimani estate, Oginga Odinga street" {
		t.Errorf("the webhook of the answer carries %v, want the citizen's words", ch)
	}

	// The token dies: FCM says so, the device is forgotten and the SMS
	// goes instead.
	fcm.Kill("tok-phone-1")
	p.setStatus(t, key, ref, "approved", "")
	if dead := waitFCM(t, fcm, 2); dead.Status != http.StatusNotFound || dead.ErrorCode != "UNREGISTERED" {
		t.Errorf("FCM answered %d %s to the dead token", dead.Status, dead.ErrorCode)
	}
	notice("Report a problem " + ref + ": Approved.")
	p.setStatus(t, key, ref, "ready", "Collect your report receipt at the county office.")
	notice("Collect your report receipt at the county office.")
	if n := len(fcm.Requests()); n != 2 {
		t.Errorf("FCM got %d requests; the dead device was not forgotten", n)
	}

	var mine struct {
		Cases []struct {
			Reference, Status string
		}
	}
	if st := p.api(t, "GET", "/v1/cases", token, "", &mine); st != http.StatusOK || len(mine.Cases) != 1 || mine.Cases[0].Status != "ready" {
		t.Errorf("the citizen's cases: %d %+v", st, mine)
	}
	if hooks.forged != 0 {
		t.Errorf("%d webhook deliveries failed an independent signature check", hooks.forged)
	}
}

// TestPushFallbackOverTwilio checks the SMS fallback of a dead push token
// through Twilio (Prism serving Twilio's own spec) for a case made by USSD.
func TestPushFallbackOverTwilio(t *testing.T) {
	twilioAPI := recordTwilio(t, peertest.Prism(t))
	fcm := peertest.StartFCM(t)
	const citizen = "+254712345678"
	data := filepath.Join(t.TempDir(), "channels.db")
	// The device was registered earlier (the store is the server's own
	// file, written before it starts).
	db, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutDevice(context.Background(), channels.Device{Phone: citizen, Token: "tok-dead", Platform: "ios", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	fcm.Kill("tok-dead")

	p := startServe(t, data, "-log-level", "info", "-public-url", "https://sms.gov.example",
		"-twilio-account-sid", "AC"+strings.Repeat("0a", 16), "-twilio-auth-token", "0123456789abcdef0123456789abcdef",
		"-twilio-from", "+15005550006", "-twilio-api", twilioAPI.URL, "-twilio-rate", "50",
		"-firebase-project", fcm.ProjectID, "-fcm-endpoint", fcm.Endpoint)
	key, _ := addAgency(t, data, "county_works", "County Works", "")

	p.ussd(t, "s1", citizen, "")
	p.ussd(t, "s1", citizen, "3")
	p.ussd(t, "s1", citizen, "3*1")
	p.ussd(t, "s1", citizen, "3*1*Kisumu, near the bus park")
	p.ussd(t, "s1", citizen, "3*1*Kisumu, near the bus park*Broken water pipe")
	ref := reference.FindString(p.ussd(t, "s1", citizen, "3*1*Kisumu, near the bus park*Broken water pipe*1"))
	if ref == "" {
		t.Fatal("no reference from USSD")
	}
	p.setStatus(t, key, ref, "in_review", "")
	if r := waitFCM(t, fcm, 1); r.ErrorCode != "UNREGISTERED" {
		t.Fatalf("FCM answered %+v", r)
	}
	twilioAPI.wait(t, "SMS notice after the push failed", func(m twilioSent) bool {
		return m.To == citizen && strings.Contains(m.Body, ref)
	})
}

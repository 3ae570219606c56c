package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/webhook"
)

// demoAgency is a running `channels demo-agency`, a process of its own as
// an agency's server is.
type demoAgency struct{ *process }

// startDemoAgency runs the binary's demo-agency on a free port with the
// secrets in secretFile and waits until it prints its address.
func startDemoAgency(t *testing.T, secretFile string, extra ...string) *demoAgency {
	t.Helper()
	return &demoAgency{startCommand(t, "info", append([]string{"demo-agency", "-addr", "127.0.0.1:0", "-secret-file", secretFile}, extra...)...)}
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

// The end-to-end tests of call steps below run the real binary twice: a
// `channels serve` (USSD over Africa's Talking, SMS in over Kannel and out
// on the console sender, the app API) and a `channels demo-agency` it
// calls, wired as the README's "Trying it" says: the agencies added with
// -api-url, their secrets given to the demonstration, then pointed at it.

// callAgencies are the agencies the shipped call services name.
var callAgencies = [][2]string{
	{"revenue", "Revenue Authority"},
	{"social_protection", "Social Protection"},
	{"national_registry", "National Registry"},
	{"civil_registry", "Civil Registry"},
}

// callServeArgs let SMS in over Kannel (its replies inline) and print every
// SMS sent, the late answers among them, on stderr.
var callServeArgs = []string{"-sms-sender", "console",
	"-kannel-sendsms", "http://127.0.0.1:9/cgi-bin/sendsms", "-kannel-user", "channels", "-kannel-password", "pw",
	"-kannel-secret", testKannelSecret}

// callsEnv is a serve and a demo-agency that it calls.
type callsEnv struct {
	data   string
	args   []string
	agency *demoAgency
	serve  *process
}

// binaryOut runs the binary with args and returns what it printed; a
// failure fails the test.
func binaryOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("channels %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func startCalls(t *testing.T, extra ...string) *callsEnv {
	t.Helper()
	e := &callsEnv{data: filepath.Join(t.TempDir(), "channels.db"), args: append(slices.Clone(callServeArgs), extra...)}
	var secrets []string
	for _, a := range callAgencies {
		// The demonstration's address is known once it runs, and it needs
		// the secrets first: add the agencies with a placeholder URL.
		out := binaryOut(t, "agency", "add", "-data", e.data, "-api-url", "http://127.0.0.1:1", a[0], a[1])
		m := printedSecret.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("agency add %s printed no secret:\n%s", a[0], out)
		}
		secrets = append(secrets, a[0]+" "+m[1])
	}
	e.agency = startDemoAgency(t, writeSecret(t, secrets...))
	for _, a := range callAgencies {
		binaryOut(t, "agency", "api-url", "-data", e.data, a[0], e.agency.base)
	}
	e.serve = startServe(t, e.data, e.args...)
	return e
}

// consoleSMS is one SMS as the console sender prints it.
var consoleSMS = regexp.MustCompile(`(?s)==== SMS to (\S+) \(console sender, development only: not sent\) ====\n(.*?)\n==== end of SMS ====`)

// smsTo returns the texts of the SMS printed in out for phone, in order.
func smsTo(out, phone string) []string {
	var texts []string
	for _, m := range consoleSMS.FindAllStringSubmatch(out, -1) {
		if m[1] == phone {
			texts = append(texts, m[2])
		}
	}
	return texts
}

// waitSMS waits until the server has printed n SMS for phone and returns
// them.
func (p *process) waitSMS(t *testing.T, phone string, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if got := smsTo(p.stderr.String(), phone); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s got %d SMS, want %d:\n%s", phone, len(smsTo(p.stderr.String(), phone)), n, p.stderr)
		}
	}
}

// transcript is a dialogue as its golden file keeps it: "> " and what the
// citizen sent, then what came back; "~ SMS" and an SMS that came later.
type transcript struct{ strings.Builder }

func (tr *transcript) sent(in string) {
	if in == "" {
		tr.WriteString(">\n")
		return
	}
	tr.WriteString("> " + in + "\n")
}

func (tr *transcript) got(text string) { tr.WriteString(text + "\n") }

func (tr *transcript) late(text string) { tr.WriteString("~ SMS\n" + text + "\n") }

// ussdDialogue dials and sends inputs as Africa's Talking does, each hop
// the whole text so far.
func (e *callsEnv) ussdDialogue(t *testing.T, tr *transcript, session, phone string, inputs []string) string {
	t.Helper()
	var text, reply string
	for i, in := range append([]string{""}, inputs...) {
		if i > 1 {
			text += "*"
		}
		text += in
		tr.sent(in)
		reply = e.serve.ussd(t, session, phone, text)
		tr.got(reply)
	}
	return reply
}

// smsDialogue sends each input as an SMS in over Kannel and keeps the
// inline reply.
func (e *callsEnv) smsDialogue(t *testing.T, tr *transcript, phone string, inputs []string) string {
	t.Helper()
	var reply string
	for _, in := range inputs {
		q := url.Values{"from": {phone}, "to": {"22141"}, "text": {in}, "id": {fmt.Sprintf("mo-%d", time.Now().UnixNano())}, "secret": {testKannelSecret}}
		code, body := e.serve.call(t, "GET", "/sms/kannel?"+q.Encode(), nil, nil)
		if code != http.StatusOK {
			t.Fatalf("SMS %q: %d %s", in, code, body)
		}
		tr.sent(in)
		tr.got(body)
		reply = body
	}
	return reply
}

// appScreen is the screen of an app session's answer.
type appScreen struct {
	Session string `json:"session"`
	Screen  struct {
		Kind    string   `json:"kind"`
		Text    string   `json:"text"`
		Lines   []string `json:"lines"`
		Options []struct {
			Key   string `json:"key"`
			Label string `json:"label"`
		} `json:"options"`
		Error string `json:"error"`
		Ended bool   `json:"ended"`
	} `json:"screen"`
}

func (s appScreen) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s", s.Screen.Kind, s.Screen.Text)
	if s.Screen.Error != "" {
		fmt.Fprintf(&b, "\n  error: %s", s.Screen.Error)
	}
	for _, l := range s.Screen.Lines {
		fmt.Fprintf(&b, "\n  %s", l)
	}
	for _, o := range s.Screen.Options {
		fmt.Fprintf(&b, "\n  %s. %s", o.Key, o.Label)
	}
	if s.Screen.Ended {
		b.WriteString("\n  (ended)")
	}
	return b.String()
}

// appSignIn signs phone in to the app with the code the console sender
// printed; it is the phone's first SMS.
func (e *callsEnv) appSignIn(t *testing.T, phone string) string {
	t.Helper()
	if st := e.serve.api(t, "POST", "/v1/auth/otp", "", `{"phone":"`+phone+`"}`, nil); st != http.StatusAccepted {
		t.Fatalf("ask a code for %s: %d", phone, st)
	}
	c := code.FindString(e.serve.waitSMS(t, phone, 1)[0])
	var tok struct{ Token string }
	if st := e.serve.api(t, "POST", "/v1/auth/verify", "", `{"phone":"`+phone+`","code":"`+c+`"}`, &tok); st != http.StatusOK || tok.Token == "" {
		t.Fatalf("verify %s with %q: %d", phone, c, st)
	}
	return tok.Token
}

// appDialogue starts service in the app and answers each input.
func (e *callsEnv) appDialogue(t *testing.T, tr *transcript, token, service string, inputs []string) appScreen {
	t.Helper()
	var s appScreen
	tr.sent("start " + service)
	if st := e.serve.api(t, "POST", "/v1/sessions", token, `{"service":"`+service+`"}`, &s); st != http.StatusCreated {
		t.Fatalf("start %s: %d %+v", service, st, s)
	}
	tr.got(s.String())
	for _, in := range inputs {
		body, _ := json.Marshal(map[string]string{"text": in})
		id := s.Session
		s = appScreen{} // a screen without options must not keep the last one's
		tr.sent(in)
		if st := e.serve.api(t, "POST", "/v1/sessions/"+id+"/input", token, string(body), &s); st != http.StatusOK {
			t.Fatalf("answer %q: %d %+v", in, st, s)
		}
		tr.got(s.String())
	}
	return s
}

// taxPINEntry is how a citizen reaches the tax PIN service: its title in
// the root menu (USSD) and its first keyword (SMS), in English, from the
// catalog the server runs.
func taxPINEntry(t *testing.T) (title, keyword string) {
	t.Helper()
	cat, bundle, err := catalog(os.Getenv("CHANNELS_SERVICES"))
	if err != nil {
		t.Fatal(err)
	}
	svc := cat.Service("tax_pin")
	if svc == nil {
		t.Fatal("the catalog has no tax_pin service")
	}
	keywords := bundle.Text("en", channels.Msg(svc.Keyword))
	first, _, _ := strings.Cut(keywords, ",")
	return bundle.Text("en", channels.Msg(svc.Title)), strings.TrimSpace(first)
}

// menuKey is the key of the option labelled label in a USSD menu page.
func menuKey(t *testing.T, page, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(\d+)\. ` + regexp.QuoteMeta(label) + `$`).FindStringSubmatch(strings.TrimPrefix(page, "CON "))
	if m == nil {
		t.Fatalf("no option %q in the menu:\n%s", label, page)
	}
	return m[1]
}

// pinOutcomes are the tax PIN service's four outcomes and the seeded PIN
// of the demonstration that makes each happen, and the other failures
// the demonstration can play.
var pinOutcomes = []struct {
	name      string // of the golden files, CHANNEL-NAME.txt
	what, pin string // the menu choice (1 PIN status, 2 certificate) and the PIN
	late      bool   // the answer comes later by SMS
}{
	{"found", "1", "A012345678Z", false},
	{"found-certificate", "2", "A023456789B", false},
	{"not_found", "1", "A999999999X", false},
	{"failed", "1", "A000000500F", false},
	{"timeout", "1", "A000000006S", true},
}

// TestCallTranscripts: the tax PIN service on USSD, SMS and the app,
// against the demonstration agency as a process of its own, one golden
// transcript per outcome and channel. A timed-out call is answered later
// by SMS: the found screen of the slow PIN, once.
func TestCallTranscripts(t *testing.T) {
	e := startCalls(t)
	title, keyword := taxPINEntry(t)
	for i, o := range pinOutcomes {
		for j, channel := range []string{"ussd", "sms", "app"} {
			t.Run(channel+"/"+o.name, func(t *testing.T) {
				t.Parallel()
				phone := fmt.Sprintf("+2547123460%d%d", i, j)
				var tr transcript
				fmt.Fprintf(&tr, "## tax_pin on %s, %s: PIN %s from %s\n", channel, o.name, o.pin, phone)
				sent := 0 // SMS the phone got before the answer
				switch channel {
				case "ussd":
					tr.sent("")
					menu := e.serve.ussd(t, "calls-"+o.name, phone, "")
					tr.got(menu)
					key := menuKey(t, menu, title)
					for _, text := range []string{key, key + "*" + o.what, key + "*" + o.what + "*" + o.pin} {
						tr.sent(text[strings.LastIndex(text, "*")+1:])
						tr.got(e.serve.ussd(t, "calls-"+o.name, phone, text))
					}
				case "sms":
					e.smsDialogue(t, &tr, phone, []string{keyword, o.what, o.pin})
				case "app":
					token := e.appSignIn(t, phone)
					sent = 1
					e.appDialogue(t, &tr, token, "tax_pin", []string{o.what, o.pin})
				}
				if o.late {
					got := e.serve.waitSMS(t, phone, sent+1)
					tr.late(got[sent])
				}
				channelstest.Golden(t, filepath.Join("testdata", "calltranscripts", channel+"-"+o.name+".txt"), tr.String(), *update)
				if !o.late {
					if got := smsTo(e.serve.stderr.String(), phone); len(got) != sent {
						t.Errorf("%s got SMS %q; want none but the sign-in code", phone, got[sent:])
					}
				}
			})
		}
	}
}

// TestCallAnswersFailures: the answers no agency should give (a 100 KiB
// body, malformed JSON) are the failed exit, a hang the timeout exit; the
// citizen's hop is answered either way.
func TestCallAnswersFailures(t *testing.T) {
	e := startCalls(t)
	title, _ := taxPINEntry(t)
	for i, tt := range []struct{ name, pin string }{
		{"oversized", "A000000100K"},
		{"malformed", "A000000400M"},
		{"hang", "A000000999H"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			phone := fmt.Sprintf("+25471234610%d", i)
			var tr transcript
			fmt.Fprintf(&tr, "## tax_pin on ussd, an agency that answers %s: PIN %s\n", tt.name, tt.pin)
			sid := "fail-" + tt.name
			tr.sent("")
			menu := e.serve.ussd(t, sid, phone, "")
			tr.got(menu)
			key := menuKey(t, menu, title)
			for _, text := range []string{key, key + "*1", key + "*1*" + tt.pin} {
				tr.sent(text[strings.LastIndex(text, "*")+1:])
				tr.got(e.serve.ussd(t, sid, phone, text))
			}
			channelstest.Golden(t, filepath.Join("testdata", "calltranscripts", "ussd-"+tt.name+".txt"), tr.String(), *update)
		})
	}
}

// TestCallKilledBeforeLateAnswer: a call times out (the slow PIN), its
// background call is in flight at the agency when the server is killed
// with SIGKILL; restarted on the same data file, the server makes the
// call again and the citizen gets the answer by SMS exactly once.
func TestCallKilledBeforeLateAnswer(t *testing.T) {
	e := startCalls(t)
	title, _ := taxPINEntry(t)
	const phone, sid = "+254712346200", "kill-late"
	menu := e.serve.ussd(t, sid, phone, "")
	key := menuKey(t, menu, title)
	e.serve.ussd(t, sid, phone, key)
	e.serve.ussd(t, sid, phone, key+"*1")
	byLater := e.serve.ussd(t, sid, phone, key+"*1*A000000006S")
	if !strings.HasPrefix(byLater, "END ") {
		t.Fatalf("the timed-out call's hop: %q; want the END of the timeout exit", byLater)
	}

	// The inline call, then the background one: both at the agency.
	taken := regexp.MustCompile(`demo-agency took a call.*key=ussd/` + sid + `/`)
	for deadline := time.Now().Add(30 * time.Second); len(taken.FindAllString(e.agency.stderr.String(), -1)) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the background call did not reach the agency:\n%s", e.agency.stderr)
		}
	}
	if err := e.serve.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.serve.cmd.Wait()
	killed := e.serve.stderr.String()
	if got := smsTo(killed, phone); len(got) != 0 {
		t.Fatalf("an answer was sent before the kill: %q", got)
	}

	restarted := startServe(t, e.data, e.args...)
	answer := restarted.waitSMS(t, phone, 1)
	if !strings.Contains(answer[0], "Slow Answer") {
		t.Errorf("the late answer %q is not the found screen of the slow PIN", answer[0])
	}

	// The agency answered the call made again after the restart; stop
	// the server the way an orchestrator does and read the outbox: the
	// call and its answer each went out once.
	answered := regexp.MustCompile(`demo-agency answered".*key=(ussd/` + sid + `/\S+) answer=found`)
	var callKey string
	for deadline := time.Now().Add(30 * time.Second); callKey == ""; time.Sleep(20 * time.Millisecond) {
		if m := answered.FindStringSubmatch(e.agency.stderr.String()); m != nil {
			callKey = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agency never answered the background call:\n%s", e.agency.stderr)
		}
	}
	// Inline, in the background before the kill, and again after it: one
	// key, which the agency can rely on.
	keys := regexp.MustCompile(`demo-agency took a call" operation=pin_status key=(\S+)`).FindAllStringSubmatch(e.agency.stderr.String(), -1)
	if len(keys) < 3 {
		t.Errorf("the agency took %d calls; want the inline one, the one cut by the kill and the one after", len(keys))
	}
	for _, k := range keys {
		if k[1] != callKey {
			t.Errorf("a call with key %s; want every attempt under %s", k[1], callKey)
		}
	}
	if err := restarted.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	restarted.cmd.Wait()
	if got := smsTo(killed+restarted.stderr.String(), phone); len(got) != 1 {
		t.Errorf("the citizen got %d SMS: %q; want the answer once", len(got), got)
	}
	db, err := bolt.Open(e.data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, k := range []string{"call/" + callKey, "answer/" + callKey} {
		m, err := db.Outbound(ctx, k)
		if err != nil {
			t.Fatalf("outbox %s: %v", k, err)
		}
		if m.Status != channels.OutboundSent {
			t.Errorf("outbox %s is %s (%s); want sent", k, m.Status, m.Reason)
		}
	}
}

// TestCallAppointment books a slot of the demonstration's calendar on
// USSD (free slots, a hold, the case, the booking on its reference), then
// finds it under "My appointment", cancels it, finds it cancelled, and
// cannot cancel it twice: the changes the agency made are the ones the
// citizen was shown.
func TestCallAppointment(t *testing.T) {
	e := startCalls(t)
	cat, bundle, err := catalog("")
	if err != nil {
		t.Fatal(err)
	}
	title := func(id string) string { return bundle.Text("en", channels.Msg(cat.Service(id).Title)) }
	// Each dialogue from a phone of its own: a dialogue left inside a
	// service would have the next dial offer to resume it.
	phone := func(n int) string { return fmt.Sprintf("+2547123463%02d", n) }
	var tr transcript
	menu := e.serve.ussd(t, "appt-probe", phone(0), "")
	book, check := menuKey(t, menu, title("registry_appointment")), menuKey(t, menu, title("check_status"))

	// Office 1 (Nairobi), the first free slot, confirm.
	booked := e.ussdDialogue(t, &tr, "appt-book", phone(1), []string{book, "1", "1", "1"})
	ref := reference.FindString(booked)
	slot := regexp.MustCompile(`\d\d/\d\d/\d{4} \d\d:\d\d`).FindString(booked)
	if !strings.HasPrefix(booked, "END ") || ref == "" || slot == "" {
		t.Fatalf("booking ended with %q; want the reference and the time:\n%s", booked, tr.String())
	}
	shown := e.ussdDialogue(t, &tr, "appt-show", phone(2), []string{check, "4", ref})
	if !strings.Contains(shown, slot) || strings.Contains(shown, "cancelled") {
		t.Errorf("my appointment shows %q; want the booked %s", shown, slot)
	}
	// Cancel it: 1 cancel, 1 confirm.
	cancelled := e.ussdDialogue(t, &tr, "appt-cancel", phone(3), []string{check, "4", ref, "1", "1"})
	if !strings.HasPrefix(cancelled, "END ") || !strings.Contains(cancelled, "cancelled") {
		t.Errorf("cancelling ended with %q", cancelled)
	}
	again := e.ussdDialogue(t, &tr, "appt-again", phone(4), []string{check, "4", ref})
	if !strings.Contains(again, slot) || !strings.Contains(again, "cancelled") {
		t.Errorf("my appointment after the cancel shows %q; want %s cancelled", again, slot)
	}
	// Cancelling it again asks the agency nothing and says it is cancelled.
	twice := e.ussdDialogue(t, &tr, "appt-cancel-again", phone(5), []string{check, "4", ref, "1"})
	if !strings.HasPrefix(twice, "END ") || !strings.Contains(twice, "cancelled") {
		t.Errorf("cancelling a cancelled booking ended with %q", twice)
	}

	// What the agency was asked, in order, each once.
	calls := regexp.MustCompile(`demo-agency answered" operation=(\S+) key=\S+ answer=(\S+)`).FindAllStringSubmatch(e.agency.stderr.String(), -1)
	var got []string
	for _, c := range calls {
		got = append(got, c[1]+" "+c[2])
	}
	want := []string{"free_slots found", "hold_slot found", "book_slot found", "booking found", "booking found", "cancel_booking found", "booking found", "booking found"}
	if !slices.Equal(got, want) {
		t.Errorf("the agency answered %q; want %q\n%s", got, want, tr.String())
	}
}

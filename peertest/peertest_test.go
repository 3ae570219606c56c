package peertest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/peertest"
)

// TestPrism checks that Prism serves Twilio's spec and enforces it: a
// request without Basic auth is refused as Twilio would refuse it.
func TestPrism(t *testing.T) {
	base := peertest.Prism(t)
	resp, err := http.PostForm(base+"/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json",
		url.Values{"To": {"+256700000001"}, "From": {"+15005550006"}, "Body": {"hi"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST Messages.json without auth: %s %s, want 401", resp.Status, b)
	}
}

// TestTwilioSignature compares the npm twilio package's signature with
// twilio-go's validator: two independent implementations of Twilio's
// webhook signing must agree.
func TestTwilioSignature(t *testing.T) {
	const token = "12345678901234567890123456789012"
	tests := []struct {
		name   string
		url    string
		params map[string]string
	}{
		{"sms webhook", "https://gov.example/sms/twilio", map[string]string{
			"From": "+256700000001", "To": "+15005550006", "Body": "STATUS 123", "MessageSid": "SM123",
		}},
		{"query string and unicode", "https://gov.example/sms/twilio?key=a%2Fb", map[string]string{
			"Body": "مرحبا", "From": "+201000000000",
		}},
		{"no params", "https://gov.example/status", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := peertest.TwilioSignature(t, token, tt.url, tt.params)
			if sig == "" {
				t.Fatal("empty signature")
			}
			v := client.NewRequestValidator(token)
			if !v.Validate(tt.url, tt.params, sig) {
				t.Errorf("twilio-go rejects npm twilio's signature %q", sig)
			}
			if v.Validate(tt.url, tt.params, sig[1:]+"A") {
				t.Errorf("twilio-go accepts a damaged signature")
			}
		})
	}
}

// moApp is a get-url app: it records what Kannel sends it and answers
// with a body (and headers) of its choosing.
type moApp struct {
	mu      sync.Mutex
	queries []url.Values
	raw     []string
	reply   func(w http.ResponseWriter, q url.Values)
}

func (a *moApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.queries = append(a.queries, r.URL.Query())
	a.raw = append(a.raw, r.URL.RawQuery)
	a.mu.Unlock()
	a.reply(w, r.URL.Query())
}

// wait returns the n-th request's query, waiting up to 5 s for it.
func (a *moApp) wait(t *testing.T, n int) (url.Values, string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		if len(a.queries) > n {
			q, raw := a.queries[n], a.raw[n]
			a.mu.Unlock()
			return q, raw
		}
		a.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("get-url: request %d never came", n+1)
	return nil, ""
}

// TestKannelFakeSMSC sends inbound SMS through fakesmsc and Kannel to a
// get-url app whose answer must come back to the operator as the reply;
// sendsms must reach the operator too.
func TestKannelFakeSMSC(t *testing.T) {
	app := &moApp{reply: func(w http.ResponseWriter, q url.Values) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, gsm := gsm7.Septets(q.Get("text")); !gsm {
			// Without it Kannel sends the reply in GSM 03.38, "?" for
			// every letter outside it.
			w.Header().Set("X-Kannel-Coding", "2")
		}
		io.WriteString(w, "you said: "+q.Get("text"))
	}}
	srv := httptest.NewServer(app)
	defer srv.Close()
	k := peertest.StartKannel(t, peertest.KannelOptions{
		GetURL: srv.URL + "/sms/kannel?from=%p&to=%P&text=%a&id=%I",
	})

	tests := []struct {
		name, from, to, text string
	}{
		{"ascii", "+256700000001", "8080", "STATUS 123"},
		{"arabic", "+201000000000", "8080", "مرحبا"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k.SendMO(t, tt.from, tt.to, tt.text)
			q, _ := app.wait(t, i)
			if q.Get("from") != tt.from || q.Get("to") != tt.to || q.Get("text") != tt.text || q.Get("id") == "" {
				t.Errorf("get-url query = %v, want from=%s to=%s text=%s and an id", q, tt.from, tt.to, tt.text)
			}
			mt, ok := k.MT(t, 5*time.Second)
			if !ok {
				t.Fatal("no reply reached the operator")
			}
			want := peertest.MT{From: tt.to, To: tt.from, Text: "you said: " + tt.text, USSDServiceOp: -1}
			if mt.From != want.From || mt.To != want.To || mt.Text != want.Text || mt.USSDServiceOp != -1 {
				t.Errorf("reply = %+v, want %+v", mt, want)
			}
		})
	}

	t.Run("sendsms", func(t *testing.T) {
		resp, err := http.Get(k.SendSMSURL + "?" + url.Values{
			"username": {k.Username}, "password": {k.Password},
			"from": {"8080"}, "to": {"+256700000002"}, "text": {"your case is ready"},
		}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("sendsms: %s %s, want 202", resp.Status, b)
		}
		mt, ok := k.MT(t, 5*time.Second)
		if !ok || mt.To != "+256700000002" || mt.Text != "your case is ready" {
			t.Fatalf("operator got %+v (ok %v)", mt, ok)
		}
	})
}

// TestKannelSMPPUSSD plays one USSD exchange over SMPP: the operator sends
// a deliver_sm with ussd_service_op and its_session_info, Kannel passes
// them to the get-url as %D, the app answers with X-Kannel-Meta-Data, and
// the reply reaches the operator as a submit_sm carrying those TLVs.
func TestKannelSMPPUSSD(t *testing.T) {
	app := &moApp{reply: func(w http.ResponseWriter, q url.Values) {
		// 2 = USSR request (continue the session), same session number.
		w.Header().Set("X-Kannel-Meta-Data", "?smpp?ussd_service_op=2&its_session_info=%0A%0B")
		io.WriteString(w, "1. Apply\n2. Status")
	}}
	srv := httptest.NewServer(app)
	defer srv.Close()
	k := peertest.StartKannel(t, peertest.KannelOptions{
		GetURL: srv.URL + "/ussd/kannel?from=%p&to=%P&text=%a&meta=%D",
		SMPP:   true,
	})

	k.SendUSSD(t, "256700000001", "*123#", "*123#", 1, [2]byte{0x0a, 0x0b})
	q, raw := app.wait(t, 0)
	if q.Get("from") != "256700000001" || q.Get("text") != "*123#" {
		t.Errorf("get-url query = %v", q)
	}
	meta, err := url.ParseQuery(strings.TrimPrefix(q.Get("meta"), "?smpp?"))
	if err != nil {
		t.Fatalf("meta %q: %v", q.Get("meta"), err)
	}
	// The integer TLV arrives as its raw byte.
	if meta.Get("ussd_service_op") != "\x01" || meta.Get("its_session_info") != "\x0a\x0b" {
		t.Errorf("meta = %q (raw query %s), want ussd_service_op=%%01 its_session_info=%%0A%%0B", q.Get("meta"), raw)
	}

	mt, ok := k.MT(t, 5*time.Second)
	if !ok {
		t.Fatal("no submit_sm reached the operator")
	}
	if mt.To != "256700000001" || mt.From != "*123#" || mt.Text != "1. Apply\n2. Status" ||
		mt.USSDServiceOp != 2 || string(mt.SessionInfo) != "\x0a\x0b" {
		t.Errorf("submit_sm = %+v, want to 256700000001 with ussd_service_op 2, its_session_info 0a0b", mt)
	}

	t.Run("plain SMS", func(t *testing.T) {
		k.SendMO(t, "256700000003", "8080", "HELP")
		q, _ := app.wait(t, 1)
		if q.Get("text") != "HELP" || q.Get("meta") != "" && strings.Contains(q.Get("meta"), "ussd_service_op") {
			t.Errorf("get-url query = %v", q)
		}
	})
}

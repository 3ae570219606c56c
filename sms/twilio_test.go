package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/peertest"
)

const (
	twilioToken  = "0123456789abcdef0123456789abcdef"
	twilioPublic = "https://sms.gov.example"
)

// sign is the X-Twilio-Signature Twilio computes for a POST to fullURL:
// base64 of HMAC-SHA1 under the auth token of the URL followed by every
// parameter's name and value, sorted by name.
func sign(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := fullURL
	for _, k := range keys {
		s += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestSignatureAsTwilioComputesIt checks the tests' signer against the
// npm twilio package's own function, once.
func TestSignatureAsTwilioComputesIt(t *testing.T) {
	form := url.Values{"MessageSid": {"SM1"}, "From": {"+254712345678"}, "To": {"+15005550006"}, "Body": {"Naissance é ✓"}, "AccountSid": {"AC" + strings.Repeat("0", 32)}}
	full := twilioPublic + "/sms/twilio?x=1"
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	if got, want := sign(twilioToken, full, form), peertest.TwilioSignature(t, twilioToken, full, params); got != want {
		t.Errorf("signature = %s, npm twilio computes %s", got, want)
	}
}

// twilioEdge is a router with the Twilio edge of a fixture's server.
func twilioEdge(t *testing.T, f *fixture) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	NewTwilio(f.srv, TwilioConfig{AuthToken: twilioToken, PublicURL: twilioPublic, Region: "KE"}).Register(r, "/sms/twilio")
	return r
}

// post sends form to path, signed with sig unless sig is "" (then signed
// properly) or "-" (then unsigned).
func post(r http.Handler, path string, form url.Values, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch sig {
	case "":
		req.Header.Set("X-Twilio-Signature", sign(twilioToken, twilioPublic+path, form))
	case "-":
	default:
		req.Header.Set("X-Twilio-Signature", sig)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func inboundForm(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "AccountSid": {"AC" + strings.Repeat("1", 32)}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "NumMedia": {"0"}}
}

func TestTwilioInbound(t *testing.T) {
	f := newFixture(t)
	r := twilioEdge(t, f)
	tests := []struct {
		name     string
		path     string
		form     url.Values
		sig      string
		status   int
		contains string
	}{
		{"menu as TwiML", "/sms/twilio", inboundForm("SM1", "+254712345678", "MENU"), "", 200, "<Response><Message>Government services&#xA;1. Birth certificate"},
		{"xml is escaped", "/sms/twilio", inboundForm("SM2", "+254712345678", "3"), "", 200, "<Message>"},
		{"sender without plus", "/sms/twilio", inboundForm("SM3", "254712345679", "HELP"), "", 200, "Reply with the number"},
		{"unsigned", "/sms/twilio", inboundForm("SM4", "+254712345678", "MENU"), "-", 403, "not signed"},
		{"forged", "/sms/twilio", inboundForm("SM5", "+254712345678", "MENU"), sign("another-token", twilioPublic+"/sms/twilio", inboundForm("SM5", "+254712345678", "MENU")), 403, "not signed"},
		{"signed for another url", "/sms/twilio", inboundForm("SM6", "+254712345678", "MENU"), sign(twilioToken, "https://evil.example/sms/twilio", inboundForm("SM6", "+254712345678", "MENU")), 403, "not signed"},
		{"no sender", "/sms/twilio", url.Values{"MessageSid": {"SM7"}, "Body": {"MENU"}}, "", 400, "not valid"},
		{"invalid sender", "/sms/twilio", inboundForm("SM8", "12", "MENU"), "", 400, "phone number is not valid"},
		{"no message id", "/sms/twilio", url.Values{"From": {"+254712345678"}, "Body": {"MENU"}}, "", 400, "not valid"},
		{"text not utf-8", "/sms/twilio", inboundForm("SM9", "+254712345678", "\xff\xfe"), "", 400, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(r, tt.path, tt.form, tt.sig)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.contains) {
				t.Errorf("%d %q, want %d containing %q", w.Code, w.Body.String(), tt.status, tt.contains)
			}
		})
	}
	if !strings.Contains(f.logs.String(), "signature missing or wrong") {
		t.Error("refused signatures are not logged")
	}
	if strings.Contains(f.logs.String(), "254712345678") {
		t.Error("a whole phone number reached the log")
	}
}

func TestTwilioOversized(t *testing.T) {
	f := newFixture(t)
	w := post(twilioEdge(t, f), "/sms/twilio", inboundForm("SM1", "+254712345678", strings.Repeat("a", maxBody)), "")
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "too large") {
		t.Errorf("%d %q, want 413 with a reason", w.Code, w.Body.String())
	}
}

func TestTwilioRetrySameReply(t *testing.T) {
	f := newFixture(t)
	r := twilioEdge(t, f)
	for i, m := range []string{"PROBLEM", "1", "Kisumu", "Broken water pipe"} {
		post(r, "/sms/twilio", inboundForm("SMa"+string(rune('0'+i)), phone, m), "")
	}
	first := post(r, "/sms/twilio", inboundForm("SMconfirm", phone, "1"), "")
	again := post(r, "/sms/twilio", inboundForm("SMconfirm", phone, "1"), "")
	if first.Body.String() != again.Body.String() || !strings.Contains(first.Body.String(), "Your reference is") {
		t.Errorf("retry answered %q, first %q", again.Body.String(), first.Body.String())
	}
	if n := len(f.cases(t)); n != 1 {
		t.Errorf("%d cases, want 1", n)
	}
}

// TestTwilioRepliesThroughOutbox sends replies through the real outbox on
// the fixture's store: the webhook answers empty TwiML and the reply is
// queued once, keyed by the inbound message; the status callback then
// records its delivery.
func TestTwilioRepliesThroughOutbox(t *testing.T) {
	f := newFixture(t)
	box := outbox.New(outbox.Config{Store: f.db, Prefs: f.db, Sender: nopSender{}, Now: f.clk.Now})
	f.srv.cfg.Replies, f.srv.cfg.Reports = box, box
	r := twilioEdge(t, f)
	for range 2 {
		w := post(r, "/sms/twilio", inboundForm("SMq", phone, "MENU"), "")
		if w.Code != 200 || strings.Contains(w.Body.String(), "<Message>") {
			t.Fatalf("%d %q, want 200 with empty TwiML", w.Code, w.Body.String())
		}
	}
	m, err := f.db.Outbound(context.Background(), "reply/twilio/SMq")
	if err != nil {
		t.Fatal(err)
	}
	if m.To != phone || !strings.HasPrefix(m.Text, "Government services") || m.Status != channels.OutboundQueued {
		t.Errorf("queued %+v", m)
	}
	due, _ := f.db.DueOutbound(context.Background(), channels.KindSMS, f.clk.Now(), 10)
	if len(due) != 1 {
		t.Errorf("%d messages queued for two deliveries of one, want 1", len(due))
	}
	m.Status = channels.OutboundSent
	if err := f.db.UpdateOutbound(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	status := func(key string, form url.Values, sig string) *httptest.ResponseRecorder {
		return post(r, "/sms/twilio/status?key="+url.QueryEscape(key), form, sig)
	}
	tests := []struct {
		name   string
		key    string
		form   url.Values
		sig    string
		code   int
		status channels.OutboundStatus
		reason string
	}{
		{"intermediate status ignored", "reply/twilio/SMq", url.Values{"MessageSid": {"SMx"}, "MessageStatus": {"sending"}}, "", 204, channels.OutboundSent, ""},
		{"unsigned refused", "reply/twilio/SMq", url.Values{"MessageSid": {"SMx"}, "MessageStatus": {"failed"}}, "-", 403, channels.OutboundSent, ""},
		{"delivered", "reply/twilio/SMq", url.Values{"MessageSid": {"SMx"}, "MessageStatus": {"delivered"}}, "", 204, channels.OutboundDelivered, ""},
		{"unknown key", "reply/twilio/nope", url.Values{"MessageSid": {"SMy"}, "MessageStatus": {"delivered"}}, "", 204, channels.OutboundDelivered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := status(tt.key, tt.form, tt.sig); w.Code != tt.code {
				t.Errorf("status %d, want %d (%s)", w.Code, tt.code, w.Body.String())
			}
			m, _ := f.db.Outbound(context.Background(), "reply/twilio/SMq")
			if m.Status != tt.status || m.Reason != tt.reason {
				t.Errorf("message %s %q, want %s %q", m.Status, m.Reason, tt.status, tt.reason)
			}
		})
	}
}

func TestTwilioFailureReport(t *testing.T) {
	f := newFixture(t)
	box := outbox.New(outbox.Config{Store: f.db, Prefs: f.db, Sender: nopSender{}, Now: f.clk.Now})
	f.srv.cfg.Reports = box
	ctx := context.Background()
	m := &channels.Outbound{Key: "otp/x", To: phone, Text: "code", Purpose: channels.PurposeOTP}
	if err := box.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	m.Status = channels.OutboundSent
	if err := f.db.UpdateOutbound(ctx, m); err != nil {
		t.Fatal(err)
	}
	w := post(twilioEdge(t, f), "/sms/twilio/status?key=otp%2Fx", url.Values{"MessageSid": {"SMz"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}, "")
	got, _ := f.db.Outbound(ctx, "otp/x")
	if w.Code != 204 || got.Status != channels.OutboundFailed || got.Reason != "twilio_undelivered_30003" {
		t.Errorf("%d: %s %q, want failed twilio_undelivered_30003", w.Code, got.Status, got.Reason)
	}
}

// nopSender accepts every message.
type nopSender struct{}

func (nopSender) Name() string { return "nop" }

func (nopSender) Send(_ context.Context, m *channels.Outbound) (string, error) {
	return "nop-" + m.Key, nil
}

func TestTwiML(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"nothing", "", `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response/>"},
		{"escaped", "1 < 2 & \"x\"", `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response><Message>1 &lt; 2 &amp; &#34;x&#34;</Message></Response>"},
	}
	for _, tt := range tests {
		if got := string(twiml(tt.text)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

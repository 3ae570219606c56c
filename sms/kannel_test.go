package sms

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
)

func kannelEdge(t *testing.T, f *fixture) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	NewKannel(f.srv, KannelConfig{Secret: kannelSecret, Region: "KE"}).Register(r, "/sms/kannel")
	return r
}

func get(r http.Handler, path string, q url.Values) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path+"?"+q.Encode(), nil))
	return w
}

func mo(id, from, text string) url.Values {
	return url.Values{"from": {from}, "to": {"22141"}, "text": {text}, "id": {id}, "coding": {"0"}, "charset": {"UTF-8"}, "secret": {kannelSecret}}
}

// ucs2 is text as big-endian UTF-16 bytes, as Kannel passes a UCS-2
// message to get-url without mo-recode.
func ucs2(text string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(text)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}

func TestKannelInbound(t *testing.T) {
	f := newFixture(t)
	r := kannelEdge(t, f)
	withSecret := func(q url.Values, secret string) url.Values {
		q.Set("secret", secret)
		return q
	}
	ucs := mo("k6", "+254712345679", ucs2("AIDE"))
	ucs.Set("coding", "2")
	ucs.Set("charset", "UTF-16BE")
	tests := []struct {
		name     string
		q        url.Values
		status   int
		contains string
	}{
		{"menu in the body", mo("k1", "+254712345678", "MENU"), 200, "Government services\n1. Birth certificate"},
		{"international without plus", mo("k2", "254712345670", "HELP"), 200, "Reply with the number"},
		{"national number", mo("k3", "0712345671", "AIDE"), 200, "Répondez"},
		{"wrong secret", withSecret(mo("k4", "+254712345678", "MENU"), "guess"), 403, "not signed"},
		{"no secret", withSecret(mo("k5", "+254712345678", "MENU"), ""), 403, "not signed"},
		{"ucs-2 text", ucs, 200, "Répondez"},
		{"no sender", url.Values{"text": {"MENU"}, "id": {"k7"}, "secret": {kannelSecret}}, 400, "not valid"},
		{"bad sender", mo("k8", "abc", "MENU"), 400, "phone number is not valid"},
		{"no id", mo("", "+254712345678", "MENU"), 400, "not valid"},
		{"text too long", mo("k9", "+254712345678", strings.Repeat("a", maxText+1)), 400, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(r, "/sms/kannel", tt.q)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.contains) {
				t.Errorf("%d %q, want %d containing %q", w.Code, w.Body.String(), tt.status, tt.contains)
			}
		})
	}
}

// TestKannelCoding: a reply with a letter outside GSM-7 (an Arabic name
// on a summary) asks Kannel for UCS-2, which it would otherwise send as
// question marks.
func TestKannelCoding(t *testing.T) {
	f := newFixture(t)
	r := kannelEdge(t, f)
	var w *httptest.ResponseRecorder
	for i, m := range []string{"PROBLEM", "1", "دبي", "Broken water pipe"} {
		w = get(r, "/sms/kannel", mo("c"+string(rune('a'+i)), phone, m))
	}
	if !strings.Contains(w.Body.String(), "دبي") || w.Header().Get("X-Kannel-Coding") != "2" {
		t.Errorf("summary %q with X-Kannel-Coding %q, want the Arabic place and 2", w.Body.String(), w.Header().Get("X-Kannel-Coding"))
	}
	w = get(r, "/sms/kannel", mo("plain", phone, "MENU"))
	if w.Header().Get("X-Kannel-Coding") != "" {
		t.Errorf("a GSM-7 reply asked for coding %q", w.Header().Get("X-Kannel-Coding"))
	}
}

func TestKannelDLR(t *testing.T) {
	f := newFixture(t)
	box := outbox.New(outbox.Config{Store: f.db, Prefs: f.db, Sender: nopSender{}, Now: f.clk.Now})
	f.srv.cfg.Reports = box
	r := kannelEdge(t, f)
	ctx := context.Background()
	for _, key := range []string{"n/1", "n/2"} {
		m := &channels.Outbound{Key: key, To: phone, Text: "ready", Purpose: channels.PurposeNotice}
		if err := box.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		m.Status = channels.OutboundSent
		if err := f.db.UpdateOutbound(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		q      url.Values
		code   int
		key    string
		status channels.OutboundStatus
		reason string
	}{
		{"accepted by the smsc changes nothing", url.Values{"key": {"n/1"}, "status": {"8"}, "secret": {kannelSecret}}, 204, "n/1", channels.OutboundSent, ""},
		{"wrong secret", url.Values{"key": {"n/1"}, "status": {"1"}, "secret": {"x"}}, 403, "n/1", channels.OutboundSent, ""},
		{"not a status", url.Values{"key": {"n/1"}, "status": {"%d"}, "secret": {kannelSecret}}, 204, "n/1", channels.OutboundSent, ""},
		{"delivered", url.Values{"key": {"n/1"}, "status": {"1"}, "secret": {kannelSecret}}, 204, "n/1", channels.OutboundDelivered, ""},
		{"rejected by the smsc", url.Values{"key": {"n/2"}, "status": {"16"}, "secret": {kannelSecret}}, 204, "n/2", channels.OutboundFailed, "kannel_dlr_16"},
		{"unknown key", url.Values{"key": {"n/9"}, "status": {"1"}, "secret": {kannelSecret}}, 204, "n/1", channels.OutboundDelivered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := get(r, "/sms/kannel/dlr", tt.q); w.Code != tt.code {
				t.Errorf("status %d, want %d", w.Code, tt.code)
			}
			m, err := f.db.Outbound(ctx, tt.key)
			if err != nil || m.Status != tt.status || m.Reason != tt.reason {
				t.Errorf("%s is %s %q (%v), want %s %q", tt.key, m.Status, m.Reason, err, tt.status, tt.reason)
			}
		})
	}
}

func FuzzParseKannel(f *testing.F) {
	f.Add("from=%2B254712345678&to=22141&text=MENU&id=4b4d2180-4a89&coding=0&charset=UTF-8")
	f.Add("from=254712345678&text=%00A%00I%00D%00E&id=x&coding=2&charset=UTF-16BE")
	f.Add("from=0712345678&text=%D8%AF%D8%A8%D9%8A&id=y")
	f.Add("from=&text=%FF&id=")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		in, err := ParseKannel(q, "KE")
		checkParsed(t, in, err)
		if err == nil && in.Gateway != "kannel" {
			t.Fatalf("gateway %q", in.Gateway)
		}
	})
}

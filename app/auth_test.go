package app

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/ratelimit"
)

// TestCitizensApart checks that a signed-in citizen can neither read nor
// list another's case, nor see or answer another's session, whatever
// phone the request names.
func TestCitizensApart(t *testing.T) {
	s := newServer(t)
	r := s.post(t, phone, "/v1/services/report_problem/submissions", map[string]any{"answers": map[string]string{"category": "water", "location": "Eldoret", "description": "No water since Monday"}})
	ref, _ := r.body["reference"].(string)
	if r.status != http.StatusCreated || ref == "" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if own := s.get(t, phone, "/v1/cases/"+ref); own.status != http.StatusOK || own.body["reference"] != ref {
		t.Fatalf("the owner reads the case: %d %s", own.status, own.raw)
	}
	unknown := s.get(t, stranger, "/v1/cases/4821773057")
	idA, _ := s.start(t, "check_status", phone)

	reads := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"the case by reference", req{method: http.MethodGet, path: "/v1/cases/" + ref, as: stranger}, http.StatusNotFound, "not_found"},
		{"the case, naming the owner's phone", req{method: http.MethodGet, path: "/v1/cases/" + ref + "?phone=" + url.QueryEscape(phone), as: stranger}, http.StatusForbidden, "forbidden"},
		{"the case, naming the owner's national phone", req{method: http.MethodGet, path: "/v1/cases/" + ref + "?phone=0712345678", as: stranger}, http.StatusForbidden, "forbidden"},
		{"the owner's session", req{method: http.MethodGet, path: "/v1/sessions/" + idA, as: stranger}, http.StatusNotFound, "not_found"},
		{"an answer to the owner's session", req{method: http.MethodPost, path: "/v1/sessions/" + idA + "/input", as: stranger, body: map[string]string{"text": "2"}}, http.StatusNotFound, "not_found"},
		{"a lookup form naming the owner's phone", req{method: http.MethodPost, path: "/v1/services/check_status/submissions", as: stranger, body: map[string]any{"phone": phone, "answers": map[string]string{"how": "mine"}}}, http.StatusForbidden, "forbidden"},
		{"a session naming the owner's phone", req{method: http.MethodPost, path: "/v1/sessions", as: stranger, body: map[string]string{"service": "check_status", "phone": phone}}, http.StatusForbidden, "forbidden"},
		{"a case submitted naming the owner's phone", req{method: http.MethodPost, path: "/v1/services/report_problem/submissions", as: stranger, body: map[string]any{"phone": phone, "answers": map[string]string{"category": "water", "location": "Eldoret", "description": "Not mine"}}}, http.StatusForbidden, "forbidden"},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			got := s.do(t, tt.r)
			if got.status != tt.status || got.errorCode() != tt.code || strings.Contains(string(got.raw), ref) {
				t.Errorf("%d %s, want %d %s without the reference", got.status, got.raw, tt.status, tt.code)
			}
		})
	}
	if got := s.get(t, stranger, "/v1/cases/"+ref); string(got.raw) != string(unknown.raw) {
		t.Errorf("another's case %s differs from an unknown one %s", got.raw, unknown.raw)
	}

	lists := []struct {
		name string
		do   func(t *testing.T) reply
	}{
		{"my applications, whole form", func(t *testing.T) reply {
			return s.post(t, stranger, "/v1/services/check_status/submissions", map[string]any{"answers": map[string]string{"how": "mine"}})
		}},
		{"by reference, whole form", func(t *testing.T) reply {
			return s.post(t, stranger, "/v1/services/check_status/submissions", map[string]any{"answers": map[string]string{"how": "reference", "reference": ref}})
		}},
		{"my applications, session", func(t *testing.T) reply { return s.walk(t, "check_status", stranger, "2") }},
		{"by reference, session", func(t *testing.T) reply { return s.walk(t, "check_status", stranger, "1", ref) }},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do(t)
			if sc := r.screen(); r.status != http.StatusOK || sc["kind"] != "end" || sc["lines"] != nil || strings.Contains(string(r.raw), ref) {
				t.Errorf("%d %s", r.status, r.raw)
			}
		})
	}
	if sc := s.walk(t, "check_status", phone, "2").screen(); !strings.Contains(strings.Join(lines(sc), "\n"), ref) {
		t.Errorf("the owner's list lacks the case: %v", sc)
	}
	if cases, err := s.db.CasesByPhone(t.Context(), phone, 10); err != nil || len(cases) != 1 {
		t.Errorf("the owner has %d cases (%v), want 1", len(cases), err)
	}
}

// lines returns the lines of a screen.
func lines(sc map[string]any) []string {
	var out []string
	l, _ := sc["lines"].([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestTokens checks that the app refuses a tampered token and an expired
// one, and takes a valid one until its expiry.
func TestTokens(t *testing.T) {
	s := newServer(t)
	tok := s.signIn(t, phone)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	// forge re-encodes the token's bytes after changing byte i.
	forge := func(i int) string {
		b := append([]byte(nil), raw...)
		b[(i+len(b))%len(b)] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	// The payload is version, expiry (8 bytes), issue time (8 bytes),
	// phone; the signature the last 32 bytes.
	tests := []struct {
		name  string
		token string
	}{
		{"another version", forge(0)},
		{"a later expiry", forge(7)},
		{"a later issue time", forge(15)},
		{"another phone", forge(20)},
		{"a changed signature", forge(-1)},
		{"no signature", base64.RawURLEncoding.EncodeToString(raw[:len(raw)-32])},
		{"the phone in clear", phone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: http.MethodGet, path: "/v1/cases/4821773057", header: []string{"Authorization", "Bearer " + tt.token}})
			if r.status != http.StatusUnauthorized || r.errorCode() != channels.EUNAUTHORIZED || r.errorMessage() != "Please sign in with your phone number." {
				t.Errorf("%d %s", r.status, r.raw)
			}
		})
	}

	s.clock.Add(auth.DefaultTokenTTL - time.Second)
	if r := s.get(t, phone, "/v1/cases/4821773057"); r.status != http.StatusNotFound {
		t.Errorf("a second before expiry: %d %s", r.status, r.raw)
	}
	s.clock.Add(time.Second)
	r := s.get(t, phone, "/v1/cases/4821773057", "Accept-Language", "sw")
	if r.status != http.StatusUnauthorized || r.errorCode() != channels.EUNAUTHORIZED || r.errorMessage() != "Muda wako wa kuingia umekwisha. Tafadhali ingia tena." {
		t.Errorf("expired: %d %s", r.status, r.raw)
	}
}

// TestSignInEndpoints checks the answers of the sign-in endpoints against
// the OpenAPI document, every documented status, and that the code and
// token never reach the log.
func TestSignInEndpoints(t *testing.T) {
	s := newServer(t, func(su *setup) {
		su.auth = func(c *auth.Config) { c.PerClient = ratelimit.Limit{Every: time.Millisecond, Burst: 1000} }
	})
	const optedOut = "+254744000000"
	if err := s.db.PutPrefs(t.Context(), optedOut, channels.Prefs{OptedOut: true}); err != nil {
		t.Fatal(err)
	}
	otp := func(p string, header ...string) req {
		return req{method: http.MethodPost, path: "/v1/auth/otp", body: map[string]string{"phone": p}, header: header}
	}
	verify := func(p, code string) req {
		return req{method: http.MethodPost, path: "/v1/auth/verify", body: map[string]string{"phone": p, "code": code}}
	}
	steps := []struct {
		name    string
		r       func() req
		status  int
		code    string
		message string
	}{
		{"ask", func() req { return otp(phone) }, 202, "", ""},
		{"wrong code", func() req { return verify(phone, wrongCode(s.outbox.lastCode(phone))) }, 400, "invalid", "That code is not right. Enter the 6 digits from the SMS."},
		{"right code", func() req { return verify(phone, s.outbox.lastCode(phone)) }, 200, "", ""},
		{"the code again", func() req { return verify(phone, s.outbox.lastCode(phone)) }, 404, "not_found", "This code is no longer valid. Ask for a new code."},
		{"ask again", func() req { return otp("0712345678") }, 202, "", ""},
		{"ask a third time", func() req { return otp(phone) }, 202, "", ""},
		{"over the phone's limit", func() req { return otp(phone, "Accept-Language", "fr") }, 429, "rate_limited", "Trop de tentatives. Patientez un moment puis réessayez."},
		{"opted out", func() req { return otp(optedOut) }, 403, "forbidden", "SMS to this number are turned off. Send START by SMS to turn them on, then try again."},
		{"invalid phone", func() req { return otp("12") }, 400, "invalid", "That phone number is not valid."},
		{"oversized", func() req { return otp(strings.Repeat("7", 2000)) }, 413, "too_large", "The request is too large."},
	}
	for _, st := range steps {
		r := s.do(t, st.r())
		if r.status != st.status || r.errorCode() != st.code || r.errorMessage() != st.message {
			t.Errorf("%s: %d %s, want %d %s %q", st.name, r.status, r.raw, st.status, st.code, st.message)
		}
		if st.status == 202 && r.body["expires_in"] != 300.0 {
			t.Errorf("%s: %s", st.name, r.raw)
		}
	}

	r := s.do(t, otp(phone))
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for range 5 {
		s.do(t, verify(phone, wrongCode(s.outbox.lastCode(phone))))
	}
	s.clock.Add(time.Minute)
	tok := s.signIn(t, phone)

	logs := s.logs.String()
	for _, m := range s.outbox.messages(phone) {
		if code := codeRE.FindString(m.Text); code == "" || strings.Contains(logs, code) {
			t.Errorf("code %q of SMS %q is logged (or missing):\n%s", code, m.Text, logs)
		}
	}
	for _, secret := range []string{tok, tok[:24], phone} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "code burnt") || !strings.Contains(logs, "signed in") {
		t.Errorf("the sign-in is not logged:\n%s", logs)
	}
}

// wrongCode returns a code that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

// TestOutboxFailure checks that a code the outbox refused is a 500, as
// documented.
func TestOutboxFailure(t *testing.T) {
	s := newServer(t)
	s.outbox.err = errOutbox
	r := s.post(t, "", "/v1/auth/otp", map[string]string{"phone": phone})
	if r.status != http.StatusInternalServerError || r.errorCode() != "internal" || !strings.Contains(s.logs.String(), errOutbox.Error()) {
		t.Errorf("%d %s\n%s", r.status, r.raw, s.logs.String())
	}
}

var errOutbox = errors.New("outbox down")

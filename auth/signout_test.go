package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignOut signs a phone in twice, signs out with one token and checks
// that every token of the phone is refused from the next request on,
// including one issued earlier in the same second and one of version 1,
// while another phone's token still works and a new sign-in, in the same
// second as the sign-out, does too.
func TestSignOut(t *testing.T) {
	e := newEnv(t)
	signOut := func(tok string, header ...string) resp {
		return e.serve(http.MethodPost, "/v1/auth/signout", "", client, append([]string{"Authorization", "Bearer " + tok}, header...)...)
	}
	e.clock.Add(100 * time.Millisecond)
	first := e.signIn(t, phone)
	e.clock.Add(time.Hour)
	second := e.signIn(t, phone) // in the same second as the sign-out below
	old := tokenAuth().issueV1(phone, e.clock.Now().Add(time.Hour))
	others := e.signIn(t, stranger)
	for _, tok := range []string{first, second, old, others} {
		if r := e.me("Bearer " + tok); r.status != http.StatusOK {
			t.Fatalf("before the sign-out: %d %s", r.status, r.raw)
		}
	}

	e.clock.Add(300 * time.Millisecond)
	if r := signOut(first); r.status != http.StatusNoContent || r.raw != "" {
		t.Fatalf("sign out: %d %s, want 204", r.status, r.raw)
	}
	if at, err := e.db.SignedOut(t.Context(), phone); err != nil || !at.Equal(e.clock.Now()) {
		t.Errorf("stored sign-out %v, %v; want %v", at, err, e.clock.Now())
	}
	e.clock.Add(time.Millisecond)
	fresh := e.signIn(t, phone)

	tests := []struct {
		name   string
		tok    string
		status int
	}{
		{"the token signed out with", first, http.StatusUnauthorized},
		{"the other token, issued in the same second", second, http.StatusUnauthorized},
		{"a version 1 token", old, http.StatusUnauthorized},
		{"another phone's token", others, http.StatusOK},
		{"a sign-in a millisecond after", fresh, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.me("Bearer " + tt.tok)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.status == http.StatusUnauthorized && (r.message() != "You signed out on all your devices. Please sign in again." ||
				!strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token")) {
				t.Errorf("refused with %v %s", r.header, r.raw)
			}
		})
	}
	if r := signOut(second, "Accept-Language", "sw"); r.status != http.StatusUnauthorized || r.message() != "Umetoka kwenye vifaa vyako vyote. Tafadhali ingia tena." {
		t.Errorf("sign out with a void token: %d %s, want 401 in Swahili", r.status, r.raw)
	}
	if r := e.serve(http.MethodPost, "/v1/auth/signout", "", client); r.status != http.StatusUnauthorized {
		t.Errorf("sign out without a token: %d %s, want 401", r.status, r.raw)
	}
	if r := e.me("Bearer " + fresh); r.status != http.StatusOK {
		t.Errorf("the new sign-in after a refused sign-out: %d %s", r.status, r.raw)
	}
}

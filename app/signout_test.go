package app

import (
	"net/http"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// TestSignOutEverywhere signs out through the app API, each answer checked
// against the OpenAPI document: the token is refused on the next request,
// a sign-out without a token is refused, and a new sign-in works.
func TestSignOutEverywhere(t *testing.T) {
	s := newServer(t)
	if r := s.get(t, phone, "/v1/cases"); r.status != http.StatusOK {
		t.Fatalf("signed in: %d %s", r.status, r.raw)
	}
	if r := s.do(t, req{method: http.MethodPost, path: "/v1/auth/signout", as: phone}); r.status != http.StatusNoContent {
		t.Fatalf("sign out: %d %s, want 204", r.status, r.raw)
	}
	tests := []struct {
		name string
		r    req
	}{
		{"the cases, with the token signed out", req{method: http.MethodGet, path: "/v1/cases", as: phone, header: []string{"Accept-Language", "fr"}}},
		{"a second sign-out with it", req{method: http.MethodPost, path: "/v1/auth/signout", as: phone, header: []string{"Accept-Language", "fr"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.r)
			if r.status != http.StatusUnauthorized || r.errorCode() != channels.EUNAUTHORIZED ||
				r.errorMessage() != "Vous avez été déconnecté de tous vos appareils. Veuillez vous reconnecter." {
				t.Errorf("%d %s", r.status, r.raw)
			}
		})
	}
	if r := s.do(t, req{method: http.MethodPost, path: "/v1/auth/signout"}); r.status != http.StatusUnauthorized || r.errorCode() != channels.EUNAUTHORIZED {
		t.Errorf("sign out without a token: %d %s", r.status, r.raw)
	}

	s.clock.Add(time.Microsecond)
	s.mu.Lock()
	delete(s.tokens, phone)
	s.mu.Unlock()
	if r := s.get(t, phone, "/v1/cases"); r.status != http.StatusOK {
		t.Errorf("signed in again: %d %s", r.status, r.raw)
	}
}

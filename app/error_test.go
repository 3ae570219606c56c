package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

func TestErrors(t *testing.T) {
	s := newServer(t)
	const session = "0123456789abcdef0123456789abcdef"
	big := `{"service":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name    string
		req     req
		status  int
		code    string
		message string
	}{
		{"malformed JSON", req{method: "POST", path: "/v1/sessions", as: phone, body: `{"phone":`, bad: true}, 400, "invalid", "The request is not valid."},
		{"JSON null", req{method: "POST", path: "/v1/sessions", as: phone, body: `null`, bad: true}, 400, "invalid", "The request is not valid."},
		{"empty body", req{method: "POST", path: "/v1/sessions", as: phone, body: ``, bad: true}, 400, "invalid", "The request is not valid."},
		{"trailing data", req{method: "POST", path: "/v1/sessions", as: phone, body: `{"service":"report_problem"} {}`, bad: true}, 400, "invalid", "The request is not valid."},
		{"unknown field", req{method: "POST", path: "/v1/sessions", as: phone, body: `{"servise":"x"}`, bad: true}, 400, "invalid", "The request is not valid."},
		{"field of the wrong type", req{method: "POST", path: "/v1/services/report_problem/submissions", as: phone, body: `{"answers":{"category":1}}`, bad: true}, 400, "invalid", "The request is not valid."},
		{"oversized body", req{method: "POST", path: "/v1/sessions", as: phone, body: big}, 413, "too_large", "The request is too large."},
		{"oversized input", req{method: "POST", path: "/v1/sessions/" + session + "/input", as: phone, body: map[string]string{"text": strings.Repeat("x", 5000)}}, 413, "too_large", "The request is too large."},
		{"oversized form", req{method: "POST", path: "/v1/services/report_problem/submissions", as: phone, body: map[string]any{"answers": map[string]string{"description": strings.Repeat("x", 5000)}}}, 413, "too_large", "The request is too large."},
		{"invalid phone named", req{method: "POST", path: "/v1/sessions", as: phone, body: map[string]string{"phone": "123"}}, 400, "invalid", "That phone number is not valid."},
		{"invalid phone named by a form", req{method: "POST", path: "/v1/services/report_problem/submissions", as: phone, body: map[string]any{"phone": "07", "answers": map[string]string{}}}, 400, "invalid", "That phone number is not valid."},
		{"invalid phone named by a case read", req{method: "GET", path: "/v1/cases/4821773057?phone=12", as: phone}, 400, "invalid", "That phone number is not valid."},
		{"another phone named", req{method: "POST", path: "/v1/sessions", as: phone, body: map[string]string{"phone": "0733000000"}}, 403, "forbidden", "This is not the phone number you signed in with."},
		{"another phone named by a form", req{method: "POST", path: "/v1/services/report_problem/submissions", as: phone, body: map[string]any{"phone": stranger, "answers": map[string]string{}}}, 403, "forbidden", "This is not the phone number you signed in with."},
		{"another phone named by a case read", req{method: "GET", path: "/v1/cases/4821773057?phone=%2B254733000000", as: phone}, 403, "forbidden", "This is not the phone number you signed in with."},
		{"session without a token", req{method: "POST", path: "/v1/sessions", body: map[string]string{"service": "report_problem"}}, 401, "unauthorized", "Please sign in with your phone number."},
		{"session screen without a token", req{method: "GET", path: "/v1/sessions/" + session}, 401, "unauthorized", "Please sign in with your phone number."},
		{"input without a token", req{method: "POST", path: "/v1/sessions/" + session + "/input", body: map[string]string{"text": "1"}}, 401, "unauthorized", "Please sign in with your phone number."},
		{"form without a token", req{method: "POST", path: "/v1/services/report_problem/submissions", body: map[string]any{"phone": phone, "answers": map[string]string{}}}, 401, "unauthorized", "Please sign in with your phone number."},
		{"case without a token", req{method: "GET", path: "/v1/cases/4821773057?phone=%2B254712345678"}, 401, "unauthorized", "Please sign in with your phone number."},
		{"another scheme", req{method: "GET", path: "/v1/cases/4821773057", header: []string{"Authorization", "Basic dXNlcjpwYXNz"}}, 401, "unauthorized", "Please sign in with your phone number."},
		{"no token after Bearer", req{method: "GET", path: "/v1/cases/4821773057", header: []string{"Authorization", "Bearer "}}, 401, "unauthorized", "Please sign in with your phone number."},
		{"not a token", req{method: "GET", path: "/v1/cases/4821773057", header: []string{"Authorization", "Bearer not-a-token"}}, 401, "unauthorized", "Please sign in with your phone number."},
		{"no token, in the Accept-Language", req{method: "GET", path: "/v1/cases/4821773057", header: []string{"Accept-Language", "fr"}}, 401, "unauthorized", "Veuillez vous connecter avec votre numéro de téléphone."},
		{"unknown service", req{method: "POST", path: "/v1/sessions", as: phone, body: map[string]string{"service": "passport"}}, 404, "not_found", "Not found."},
		{"form of an unknown service", req{method: "POST", path: "/v1/services/passport/submissions", as: phone, body: map[string]any{"answers": map[string]string{}}}, 404, "not_found", "Not found."},
		{"unknown session", req{method: "GET", path: "/v1/sessions/" + session, as: phone}, 404, "not_found", "Your session has ended. Please start again."},
		{"input to an unknown session", req{method: "POST", path: "/v1/sessions/" + session + "/input", as: phone, body: map[string]string{"text": "1"}}, 404, "not_found", "Your session has ended. Please start again."},
		{"malformed session ID", req{method: "POST", path: "/v1/sessions/xyz/input", as: phone, body: map[string]string{"text": "1"}}, 404, "not_found", "Your session has ended. Please start again."},
		{"unknown action", req{method: "POST", path: "/v1/sessions/" + session + "/input", as: phone, body: map[string]string{"action": "jump"}, bad: true}, 400, "invalid", "The request is not valid."},
		{"error in the Accept-Language", req{method: "POST", path: "/v1/sessions", as: phone, body: map[string]string{"phone": "123"}, header: []string{"Accept-Language", "sw"}}, 400, "invalid", "Nambari hiyo ya simu si sahihi."},
		{"error in the lang asked", req{method: "POST", path: "/v1/sessions", as: phone, body: map[string]string{"service": "passport", "lang": "fr"}}, 404, "not_found", "Introuvable."},
		{"phone refused in the lang asked", req{method: "POST", path: "/v1/sessions", as: phone, body: map[string]string{"phone": stranger, "lang": "sw"}}, 403, "forbidden", "Hii si nambari ya simu uliyoingia nayo."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.req)
			if r.status != tt.status || r.errorCode() != tt.code || r.errorMessage() != tt.message {
				t.Errorf("%d %s, want %d %s %q", r.status, r.raw, tt.status, tt.code, tt.message)
			}
		})
	}
}

// brokenHost is a host whose store has failed.
type brokenHost struct{ flows.Host }

func (brokenHost) Submit(context.Context, flows.Submission) (string, error) {
	return "", errors.New("disk on fire")
}

func (brokenHost) CasesByPhone(context.Context, string) ([]*channels.Case, error) {
	return nil, errors.New("disk on fire")
}

// TestHostFailure checks what a citizen sees when the store fails: a retry
// screen in a session, 500 for a whole form; never the cause, which is in
// the log.
func TestHostFailure(t *testing.T) {
	s := newServer(t, func(su *setup) { su.host = func(h flows.Host) flows.Host { return brokenHost{h} } })
	const sorry = "Sorry, something went wrong. Please try again later."

	t.Run("submission in a session", func(t *testing.T) {
		id, _ := s.start(t, "report_problem", phone)
		var r reply
		for _, in := range []string{"1", "Kisumu", "No water since Monday", "1"} {
			r = s.answer(t, id, in)
		}
		if sc := r.screen(); r.status != http.StatusOK || sc["kind"] != "confirm" || sc["error"] != sorry {
			t.Errorf("%d %s, want the confirm screen again with %q", r.status, r.raw, sorry)
		}
	})
	t.Run("lookup in a session", func(t *testing.T) {
		r := s.walk(t, "check_status", phone, "2")
		if sc := r.screen(); r.status != http.StatusOK || sc["kind"] != "end" || sc["text"] != sorry {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	t.Run("whole form", func(t *testing.T) {
		r := s.post(t, phone, "/v1/services/report_problem/submissions", map[string]any{"answers": map[string]string{"category": "water", "location": "Eldoret", "description": "No water since Monday"}})
		if r.status != http.StatusInternalServerError || r.errorCode() != "internal" || r.errorMessage() != sorry {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	logs := s.logs.String()
	if n := strings.Count(logs, "disk on fire"); n != 3 || !strings.Contains(logs, "level=ERROR") {
		t.Errorf("%d failures logged, want 3:\n%s", n, logs)
	}
}

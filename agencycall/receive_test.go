package agencycall_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/webhook"
)

// TestReceive: an agency's check of a call refuses each way a request can
// break the contract with the contract's status, and takes a good one.
func TestReceive(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	good, err := agencycall.NewRequest(pinRequest(), sentAt).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const id = "ussd/ATUid_1/pin_status/2"
	tests := []struct {
		name   string
		edit   func(r *http.Request)
		body   string // instead of the good body, signed as it is
		status int    // 0: taken
		reason string
	}{
		{name: "a good call"},
		{name: "a charset in the content type", edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") }},
		{name: "GET", edit: func(r *http.Request) { r.Method = http.MethodGet }, status: 405, reason: "POST"},
		{name: "form content", edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, status: 415, reason: "application/json"},
		{name: "body over 64 KiB", body: `{"id": "` + strings.Repeat("x", agencycall.MaxRequestBody) + `"}`, status: 413, reason: "body over"},
		{name: "another secret's signature", edit: func(r *http.Request) {
			r.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte("another secret of 32 bytes......."), r.Header.Get(webhook.HeaderTimestamp), good))
		}, status: 401},
		{name: "no signature", edit: func(r *http.Request) { r.Header.Del(webhook.HeaderSignature) }, status: 401},
		{name: "signed an hour ago", edit: func(r *http.Request) {
			ts := strconv.FormatInt(sentAt.Add(-time.Hour).Unix(), 10)
			r.Header.Set(webhook.HeaderTimestamp, ts)
			r.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, good))
		}, status: 401},
		{name: "an unknown field", body: strings.Replace(string(good), `"id":`, `"extra":1,"id":`, 1), status: 400, reason: "unknown field"},
		{name: "not JSON", body: `{"id": `, status: 400, reason: "invalid JSON"},
		{name: "fields missing", body: `{"id":"` + id + `","operation":"pin_status","params":{}}`, status: 400, reason: "missing service, citizen.channel, citizen.lang, sent_at"},
		{name: "another operation", body: strings.Replace(string(good), `"operation":"pin_status"`, `"operation":"book_slot"`, 1), status: 400, reason: "not the path's"},
		{name: "another Idempotency-Key", edit: func(r *http.Request) { r.Header.Set(agencycall.HeaderIdempotencyKey, "other") }, status: 400, reason: "Idempotency-Key"},
		{name: "another webhook ID", edit: func(r *http.Request) { r.Header.Set(webhook.HeaderID, "other") }, status: 400, reason: webhook.HeaderID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := good
			if tt.body != "" {
				body = []byte(tt.body)
			}
			ts := strconv.FormatInt(sentAt.Unix(), 10)
			r := httptest.NewRequest(http.MethodPost, "/operations/pin_status", strings.NewReader(string(body)))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(agencycall.HeaderIdempotencyKey, id)
			r.Header.Set(webhook.HeaderID, id)
			r.Header.Set(webhook.HeaderTimestamp, ts)
			r.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, body))
			if tt.edit != nil {
				tt.edit(r)
			}
			req, err := agencycall.Receive(httptest.NewRecorder(), r, secret, "pin_status", sentAt.Add(time.Minute))
			if tt.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if req.ID != id || req.Operation != "pin_status" || len(req.Params) != 1 || req.Params[0].Value != "A012345678Z" {
					t.Errorf("request = %+v", req)
				}
				return
			}
			var why *agencycall.Refusal
			if !errors.As(err, &why) {
				t.Fatalf("err = %v, want a refusal %d", err, tt.status)
			}
			if why.Status != tt.status || !strings.Contains(why.Reason, tt.reason) {
				t.Errorf("refusal %d %q, want %d with %q", why.Status, why.Reason, tt.status, tt.reason)
			}
		})
	}
}

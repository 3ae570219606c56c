package webhook

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/store/bolt"
)

const agencyID = "civil_registry"

// putAgency stores the agency civil_registry with url and secret.
func putAgency(t testing.TB, db *bolt.DB, url string, secret []byte) {
	t.Helper()
	a := channels.Agency{ID: agencyID, Name: "Civil Registry", WebhookURL: url, WebhookSecret: secret, CreatedAt: time.Now()}
	if err := db.PutAgency(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// newSender returns a Sender reading agencies from db, with cfg's other
// fields.
func newSender(t testing.TB, db *bolt.DB, cfg Config) *Sender {
	t.Helper()
	cfg.Agencies = db
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sampleMessage is the outbox message of a real event of sampleCase.
func sampleMessage(t testing.TB) *channels.Outbound {
	t.Helper()
	c := sampleCase()
	m, err := Message(channels.CaseEvent{Seq: 42, Ref: c.Ref, Change: c.History[1]}, c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSendSigned checks what an agency receives: a POST of the body as
// is, with the documented headers, signed over the timestamp and the body
// (checked with openssl), and that Verify refuses it once either is
// tampered with.
func TestSendSigned(t *testing.T) {
	db, _ := openStore(t)
	secret := newSecret(t)
	rc := newReceiver(t, nil)
	putAgency(t, db, rc.URL+"/hooks/channels", secret)
	at := time.Unix(1740906900, 0)
	s := newSender(t, db, Config{Now: func() time.Time { return at }})
	m := sampleMessage(t)

	id, err := s.Send(context.Background(), m)
	if err != nil || id != "http 204" {
		t.Fatalf("Send = %q, %v; want http 204, nil", id, err)
	}
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests; want 1", len(got))
	}
	d := got[0]
	if d.Method != http.MethodPost || d.Path != "/hooks/channels" || string(d.Body) != m.Text {
		t.Errorf("got %s %s with body %q; want POST /hooks/channels with the message text", d.Method, d.Path, d.Body)
	}
	wantHeaders := map[string]string{
		"Content-Type":  "application/json",
		"User-Agent":    UserAgent,
		HeaderID:        m.Key,
		HeaderTimestamp: strconv.FormatInt(at.Unix(), 10),
	}
	for k, want := range wantHeaders {
		if got := d.Header.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
	if !strings.Contains(string(d.Body), `"id":"`+m.Key+`"`) {
		t.Errorf("body's id is not the %s header %q: %s", HeaderID, m.Key, d.Body)
	}
	checkSigned(t, d, secret)

	ts, sig := d.Header.Get(HeaderTimestamp), d.Header.Get(HeaderSignature)
	if err := Verify(secret, ts, sig, d.Body, at, time.Minute); err != nil {
		t.Errorf("Verify of the delivery as received = %v", err)
	}
	later := strconv.FormatInt(at.Unix()+1, 10)
	if err := Verify(secret, later, sig, d.Body, at, time.Minute); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify with the timestamp moved by 1 s = %v; want ErrMismatch (the timestamp must be signed)", err)
	}
	tampered := []byte(strings.Replace(string(d.Body), `"in_review"`, `"approved"`, -1))
	if err := Verify(secret, ts, sig, tampered, at, time.Minute); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify with the status changed in the body = %v; want ErrMismatch", err)
	}
}

// TestSendAnswers checks how each kind of answer counts: any 2xx
// acknowledges, anything else (redirects, which are not followed,
// timeouts, refused connections) is an ordinary error that the outbox
// retries.
func TestSendAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer func(n int, w http.ResponseWriter, r *http.Request)
		closed bool // the server is gone before the attempt
		// wantID is the provider ID of an acknowledgement; "" for a
		// failure, whose error must hold wantErr.
		wantID       string
		wantErr      string
		wantDeadline bool // the failure is a timeout (the outbox's reason "timeout")
	}{
		{name: "200 acknowledges", answer: status(http.StatusOK), wantID: "http 200"},
		{name: "202 acknowledges", answer: status(http.StatusAccepted), wantID: "http 202"},
		{name: "204 acknowledges", answer: status(http.StatusNoContent), wantID: "http 204"},
		{name: "500 is retried", answer: status(http.StatusInternalServerError), wantErr: "500 Internal Server Error"},
		{name: "503 is retried", answer: status(http.StatusServiceUnavailable), wantErr: "503 Service Unavailable"},
		{name: "400 is retried", answer: status(http.StatusBadRequest), wantErr: "400 Bad Request"},
		{name: "410 is retried", answer: status(http.StatusGone), wantErr: "410 Gone"},
		{name: "301 is not followed", answer: redirect(http.StatusMovedPermanently), wantErr: "301 Moved Permanently: redirects are not followed"},
		{name: "308 is not followed", answer: redirect(http.StatusPermanentRedirect), wantErr: "308 Permanent Redirect: redirects are not followed"},
		{name: "timeout is retried", answer: hang, wantErr: "context deadline exceeded", wantDeadline: true},
		{name: "refused connection is retried", closed: true, wantErr: "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openStore(t)
			rc := newReceiver(t, tt.answer)
			putAgency(t, db, rc.URL+"/hook", []byte("test-secret"))
			if tt.closed {
				rc.Close()
			}
			s := newSender(t, db, Config{Timeout: 200 * time.Millisecond})

			id, err := s.Send(context.Background(), sampleMessage(t))
			if tt.wantID != "" {
				if err != nil || id != tt.wantID {
					t.Errorf("Send = %q, %v; want %q, nil", id, err, tt.wantID)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Send = %q, %v; want an error holding %q", id, err, tt.wantErr)
				}
				if reason, ok := outbox.IsPermanent(err); ok {
					t.Errorf("Send failed permanently (%s); want a retryable error", reason)
				}
				if errors.Is(err, context.DeadlineExceeded) != tt.wantDeadline {
					t.Errorf("errors.Is(err, context.DeadlineExceeded) = %v; want %v (err %v)", !tt.wantDeadline, tt.wantDeadline, err)
				}
			}
			for _, d := range rc.deliveries() {
				if d.Path != "/hook" {
					t.Errorf("a request went to %s: the redirect was followed", d.Path)
				}
			}
			if n := len(rc.deliveries()); !tt.closed && n != 1 {
				t.Errorf("receiver got %d requests; want 1", n)
			}
		})
	}
}

// redirect answers with code to /moved, where a followed redirect would
// be recorded.
func redirect(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved", code)
	}
}

// hang answers only after the client has gone or 5 s have passed.
func hang(_ int, w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
	w.WriteHeader(http.StatusOK)
}

// TestSendNoWebhook checks that an event with nowhere to go fails for
// good, with reason no_webhook, before any request is made, while a store
// that cannot answer is retried.
func TestSendNoWebhook(t *testing.T) {
	tests := []struct {
		name   string
		agency *channels.Agency // nil: none stored
		want   string
	}{
		{"unknown agency", nil, "not_found"},
		{"no URL", &channels.Agency{ID: agencyID, WebhookSecret: []byte("test-secret")}, "has no webhook URL"},
		{"no secret", &channels.Agency{ID: agencyID, WebhookURL: "RECEIVER"}, "has no webhook secret"},
		{"relative URL", &channels.Agency{ID: agencyID, WebhookURL: "/hook", WebhookSecret: []byte("test-secret")}, "not an absolute http(s) URL"},
		{"not http", &channels.Agency{ID: agencyID, WebhookURL: "ftp://agency.example/hook", WebhookSecret: []byte("test-secret")}, "not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openStore(t)
			rc := newReceiver(t, nil)
			if tt.agency != nil {
				a := *tt.agency
				a.WebhookURL = strings.Replace(a.WebhookURL, "RECEIVER", rc.URL, 1)
				if err := db.PutAgency(context.Background(), a); err != nil {
					t.Fatal(err)
				}
			}
			s := newSender(t, db, Config{})
			_, err := s.Send(context.Background(), sampleMessage(t))
			if reason, ok := outbox.IsPermanent(err); !ok || reason != ReasonNoWebhook {
				t.Errorf("Send = %v; want a permanent %s", err, ReasonNoWebhook)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send = %v; want an error holding %q", err, tt.want)
			}
			if n := len(rc.deliveries()); n != 0 {
				t.Errorf("receiver got %d requests; want none", n)
			}
		})
	}

	t.Run("closed store is retried", func(t *testing.T) {
		db, _ := openStore(t)
		putAgency(t, db, "http://127.0.0.1:9/hook", []byte("test-secret"))
		s := newSender(t, db, Config{})
		db.Close()
		_, err := s.Send(context.Background(), sampleMessage(t))
		if err == nil {
			t.Fatal("Send with a closed store succeeded")
		}
		if reason, ok := outbox.IsPermanent(err); ok {
			t.Errorf("Send = %v: permanent (%s); a store error may pass and must be retried", err, reason)
		}
	})
}

// TestSendReadsAgencyEachAttempt checks that a secret or URL changed
// between two attempts applies to the second: the retry goes to the new
// URL, signed with the new secret only.
func TestSendReadsAgencyEachAttempt(t *testing.T) {
	db, _ := openStore(t)
	oldRC := newReceiver(t, status(http.StatusServiceUnavailable))
	newRC := newReceiver(t, nil)
	oldSecret, newSecret := []byte("old-secret"), []byte("new-secret")
	putAgency(t, db, oldRC.URL, oldSecret)
	s := newSender(t, db, Config{})
	m := sampleMessage(t)

	if _, err := s.Send(context.Background(), m); err == nil {
		t.Fatal("first attempt acknowledged; the old receiver answers 503")
	}
	putAgency(t, db, newRC.URL, newSecret)
	if id, err := s.Send(context.Background(), m); err != nil || id != "http 204" {
		t.Fatalf("second attempt = %q, %v; want http 204", id, err)
	}

	if n := len(oldRC.deliveries()); n != 1 {
		t.Errorf("old URL got %d requests; want 1", n)
	}
	got := newRC.deliveries()
	if len(got) != 1 {
		t.Fatalf("new URL got %d requests; want 1", len(got))
	}
	checkSigned(t, oldRC.deliveries()[0], oldSecret)
	checkSigned(t, got[0], newSecret)
	if got[0].Header.Get(HeaderID) != m.Key {
		t.Errorf("retry's %s = %q; want the same as the first attempt's, %q", HeaderID, got[0].Header.Get(HeaderID), m.Key)
	}
	d := got[0]
	if err := Verify(oldSecret, d.Header.Get(HeaderTimestamp), d.Header.Get(HeaderSignature), d.Body, time.Now(), 0); !errors.Is(err, ErrMismatch) {
		t.Errorf("retry verifies with the old secret (%v); it must be signed with the new one only", err)
	}
}

// TestSendKeepsSecretsOutOfErrors checks that a failure, which the outbox
// logs, names neither the citizen's data in the body nor a token in the
// webhook URL, nor what the receiver answered.
func TestSendKeepsSecretsOutOfErrors(t *testing.T) {
	echo := func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("cannot parse " + r.URL.RawQuery))
	}
	tests := []struct {
		name   string
		answer func(int, http.ResponseWriter, *http.Request)
		closed bool
	}{
		{"error answer", echo, false},
		{"refused connection", nil, true},
		{"timeout", hang, false},
	}
	m := sampleMessage(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openStore(t)
			rc := newReceiver(t, tt.answer)
			putAgency(t, db, rc.URL+"/hook?token=tok-s3cr3t", []byte("test-secret"))
			if tt.closed {
				rc.Close()
			}
			s := newSender(t, db, Config{Timeout: 200 * time.Millisecond})
			_, err := s.Send(context.Background(), m)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			for _, secret := range []string{"tok-s3cr3t", "+254712345678", "Amani", "cannot parse"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds %q", err, secret)
				}
			}
		})
	}
}

// TestSendReadsBoundedAnswer checks that an endless answer does not hold
// an acknowledged attempt until its timeout.
func TestSendReadsBoundedAnswer(t *testing.T) {
	db, _ := openStore(t)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	putAgency(t, db, rc.URL, []byte("test-secret"))
	s := newSender(t, db, Config{Timeout: 5 * time.Second})

	start := time.Now()
	id, err := s.Send(context.Background(), sampleMessage(t))
	if err != nil || id != "http 200" {
		t.Fatalf("Send = %q, %v; want http 200", id, err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("Send took %s reading an endless answer; it should stop after a bounded read", d)
	}
}

// TestNewNeedsAgencies checks the one required field.
func TestNewNeedsAgencies(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without Agencies succeeded")
	}
}

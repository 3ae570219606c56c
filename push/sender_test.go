package push_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/peertest"
	"github.com/govchannels/channels/push"
	"github.com/govchannels/channels/store/bolt"
)

const (
	phone    = "+254712345678"
	stranger = "+254733000000"
)

// sendEnv is a Sender over a bbolt store, sending to an FCM peer, with its
// log kept for the test to read.
type sendEnv struct {
	fcm    *peertest.FCM
	db     *bolt.DB
	sender *push.Sender
	logs   *channelstest.LogBuffer
}

func newSendEnv(t *testing.T, fcm *peertest.FCM) *sendEnv {
	t.Helper()
	client, err := push.NewClient(t.Context(), push.Config{
		ProjectID:  fcm.ProjectID,
		Endpoint:   fcm.Endpoint,
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &sendEnv{fcm: fcm, db: channelstest.OpenStore(t), logs: &channelstest.LogBuffer{}}
	e.sender = push.NewSender(client, e.db, slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return e
}

// register stores a device of phone for each token, a minute apart.
func (e *sendEnv) register(t *testing.T, phone string, tokens ...string) {
	t.Helper()
	platforms := []string{"android", "ios", "web"}
	at := time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)
	for i, tok := range tokens {
		d := channels.Device{Phone: phone, Token: tok, Platform: platforms[i%3], CreatedAt: at.Add(time.Duration(i) * time.Minute)}
		if err := e.db.PutDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
}

// tokens returns the device tokens phone has in the store, sorted.
func (e *sendEnv) tokens(t *testing.T, phone string) []string {
	t.Helper()
	devs, err := e.db.Devices(t.Context(), phone)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range devs {
		out = append(out, d.Token)
	}
	slices.Sort(out)
	return out
}

// received returns the requests the peer got for the given tokens.
func received(f *peertest.FCM, tokens []string) []peertest.FCMRequest {
	var out []peertest.FCMRequest
	for _, r := range f.Requests() {
		if slices.Contains(tokens, r.Token) {
			out = append(out, r)
		}
	}
	return out
}

// newNotice is a push notice to phone with a body and data no log may show.
func newNotice(key, to string) *channels.Outbound {
	return &channels.Outbound{
		Key:     key,
		Kind:    channels.KindPush,
		To:      to,
		Title:   "Permit KE-7Q2 ready",
		Text:    "Collect your permit at Huduma Centre GPO",
		Data:    map[string]string{"reference": "KE-7Q2", "status": "ready", "link": "govchannels://cases/KE-7Q2", "empty": ""},
		Purpose: channels.PurposeNotice,
	}
}

// TestSender sends notices through the real Firebase Admin SDK to the FCM
// peer, which checks each request against FCM's published schema, over a
// real bbolt store of devices.
func TestSender(t *testing.T) {
	t.Parallel()
	fcm := peertest.StartFCM(t)

	tests := []struct {
		name        string
		tokens      []string // the phone's devices
		kill        []string // tokens FCM reports unregistered
		unavailable int      // requests FCM answers 503 (Retry-After: 1 h)
		reason      string   // the permanent reason; "" for none
		retryable   bool     // an ordinary error
		sent        int      // devices that took the notice
		kept        []string // tokens left in the store; "?" for one of them, whichever
	}{
		{name: "every device", tokens: []string{"a1", "a2", "a3"}, sent: 3, kept: []string{"a1", "a2", "a3"}},
		{name: "dead token removed, others kept", tokens: []string{"b1", "b2", "b3"}, kill: []string{"b2"}, sent: 2, kept: []string{"b1", "b3"}},
		{name: "all dead", tokens: []string{"c1", "c2"}, kill: []string{"c1", "c2"}, reason: push.ReasonUnregistered},
		{name: "no device", reason: push.ReasonNoDevice},
		{name: "outage", tokens: []string{"d1"}, unavailable: 1, retryable: true, kept: []string{"d1"}},
		{name: "outage on one device of two", tokens: []string{"e1", "e2"}, unavailable: 1, sent: 1, kept: []string{"e1", "e2"}},
		// Both dead, but the first request meets the outage: a device may
		// still be alive, so the notice is retried rather than given up.
		{name: "outage and a dead token", tokens: []string{"f1", "f2"}, kill: []string{"f1", "f2"}, unavailable: 1, retryable: true, kept: []string{"?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSendEnv(t, fcm)
			e.register(t, phone, tt.tokens...)
			e.register(t, stranger, "z-"+tt.name) // another phone's device never gets it
			fcm.Kill(tt.kill...)
			fcm.Unavailable(tt.unavailable, time.Hour)
			t.Cleanup(func() { fcm.Unavailable(0, 0) })

			m := newNotice("notice/"+tt.name, phone)
			id, err := e.sender.Send(t.Context(), m)

			reason, permanent := outbox.IsPermanent(err)
			switch {
			case tt.reason != "":
				if reason != tt.reason {
					t.Errorf("Send: %v, want permanent %q", err, tt.reason)
				}
			case tt.retryable:
				if err == nil || permanent {
					t.Errorf("Send: %v, want a retryable error", err)
				}
			case err != nil:
				t.Errorf("Send: %v", err)
			}

			reqs := received(fcm, append(slices.Clone(tt.tokens), "z-"+tt.name))
			var names []string
			for _, r := range reqs {
				if r.Token == "z-"+tt.name {
					t.Errorf("the stranger's device got the notice")
				}
				if r.Status != http.StatusOK {
					continue
				}
				names = append(names, r.Name)
				if r.Title != m.Title || r.Body != m.Text || !maps.Equal(r.Data, m.Data) || r.AndroidPriority != "high" {
					t.Errorf("FCM got title %q, body %q, data %v, priority %q; want %q, %q, %v, high",
						r.Title, r.Body, r.Data, r.AndroidPriority, m.Title, m.Text, m.Data)
				}
			}
			if len(names) != tt.sent {
				t.Errorf("%d devices took the notice, want %d", len(names), tt.sent)
			}
			gotIDs := strings.Split(id, ",")
			if id == "" {
				gotIDs = nil
			}
			slices.Sort(gotIDs)
			slices.Sort(names)
			if !slices.Equal(gotIDs, names) {
				t.Errorf("provider ID %q, want the message names %v", id, names)
			}
			if got := e.tokens(t, phone); slices.Contains(tt.kept, "?") && len(got) != len(tt.kept) ||
				!slices.Contains(tt.kept, "?") && !slices.Equal(got, tt.kept) {
				t.Errorf("devices left %v, want %v", got, tt.kept)
			}

			for _, secret := range []string{phone, m.Title, m.Text, "KE-7Q2"} {
				if strings.Contains(e.logs.String(), secret) {
					t.Errorf("the log shows %q:\n%s", secret, e.logs)
				}
			}
			for _, tok := range tt.tokens {
				if strings.Contains(e.logs.String(), "="+tok) {
					t.Errorf("the log shows the token %q:\n%s", tok, e.logs)
				}
			}
		})
	}

	t.Run("not a push notice", func(t *testing.T) {
		e := newSendEnv(t, fcm)
		e.register(t, phone, "g1")
		m := newNotice("sms/1", phone)
		m.Kind = channels.KindSMS
		if _, err := e.sender.Send(t.Context(), m); err == nil {
			t.Fatal("Send of an SMS: no error")
		} else if reason, ok := outbox.IsPermanent(err); !ok || reason != "not_push" {
			t.Errorf("Send of an SMS: %v, want permanent not_push", err)
		}
		if reqs := received(fcm, []string{"g1"}); len(reqs) != 0 {
			t.Errorf("FCM got %d requests", len(reqs))
		}
	})
}

// TestSenderRefused sends to an FCM peer that serves the enums as FCM's
// document publishes them, so it refuses the SDK's android.priority "high":
// a notice FCM refuses as malformed fails for good, so that the SMS
// fallback goes at once, and no device is removed for it.
func TestSenderRefused(t *testing.T) {
	t.Parallel()
	fcm := peertest.StartFCMWith(t, peertest.FCMOptions{PublishedEnums: true})
	e := newSendEnv(t, fcm)
	e.register(t, phone, "r1", "r2")

	_, err := e.sender.Send(t.Context(), newNotice("notice/refused", phone))
	if reason, ok := outbox.IsPermanent(err); !ok || reason != push.ReasonInvalidArgument {
		t.Errorf("Send: %v, want permanent %q", err, push.ReasonInvalidArgument)
	}
	if err != nil && !strings.Contains(err.Error(), "message.android.priority") {
		t.Errorf("error %q does not say what FCM refused", err)
	}
	reqs := received(fcm, []string{"r1", "r2"})
	if len(reqs) != 2 {
		t.Errorf("FCM got %d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.Status != http.StatusBadRequest {
			t.Errorf("FCM answered %d for %s, want 400", r.Status, r.Token)
		}
	}
	if got := e.tokens(t, phone); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("devices left %v, want both", got)
	}
}

// TestNewClient builds clients from credentials without reaching Google:
// a service-account key is read when the client is made, so a missing or
// malformed one fails then, with the file named.
func TestNewClient(t *testing.T) {
	dir := t.TempDir()
	key := serviceAccount(t, dir)
	bad := writeFile(t, dir, "bad.json", `{"type": "service_account", "private_key": `)
	missing := filepath.Join(dir, "missing.json")

	tests := []struct {
		name    string
		cfg     push.Config
		wantErr string // "" when the client must be made
	}{
		{"service account", push.Config{ProjectID: "gov-test", CredentialsFile: key}, ""},
		{"project from the key", push.Config{CredentialsFile: key}, ""},
		{"service account over a client of ours", push.Config{ProjectID: "gov-test", CredentialsFile: key, HTTPClient: &http.Client{Timeout: time.Second}}, ""},
		{"test endpoint", push.Config{ProjectID: "gov-test", Endpoint: "http://127.0.0.1:9/v1"}, ""},
		{"missing key", push.Config{ProjectID: "gov-test", CredentialsFile: missing}, "missing.json"},
		{"missing key over a client of ours", push.Config{ProjectID: "gov-test", CredentialsFile: missing, HTTPClient: &http.Client{}}, "missing.json"},
		{"malformed key", push.Config{ProjectID: "gov-test", CredentialsFile: bad}, "push:"},
		{"no project", push.Config{Endpoint: "http://127.0.0.1:9/v1"}, "project ID is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.ProjectID == "" {
				t.Setenv("GOOGLE_CLOUD_PROJECT", "")
				t.Setenv("GCLOUD_PROJECT", "")
			}
			c, err := push.NewClient(context.Background(), tt.cfg)
			switch {
			case tt.wantErr == "" && (err != nil || c == nil):
				t.Errorf("NewClient: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("NewClient: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// serviceAccount writes a service-account key of project gov-test with a
// fresh RSA key, as the Firebase console downloads one, and returns its
// path.
func serviceAccount(t *testing.T, dir string) string {
	t.Helper()
	return writeFile(t, dir, "sa.json", fmt.Sprintf(`{
  "type": "service_account",
  "project_id": "gov-test",
  "private_key_id": "0123456789abcdef",
  "private_key": %q,
  "client_email": "fcm@gov-test.iam.gserviceaccount.com",
  "client_id": "100000000000000000000",
  "auth_uri": "https://accounts.google.com/o/oauth2/auth",
  "token_uri": "https://oauth2.googleapis.com/token"
}`, rsaKeyPEM(t)))
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rsaKeyPEM returns a fresh 2048-bit RSA key in PKCS #8 PEM, as Google
// issues service-account keys.
func rsaKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

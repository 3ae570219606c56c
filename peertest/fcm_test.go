package peertest_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/govchannels/channels/peertest"
)

// fcmClient is the Firebase Admin SDK's messaging client for project at
// the peer f, as the push package builds it for tests.
func fcmClient(t *testing.T, f *peertest.FCM, project string) *messaging.Client {
	t.Helper()
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project},
		option.WithEndpoint(f.Endpoint), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.Messaging(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// forToken returns the requests the peer received for token.
func forToken(f *peertest.FCM, token string) []peertest.FCMRequest {
	var out []peertest.FCMRequest
	for _, r := range f.Requests() {
		if r.Token == token {
			out = append(out, r)
		}
	}
	return out
}

// notice is a message as the push package sends it.
func notice(token string) *messaging.Message {
	return &messaging.Message{
		Token:        token,
		Notification: &messaging.Notification{Title: "Case KE-123", Body: "Your permit is ready"},
		Data:         map[string]string{"reference": "KE-123", "status": "ready"},
		Android:      &messaging.AndroidConfig{Priority: "high"},
	}
}

// TestFCM drives the FCM peer with the real Firebase Admin SDK: what the
// SDK sends passes FCM's published schema, and each answer the peer plays
// (a dead token, an outage, a malformed request, a foreign project) reaches
// the SDK as the error FCM's own answer would be.
func TestFCM(t *testing.T) {
	t.Parallel()
	f := peertest.StartFCM(t)
	client := fcmClient(t, f, f.ProjectID)
	ctx := context.Background()

	t.Run("accepted and recorded", func(t *testing.T) {
		name, err := client.Send(ctx, notice("tok-ok"))
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		reqs := forToken(f, "tok-ok")
		if len(reqs) != 1 {
			t.Fatalf("peer got %d requests for the token, want 1", len(reqs))
		}
		r := reqs[0]
		if r.Status != http.StatusOK || r.Name != name || !strings.HasPrefix(name, "projects/"+f.ProjectID+"/messages/") {
			t.Errorf("answer %d %q, SDK returned %q", r.Status, r.Name, name)
		}
		want := map[string]string{"reference": "KE-123", "status": "ready"}
		if r.Project != f.ProjectID || r.Title != "Case KE-123" || r.Body != "Your permit is ready" ||
			!maps.Equal(r.Data, want) || r.AndroidPriority != "high" {
			t.Errorf("recorded %+v", r)
		}
	})

	t.Run("dead token", func(t *testing.T) {
		f.Kill("tok-dead")
		_, err := client.Send(ctx, notice("tok-dead"))
		if !messaging.IsUnregistered(err) {
			t.Fatalf("Send to a killed token: %v, want unregistered", err)
		}
		if reqs := forToken(f, "tok-dead"); len(reqs) != 1 || reqs[0].Status != http.StatusNotFound || reqs[0].ErrorCode != "UNREGISTERED" {
			t.Errorf("recorded %+v", reqs)
		}
	})

	t.Run("outage asking to wait long is not retried", func(t *testing.T) {
		f.Unavailable(1, time.Hour)
		_, err := client.Send(ctx, notice("tok-outage"))
		if !messaging.IsUnavailable(err) {
			t.Fatalf("Send during an outage: %v, want unavailable", err)
		}
		if reqs := forToken(f, "tok-outage"); len(reqs) != 1 || reqs[0].Status != http.StatusServiceUnavailable {
			t.Errorf("recorded %+v, want one 503", reqs)
		}
	})

	t.Run("short outage is retried by the SDK", func(t *testing.T) {
		f.Unavailable(1, 0)
		if _, err := client.Send(ctx, notice("tok-blip")); err != nil {
			t.Fatalf("Send after one 503: %v", err)
		}
		reqs := forToken(f, "tok-blip")
		if len(reqs) != 2 || reqs[0].Status != http.StatusServiceUnavailable || reqs[1].Status != http.StatusOK {
			t.Errorf("recorded %+v, want a 503 then a 200", reqs)
		}
	})

	t.Run("another project", func(t *testing.T) {
		_, err := fcmClient(t, f, "someone-else").Send(ctx, notice("tok-foreign"))
		if !messaging.IsSenderIDMismatch(err) {
			t.Fatalf("Send for another project: %v, want sender ID mismatch", err)
		}
	})

	// Requests the SDK cannot produce, sent by hand: Prism judges them
	// before the peer looks at the token.
	raw := []struct {
		name, body string
		kill       bool
		wantField  string
	}{
		{"data value not a string", `{"message":{"token":"tok-raw","data":{"count":3}}}`, false, "message.data.count"},
		{"priority not in the enum", `{"message":{"token":"tok-raw","android":{"priority":"urgent"}}}`, false, "message.android.priority"},
		{"dead token, malformed request", `{"message":{"token":"tok-raw-dead","data":{"count":3}}}`, true, "message.data.count"},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			if tt.kill {
				f.Kill("tok-raw-dead")
			}
			resp, err := http.Post(f.Endpoint+"/projects/"+f.ProjectID+"/messages:send", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct {
				Error struct {
					Code    int    `json:"code"`
					Status  string `json:"status"`
					Message string `json:"message"`
					Details []struct {
						Type      string `json:"@type"`
						ErrorCode string `json:"errorCode"`
					} `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if resp.StatusCode != http.StatusBadRequest || e.Error.Code != 400 || e.Error.Status != "INVALID_ARGUMENT" ||
				len(e.Error.Details) != 1 || e.Error.Details[0].ErrorCode != "INVALID_ARGUMENT" ||
				e.Error.Details[0].Type != "type.googleapis.com/google.firebase.fcm.v1.FcmError" {
				t.Errorf("answer %s %s, want FCM's 400 INVALID_ARGUMENT", resp.Status, b)
			}
			if !strings.Contains(e.Error.Message, tt.wantField) {
				t.Errorf("message %q does not name %s", e.Error.Message, tt.wantField)
			}
		})
	}
}

// TestFCMPublishedEnums serves FCM's document with its enums as published:
// the SDK's lowercase android.priority is refused there, which proves that
// Prism checks the body of each request, and that its refusal reaches the
// SDK as FCM's INVALID_ARGUMENT.
func TestFCMPublishedEnums(t *testing.T) {
	t.Parallel()
	f := peertest.StartFCMWith(t, peertest.FCMOptions{PublishedEnums: true})
	client := fcmClient(t, f, f.ProjectID)
	ctx := context.Background()

	_, err := client.Send(ctx, notice("tok-strict"))
	if !messaging.IsInvalidArgument(err) || !strings.Contains(err.Error(), "message.android.priority") {
		t.Errorf("Send with priority high: %v, want invalid argument naming message.android.priority", err)
	}
	m := notice("tok-strict")
	m.Android = nil
	if _, err := client.Send(ctx, m); err != nil {
		t.Errorf("Send without a priority: %v", err)
	}
}

package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/peertest"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/store/postgres"
)

// putFailed stores a failed webhook, a failed one-time code and a parked
// event in db.
func putFailed(t *testing.T, db channels.OutboxStore) {
	t.Helper()
	now := time.Now().UTC()
	for _, m := range []*channels.Outbound{
		{Key: "evt_1", Kind: channels.KindWebhook, To: "civil_registry", Text: `{"secret":"body"}`, Purpose: channels.PurposeEvent, Reason: "gave_up", Attempts: 430},
		{Key: "otp/1", To: "+254712345678", Text: "Your code is 482913", Purpose: channels.PurposeOTP, AtMostOnce: true, Reason: "outcome_unknown", Attempts: 1},
		{Key: "event/12", Kind: channels.KindEvent, To: "BC-7K2M9Q", Data: map[string]string{"seq": "12"}, Purpose: channels.PurposeEvent, Reason: "unreadable case", Attempts: 6},
	} {
		m.Status, m.CreatedAt, m.UpdatedAt, m.NextAttempt = channels.OutboundQueued, now, now, now
		if err := db.Enqueue(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		m.Status = channels.OutboundFailed
		if err := db.UpdateOutbound(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// checkOutboxCommands runs the outbox commands on data and checks what
// they print and, through status, what they store.
func checkOutboxCommands(t *testing.T, data string, status func(key string) channels.OutboundStatus) {
	t.Helper()
	code, out, errOut := runCmd(t, "", "outbox", "failed", "-data", data)
	if code != 0 {
		t.Fatalf("failed: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"evt_1", "webhook", "civil_registry", "gave_up", "otp/1", channels.MaskPhone("+254712345678"), "not retried: it is a one-time code", "event/12", "BC-7K2M9Q", "unreadable case"} {
		if !strings.Contains(out, want) {
			t.Errorf("the listing lacks %q:\n%s", want, out)
		}
	}
	for _, never := range []string{"482913", "secret", "+254712345678"} {
		if strings.Contains(out, never) {
			t.Errorf("the listing shows %q:\n%s", never, out)
		}
	}

	code, out, errOut = runCmd(t, "", "outbox", "failed", "-data", data, "-kind", "webhook", "-format", "json")
	var list []admin.FailedMessage
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Key != "evt_1" || list[0].Attempts != 430 {
		t.Errorf("failed -kind webhook -format json: %d %s %s", code, out, errOut)
	}

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		key    string
		status channels.OutboundStatus
	}{
		{"a webhook", []string{"retry", "-data", data, "evt_1"}, 0, "Message evt_1 (webhook to civil_registry) queued again", "", "evt_1", channels.OutboundQueued},
		{"a parked event", []string{"retry", "-data", data, "event/12"}, 0, "Parked event event/12 (event to BC-7K2M9Q) queued again", "", "event/12", channels.OutboundQueued},
		{"a one-time code, refused", []string{"retry", "-data", data, "otp/1"}, 1, "", "channels outbox retry: message otp/1 is not sent again: it is a one-time code", "otp/1", channels.OutboundFailed},
		{"twice", []string{"retry", "-data", data, "evt_1"}, 1, "", "evt_1 is queued, not failed", "evt_1", channels.OutboundQueued},
		{"unknown", []string{"retry", "-data", data, "nope"}, 1, "", "no outbox message \"nope\"", "", ""},
		{"a bad kind", []string{"failed", "-data", data, "-kind", "fax"}, 2, "", "-kind \"fax\": one of sms, push, webhook, event", "", ""},
		{"no key", []string{"retry", "-data", data}, 2, "", "want 1 arguments", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", append([]string{"outbox"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("%v: %d\nstdout %s\nstderr %s\nwant %d, %q, %q", tt.args, code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
			if tt.key != "" {
				if got := status(tt.key); got != tt.status {
					t.Errorf("%s is %s, want %s", tt.key, got, tt.status)
				}
			}
		})
	}
	code, out, _ = runCmd(t, "", "outbox", "failed", "-data", data, "-format", "json")
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Key != "otp/1" {
		t.Errorf("after the retries, failed: %d %s; want the code only", code, out)
	}
}

// TestOutboxCommandsOnTheDataFile runs the commands with no server: they
// open the data file.
func TestOutboxCommandsOnTheDataFile(t *testing.T) {
	t.Setenv(envAdminSocket, "")
	data := filepath.Join(t.TempDir(), "channels.db")
	db, err := bolt.Open(data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	putFailed(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkOutboxCommands(t, data, func(key string) channels.OutboundStatus {
		db, err := bolt.Open(data, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		m, err := db.Outbound(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		return m.Status
	})
}

// TestOutboxCommandsThroughTheSocket runs them while a server holds the
// data file: they go through its admin socket.
func TestOutboxCommandsThroughTheSocket(t *testing.T) {
	t.Setenv(envAdminSocket, "")
	data := filepath.Join(t.TempDir(), "channels.db")
	db := openData(t, data)
	putFailed(t, db)
	ln, err := admin.Listen(admin.SocketPath(data))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.NewServer(admin.New(db, agency.NewKey, nil), slog.New(slog.DiscardHandler))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	code, _, errOut := runCmd(t, "", "outbox", "failed", "-data", data)
	if code != 0 || !strings.Contains(errOut, "through the admin socket "+admin.SocketPath(data)) {
		t.Fatalf("failed did not go through the socket: %d %s", code, errOut)
	}
	checkOutboxCommands(t, data, func(key string) channels.OutboundStatus {
		m, err := db.Outbound(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		return m.Status
	})
}

// TestOutboxCommandsOnTheDatabase runs them with no server on a real
// PostgreSQL database, named by the environment as serve takes it.
func TestOutboxCommandsOnTheDatabase(t *testing.T) {
	t.Setenv(envAdminSocket, "")
	url := peertest.StartPostgres(t).Database(t)
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	putFailed(t, db)
	t.Setenv("CHANNELS_DATABASE_URL", url)
	data := filepath.Join(t.TempDir(), "unused.db")
	if code, _, errOut := runCmd(t, "", "outbox", "failed", "-data", data); code != 0 || !strings.Contains(errOut, "on the database") {
		t.Fatalf("failed did not go to the database: %d %s", code, errOut)
	}
	checkOutboxCommands(t, data, func(key string) channels.OutboundStatus {
		m, err := db.Outbound(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		return m.Status
	})
}

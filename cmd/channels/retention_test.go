package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
)

// TestPurgeOnce fills a store with what the purge must remove and what it
// must keep, runs one pass as the server's loop does, and reads the store
// back: final messages past the retention period go, over several
// batches; queued and newer ones, live sessions and sign-outs stay.
func TestPurgeOnce(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	db := channelstest.OpenStore(t)
	logs := &channelstest.LogBuffer{}
	s := &server{cfg: defaultConfig(), log: slog.New(slog.NewTextHandler(logs, nil)), db: db, long: db}
	day := 24 * time.Hour

	msg := func(key string, status channels.OutboundStatus, updated time.Time) *channels.Outbound {
		return &channels.Outbound{Key: key, To: "+254712345678", Text: "Your case moved", Purpose: channels.PurposeNotice,
			Status: status, NextAttempt: updated, CreatedAt: updated, UpdatedAt: updated}
	}
	old := 2*purgeBatch + 1 // three batches
	var ms []*channels.Outbound
	for i := range old {
		ms = append(ms, msg(fmt.Sprintf("old/%d", i), channels.OutboundDelivered, now.Add(-8*day)))
	}
	kept := []*channels.Outbound{
		msg("queued, 8 days old", channels.OutboundQueued, now.Add(-8*day)),
		msg("sent 6 days ago", channels.OutboundSent, now.Add(-6*day)),
	}
	if err := db.Enqueue(ctx, append(ms, kept...)...); err != nil {
		t.Fatal(err)
	}
	err := db.PutSession(ctx,
		&channels.Session{ID: "ussd-resume/+254712345678", UpdatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)},
		&channels.Session{ID: "sms-in/kannel/42", UpdatedAt: now.Add(-49 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		&channels.Session{ID: "ussd/live", UpdatedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SignOut(ctx, "+254712345678", now.Add(-31*day), now.Add(-day)); err != nil {
		t.Fatal(err)
	}
	if err := db.SignOut(ctx, "+254733000000", now.Add(-day), now.Add(29*day)); err != nil {
		t.Fatal(err)
	}

	got := s.purgeOnce(ctx, now)
	if want := (purged{sessions: 2, outbound: old, signOuts: 1}); got != want {
		t.Errorf("purged %+v, want %+v", got, want)
	}
	tests := []struct {
		name string
		read func() error
		kept bool
	}{
		{"an old delivered message", func() error { _, err := db.Outbound(ctx, "old/0"); return err }, false},
		{"the last old one, in the third batch", func() error { _, err := db.Outbound(ctx, fmt.Sprintf("old/%d", old-1)); return err }, false},
		{"an old queued message", func() error { _, err := db.Outbound(ctx, "queued, 8 days old"); return err }, true},
		{"a message sent inside the retention period", func() error { _, err := db.Outbound(ctx, "sent 6 days ago"); return err }, true},
		{"a live session", func() error { _, err := db.Session(ctx, "ussd/live", now); return err }, true},
	}
	for _, tt := range tests {
		if err := tt.read(); (err == nil) != tt.kept {
			t.Errorf("%s: read = %v, kept %v wanted", tt.name, err, tt.kept)
		}
	}
	for phone, want := range map[string]bool{"+254712345678": false, "+254733000000": true} {
		if at, err := db.SignedOut(ctx, phone); err != nil || at.IsZero() == want {
			t.Errorf("sign-out of %s = %v, %v; kept %v wanted", phone, at, err, want)
		}
	}
	if again := s.purgeOnce(ctx, now); again != (purged{}) {
		t.Errorf("a second pass purged %+v, want nothing", again)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=purged") {
		t.Errorf("no info line of the counts:\n%s", logs)
	}
}

// TestTokenKey checks where the token key comes from: the -token-key-file,
// refused when short, so that the database's secret signs nothing; else
// the database's secret.
func TestTokenKey(t *testing.T) {
	db := channelstest.OpenStore(t)
	inDB, err := db.Secret(context.Background(), "auth-token", 32)
	if err != nil {
		t.Fatal(err)
	}
	fileKey := bytes.Repeat([]byte{0x5a}, 32)
	tests := []struct {
		name string
		args []string
		want []byte
		err  string
	}{
		{"no file: the database's secret", nil, inDB, ""},
		{"a key file", []string{"-token-key-file", secretFile(t, string(fileKey))}, fileKey, ""},
		{"a short key file", []string{"-token-key-file", secretFile(t, "0123456789abcdef0123456789abcde")},
			nil, "holds 31 bytes, fewer than 32: make one with head -c 32 /dev/urandom >"},
		{"a missing key file", []string{"-token-key-file", "/nonexistent/key"}, nil, "token-key-file: open /nonexistent/key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			fs := newFlagSet("serve")
			c.flags(fs)
			err := c.parse(fs, tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			key, err := tokenKey(c, db)
			if err != nil || !bytes.Equal(key, tt.want) {
				t.Errorf("key %x, %v; want %x", key, err, tt.want)
			}
		})
	}
	t.Run("the key file from the environment", func(t *testing.T) {
		t.Setenv("CHANNELS_TOKEN_KEY_FILE", secretFile(t, string(fileKey)))
		var c config
		fs := newFlagSet("serve")
		c.flags(fs)
		if err := c.parse(fs, nil); err != nil || !bytes.Equal(c.tokenKey, fileKey) {
			t.Errorf("key %x, %v; want the file's", c.tokenKey, err)
		}
	})
}

// TestRetentionFlag checks -retention and its variable.
func TestRetentionFlag(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want time.Duration
		err  string
	}{
		{"default: 7 days", "", nil, 7 * 24 * time.Hour, ""},
		{"flag", "", []string{"-retention", "720h"}, 720 * time.Hour, ""},
		{"environment", "48h", nil, 48 * time.Hour, ""},
		{"under a day", "", []string{"-retention", "23h"}, 0, "retention 23h0m0s must be at least 24h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("CHANNELS_RETENTION", tt.env)
			}
			var c config
			fs := newFlagSet("serve")
			c.flags(fs)
			err := c.parse(fs, tt.args)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("err = %v, want %q", err, tt.err)
			case tt.err == "" && (err != nil || c.Retention != tt.want):
				t.Errorf("retention %v, %v; want %v", c.Retention, err, tt.want)
			}
		})
	}
}

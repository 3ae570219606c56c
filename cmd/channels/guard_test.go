package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/store/bolt"
)

// TestGuardOutage walks a store through an outage as the guard sees it:
// the first failure is logged at error with its cause, the next ones are
// not (a reminder after a minute), failures reach callers as EUNAVAILABLE
// with error.unavailable, the channels' own lines about them go at debug,
// and the first success outageSettle after the last failure ends it, once.
func TestGuardOutage(t *testing.T) {
	var logs bytes.Buffer
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	h := &health{log: slog.New(slog.NewTextHandler(&logs, nil)), what: "/d/channels.db", now: func() time.Time { return now }}
	log := slog.New(quiet{slog.NewTextHandler(&logs, nil)})
	g := &guard{health: h, unavailable: bolt.Unavailable}
	full := &os.PathError{Op: "write", Path: "/d/channels.db-sessions", Err: syscall.ENOSPC}
	lines := func() []string {
		defer logs.Reset()
		return strings.FieldsFunc(logs.String(), func(r rune) bool { return r == '\n' })
	}

	for _, step := range []struct {
		name    string
		advance time.Duration
		err     error // what the store returns
		code    string
		logged  []string // parts of the one line logged, if any
	}{
		{"a call that succeeds", 0, nil, "", nil},
		{"a refusal is no outage", 0, channels.Errorf(channels.ENOTFOUND, "error.not_found", "x"), channels.ENOTFOUND, nil},
		{"the first failure", 0, full, channels.EUNAVAILABLE, []string{`level=ERROR msg="store unavailable:`, "no space left on device"}},
		{"the next failures", time.Second, full, channels.EUNAVAILABLE, nil},
		{"a success too soon after", time.Second, nil, "", nil},
		{"a failure a minute on", time.Minute, full, channels.EUNAVAILABLE, []string{`level=WARN msg="store still unavailable"`, "failed_calls=3"}},
		{"the caller gave up", 0, context.Canceled, channels.EINTERNAL, nil},
		{"a success once it settled", outageSettle, nil, "", []string{`level=WARN msg="store answers again"`, "outage=1m2s", "failed_calls=3"}},
		{"the next success", time.Second, nil, "", nil},
		{"a new outage", time.Hour, full, channels.EUNAVAILABLE, []string{`level=ERROR msg="store unavailable:`}},
		{"the store's own refusal to wait", 0, channels.Errorf(channels.EUNAVAILABLE, "error.internal", "lock: held elsewhere"), channels.EUNAVAILABLE, nil},
	} {
		now = now.Add(step.advance)
		err := g.do(context.Background(), func(context.Context) error { return step.err })
		if got := channels.ErrorCode(err); got != step.code {
			t.Errorf("%s: code %q, want %q (%v)", step.name, got, step.code, err)
		}
		if step.code == channels.EUNAVAILABLE {
			if msg := channels.ErrorMessage(err); msg != "error.unavailable" || !errors.Is(err, step.err) {
				t.Errorf("%s: message %s, cause kept %v: %v", step.name, msg, errors.Is(err, step.err), err)
			}
			// What a channel logs of it is not an error of its own.
			log.Error("ussd hop failed", "err", fmt.Errorf("save session: %w", err))
		}
		got := lines()
		if len(got) != min(len(step.logged), 1) {
			t.Errorf("%s: logged %q, want %q", step.name, got, step.logged)
			continue
		}
		for _, want := range step.logged {
			if !strings.Contains(got[0], want) {
				t.Errorf("%s: logged %q, want %q in it", step.name, got[0], want)
			}
		}
	}
	log.Error("ussd hop failed", "err", errors.New("step: a bug"))
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "level=ERROR") {
		t.Errorf("an error that is not an outage: logged %q", got)
	}
}

// BenchmarkGuard measures what the guard adds to a store call on the hop
// path (a session read and write on a real bbolt file): without a
// deadline, as on bbolt, and with one, as on PostgreSQL, against the
// store called directly in the same run.
func BenchmarkGuard(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "channels.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	h := &health{log: slog.New(slog.DiscardHandler)}
	now := time.Now()
	for _, bc := range []struct {
		name  string
		store channels.SessionStore
	}{
		{"direct", db},
		{"guard", &guard{Store: db, health: h, unavailable: bolt.Unavailable}},
		{"guard with deadline", &guard{Store: db, health: h, unavailable: bolt.Unavailable, timeout: storeTimeout}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s := &channels.Session{ID: "ussd/bench", Phone: "+254712345678", State: make([]byte, 300), ExpiresAt: now.Add(time.Hour)}
			if err := bc.store.PutSession(ctx, s); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := bc.store.Session(ctx, "ussd/bench", now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package sms

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/store/bolt"
)

// today is the fixed clock of the SMS tests.
var today = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

const phone = "+254712345678"

// fixture is a dialogue server on a real bbolt file, the shipped catalog
// and locales, and a clock the test moves.
type fixture struct {
	srv    *Server
	db     *bolt.DB
	bundle *locales.Bundle
	logs   *channelstest.LogBuffer
	clk    *channelstest.Clock
	seq    int // the gateway message IDs sent so far
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clk: channelstest.NewClock(today), logs: &channelstest.LogBuffer{}}
	engine, bundle := channelstest.Shipped(t, f.clk.Now)
	f.bundle = bundle
	f.db = channelstest.OpenStore(t)
	srv, err := New(Config{
		Engine: engine, Host: &host.Store{Cases: f.db, Prefs: f.db, Now: f.clk.Now},
		Sessions: f.db, Prefs: f.db, Bundle: bundle, Now: f.clk.Now,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	return f
}

// send delivers text from phone under a fresh gateway message ID.
func (f *fixture) send(t testing.TB, text string) Reply {
	t.Helper()
	f.seq++
	return f.deliver(t, Inbound{Gateway: "test", ID: fmt.Sprintf("m%d", f.seq), From: phone, To: "22141", Text: text})
}

func (f *fixture) deliver(t testing.TB, in Inbound) Reply {
	t.Helper()
	r, err := f.srv.Handle(context.Background(), in)
	if err != nil {
		t.Fatalf("handle %q: %v", in.Text, err)
	}
	return r
}

func (f *fixture) cases(t testing.TB) []*channels.Case {
	t.Helper()
	cs, err := f.db.CasesByPhone(context.Background(), phone, 100)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (f *fixture) prefs(t testing.TB) channels.Prefs {
	t.Helper()
	p, err := f.db.Prefs(context.Background(), phone)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var refPattern = regexp.MustCompile(`\b\d{10}\b`)

// transcript sends each message in turn and returns the dialogue as text:
// "> message" then the reply, references masked as $REF.
func (f *fixture) transcript(t testing.TB, msgs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, m := range msgs {
		r := f.send(t, m)
		fmt.Fprintf(&b, "> %s\n%s\n\n", m, refPattern.ReplaceAllString(r.Text, "$$REF"))
	}
	return b.String()
}

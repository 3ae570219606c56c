package notify_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/notify"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/webhook"
)

// failingCase is the real store, except that while broken is set it
// cannot read the case ref: the fault of a store whose record of one case
// is damaged.
type failingCase struct {
	*bolt.DB
	ref    string
	broken atomic.Bool
}

func (s *failingCase) Case(ctx context.Context, ref string) (*channels.Case, error) {
	if ref == s.ref && s.broken.Load() {
		return nil, errors.New("bolt: case " + ref + ": unreadable record")
	}
	return s.DB.Case(ctx, ref)
}

// TestEventParked follows the case log past an event it cannot handle: the
// events after it are handled at once, the bad one is tried MaxAttempts
// times with backoff and parked where the store lists it, a restart
// resumes from the cursor, and a parked event requeued by an operator is
// handled once the fault is gone.
func TestEventParked(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "channels.db")
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	clock := channelstest.NewClock(t0)
	if err := db.PutAgency(ctx, channels.Agency{ID: "civil_registry", Name: "Civil Registry", WebhookURL: "https://cr.example/hook", WebhookSecret: []byte("s"), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	submit := func(db *bolt.DB, key string) (string, channels.CaseEvent) {
		t.Helper()
		host := &host.Store{Cases: db, Prefs: db, Log: db, Now: clock.Now}
		ref, err := host.Submit(ctx, flows.Submission{Key: key, Service: "birth_certificate", Agency: "civil_registry", Phone: phone, Lang: "en", Channel: channels.ChannelUSSD})
		if err != nil {
			t.Fatal(err)
		}
		cursor, _ := db.Cursor(ctx, "test")
		events, err := db.CaseEvents(ctx, cursor, 100)
		if err != nil || len(events) == 0 {
			t.Fatalf("events: %v %v", events, err)
		}
		last := events[len(events)-1]
		if err := db.PutCursor(ctx, "test", last.Seq); err != nil {
			t.Fatal(err)
		}
		return ref, last
	}
	notifier := func(store notify.Store) *notify.Notifier {
		return notify.New(notify.Config{
			Store: store, Outbox: outbox.New(outbox.Config{Store: store, Sender: idle{}}), Bundle: bundle, Catalog: cat,
			Webhook: webhook.Message, MaxAttempts: 3, Backoff: time.Second, Now: clock.Now,
		})
	}
	hooked := func(db *bolt.DB, e channels.CaseEvent) bool {
		t.Helper()
		_, err := db.Outbound(ctx, webhook.EventID(e))
		if err != nil && channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Fatal(err)
		}
		return err == nil
	}
	pass := func(n *notify.Notifier, want int) {
		t.Helper()
		got, err := n.Pass(ctx)
		if err != nil || got != want {
			t.Fatalf("Pass = %d, %v; want %d events handled", got, err, want)
		}
	}

	_, first := submit(db, "ussd/a")
	bad, second := submit(db, "ussd/b")
	_, third := submit(db, "ussd/c")
	store := &failingCase{DB: db, ref: bad}
	store.broken.Store(true)
	n := notifier(store)
	parkedKey := "event/" + itoa(second.Seq)

	pass(n, 3)
	if !hooked(db, first) || !hooked(db, third) || hooked(db, second) {
		t.Fatalf("webhooks queued: first %v, second %v, third %v; want the first and third only", hooked(db, first), hooked(db, second), hooked(db, third))
	}
	if c, err := db.Cursor(ctx, notify.CursorName); err != nil || c != third.Seq {
		t.Errorf("cursor %d %v, want %d: past the failed event", c, err, third.Seq)
	}
	tries := []struct {
		name     string
		wait     time.Duration
		status   channels.OutboundStatus
		attempts int
	}{
		{"set aside after its first failure", 0, channels.OutboundQueued, 1},
		{"not tried before its backoff", 999 * time.Millisecond, channels.OutboundQueued, 1},
		{"second attempt after 1s", time.Millisecond, channels.OutboundQueued, 2},
		{"third and last after 2s more: parked", 2 * time.Second, channels.OutboundFailed, 3},
		{"a parked event is tried no more", time.Hour, channels.OutboundFailed, 3},
	}
	for i, tt := range tries {
		clock.Add(tt.wait)
		if i > 0 {
			pass(n, 0)
		}
		m, err := db.Outbound(ctx, parkedKey)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if m.Status != tt.status || m.Attempts != tt.attempts || m.To != bad {
			t.Errorf("%s: %s after %d attempts, to %s; want %s after %d, to %s", tt.name, m.Status, m.Attempts, m.To, tt.status, tt.attempts, bad)
		}
	}
	parked, err := db.FailedOutbound(ctx, channels.KindEvent, "", 10)
	if err != nil || len(parked) != 1 || parked[0].Key != parkedKey || parked[0].Reason == "" {
		t.Fatalf("parked events %+v %v, want %s with its reason", parked, err, parkedKey)
	}

	// A restart resumes after the cursor: only the new event is handled.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, fourth := submit(db, "ussd/d")
	store = &failingCase{DB: db, ref: bad}
	n = notifier(store)
	pass(n, 1)
	if !hooked(db, fourth) || hooked(db, second) {
		t.Errorf("after the restart: fourth queued %v, second %v; want the fourth only", hooked(db, fourth), hooked(db, second))
	}

	// The fault mended, an operator's retry gets the event through.
	if _, err := db.RequeueOutbound(ctx, parkedKey, clock.Now()); err != nil {
		t.Fatal(err)
	}
	pass(n, 0)
	if !hooked(db, second) {
		t.Error("the requeued event queued no webhook")
	}
	if m, err := db.Outbound(ctx, parkedKey); err != nil || m.Status != channels.OutboundSent {
		t.Errorf("requeued event: %+v %v, want sent (handled)", m, err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

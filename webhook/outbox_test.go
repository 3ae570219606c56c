package webhook

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/store/bolt"
)

// TestDeliveredAcrossRestart runs a webhook through the real outbox on a
// real bolt file, as `channels serve` would: the agency answers 503 twice,
// then 200. The first process makes one attempt and stops; the file is
// closed and opened again by a second process, which retries until the
// agency acknowledges. The event must arrive signed every time, under one
// ID, be acknowledged exactly once, and be recorded as sent.
func TestDeliveredAcrossRestart(t *testing.T) {
	ctx := context.Background()
	secret := newSecret(t)
	var mu sync.Mutex
	acked := map[string]int{} // acknowledged deliveries by Channels-Webhook-Id
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		acked[r.Header.Get(HeaderID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})

	db, path := openStore(t)
	putAgency(t, db, rc.URL+"/hook", secret)
	m := sampleMessage(t)
	key, text := m.Key, m.Text

	// The first process's clock stands still, so the retry it schedules
	// after the first 503 never comes due before it stops.
	frozen := time.Now()
	box, stop := runOutbox(t, db, func() time.Time { return frozen })
	if err := box.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first attempt to be recorded", func() bool {
		got, err := db.Outbound(ctx, key)
		return err == nil && got.Attempts == 1 && got.Status == channels.OutboundQueued
	})
	stop()
	got, err := db.Outbound(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != channels.OutboundQueued || got.Attempts != 1 || len(rc.deliveries()) != 1 {
		t.Fatalf("before the restart: %s after %d attempts, %d requests; want queued after 1 attempt and 1 request", got.Status, got.Attempts, len(rc.deliveries()))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, stop = runOutbox(t, db, time.Now)
	waitFor(t, "the event to be recorded as sent", func() bool {
		got, err := db.Outbound(ctx, key)
		return err == nil && got.Status.Final()
	})
	stop()

	got, err = db.Outbound(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != channels.OutboundSent || got.Attempts != 3 || got.ProviderID != "http 200" || got.Sender != "webhook" {
		t.Errorf("stored as %s after %d attempts, provider ID %q, sender %q; want sent after 3, http 200, webhook", got.Status, got.Attempts, got.ProviderID, got.Sender)
	}
	ds := rc.deliveries()
	if len(ds) != 3 {
		t.Fatalf("receiver got %d requests; want 3 (503, 503, 200)", len(ds))
	}
	for i, d := range ds {
		if d.Header.Get(HeaderID) != key || string(d.Body) != text {
			t.Errorf("request %d: id %q, body %q; want id %q and the enqueued body", i+1, d.Header.Get(HeaderID), d.Body, key)
		}
		checkSigned(t, d, secret)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) != 1 || acked[key] != 1 {
		t.Errorf("acknowledged deliveries by id: %v; want exactly one, of %s", acked, key)
	}
}

// runOutbox runs an outbox on db with a webhook route and the clock now,
// as one process would, until the returned stop is called; stop returns
// once Run has recorded the attempts in flight.
func runOutbox(t *testing.T, db *bolt.DB, now func() time.Time) (box *outbox.Outbox, stop func()) {
	t.Helper()
	box = outbox.New(outbox.Config{
		Store:      db,
		Routes:     map[string]outbox.Route{channels.KindWebhook: {Sender: newSender(t, db, Config{}), Rate: 1000, MaxAttempts: 10}},
		Backoff:    10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Poll:       10 * time.Millisecond,
		Now:        now,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- box.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return box, stop
}

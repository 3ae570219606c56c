package webhook

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
)

// TestHangingReceiverDelaysNoOtherAgency runs the real outbox with the
// real sender against two real receivers. One agency's receiver takes
// every request and never answers until the test ends, with hundreds of
// webhooks queued for it first; the other agency's webhooks, queued after
// them, must still arrive, and the hanging receiver must never have held
// more requests at once than the outbox's cap per recipient.
func TestHangingReceiverDelaysNoOtherAgency(t *testing.T) {
	const (
		workers, perAgency = 8, 2
		backlog, live      = 400, 5
	)
	ctx := context.Background()
	db, _ := openStore(t)

	var inFlight, most atomic.Int64
	hang := make(chan struct{})
	release := sync.OnceFunc(func() { close(hang) })
	dead := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(release) // before the receiver closes: cleanups run last first
	var arrived sync.Map
	alive := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		arrived.Store(r.Header.Get(HeaderID), true)
		w.WriteHeader(http.StatusNoContent)
	})
	for id, url := range map[string]string{"dead_agency": dead.URL, "live_agency": alive.URL} {
		a := channels.Agency{ID: id, Name: id, WebhookURL: url + "/hook", WebhookSecret: newSecret(t), CreatedAt: time.Now()}
		if err := db.PutAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	// The hanging agency's webhooks are all due before the other's.
	now := time.Now()
	var ms []*channels.Outbound
	for i := range backlog {
		ms = append(ms, &channels.Outbound{Key: fmt.Sprintf("dead/%03d", i), Kind: channels.KindWebhook, To: "dead_agency", Text: "{}",
			Purpose: channels.PurposeEvent, NextAttempt: now.Add(time.Duration(i-backlog-live) * time.Millisecond)})
	}
	for i := range live {
		ms = append(ms, &channels.Outbound{Key: fmt.Sprintf("live/%d", i), Kind: channels.KindWebhook, To: "live_agency", Text: "{}",
			Purpose: channels.PurposeEvent, NextAttempt: now.Add(time.Duration(i-live) * time.Millisecond)})
	}
	box := outbox.New(outbox.Config{
		Store: db,
		// A timeout longer than the test: the hanging requests hold their
		// workers throughout.
		Routes: map[string]outbox.Route{channels.KindWebhook: {
			Sender: newSender(t, db, Config{Timeout: time.Hour}), Rate: 1000, Burst: 1000,
			Workers: workers, PerRecipient: perAgency,
		}},
		Poll: time.Hour, // only Send and the workers wake the dispatcher
	})
	if err := box.Send(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- box.Run(runCtx) }()
	t.Cleanup(func() {
		release() // Run waits for the attempts in flight
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	waitFor(t, "the live agency's webhooks to be acknowledged", func() bool {
		for i := range live {
			m, err := db.Outbound(ctx, fmt.Sprintf("live/%d", i))
			if err != nil || m.Status != channels.OutboundSent {
				return false
			}
		}
		return true
	})
	for i := range live {
		if _, ok := arrived.Load(fmt.Sprintf("live/%d", i)); !ok {
			t.Errorf("live/%d recorded as sent, never received", i)
		}
	}
	waitFor(t, "the hanging receiver to hold its share", func() bool { return inFlight.Load() == perAgency })
	if got := most.Load(); got > perAgency {
		t.Errorf("the hanging receiver held %d requests at once, want at most %d", got, perAgency)
	}
}

package outbox

import (
	"fmt"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
)

// TestSharedStoreSendsOnce runs two Outboxes, as two instances would, on
// one store and one sender: every message is sent exactly once, and never
// by both at once.
func TestSharedStoreSendsOnce(t *testing.T) {
	store := channelstest.OpenStore(t)
	sender := &fakeSender{}
	boxes := make([]*Outbox, 2)
	for i := range boxes {
		boxes[i] = New(Config{Store: store, Sender: sender, Rate: 5000, Burst: 5000, Workers: 8, Owner: fmt.Sprintf("instance-%d", i), Poll: 5 * time.Millisecond})
		run(t, boxes[i])
	}
	const n = 300
	for i := range n {
		m := &channels.Outbound{Key: fmt.Sprintf("sms/%03d", i), To: fmt.Sprintf("+2547%08d", i), Text: "Your case is in review", Purpose: channels.PurposeNotice}
		if err := boxes[i%2].Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if m := waitFinal(t, store, fmt.Sprintf("sms/%03d", i)); m.Status != channels.OutboundSent {
			t.Errorf("%s: %s (%s)", m.Key, m.Status, m.Reason)
		}
	}
	for i := range n {
		if c := sender.count(fmt.Sprintf("sms/%03d", i)); c != 1 {
			t.Errorf("sms/%03d sent %d times, want once", i, c)
		}
	}
	if len(sender.overlap) > 0 {
		t.Errorf("sent by both at once: %v", sender.overlap)
	}
}

// TestSharedStoreTakesOverAfterLease leaves a message in sending under the
// claim of an instance that died: a live Outbox on the store leaves it
// alone while the claim lasts, and settles it once it has ended, as it
// would after its own crash.
func TestSharedStoreTakesOverAfterLease(t *testing.T) {
	tests := []struct {
		name       string
		atMostOnce bool
		want       channels.OutboundStatus
		sends      int
	}{
		{"a notice is sent again", false, channels.OutboundSent, 1},
		{"a code is failed, not sent twice", true, channels.OutboundFailed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			store := channelstest.OpenStore(t)
			now := time.Now()
			m := &channels.Outbound{Key: "sms/1", To: "+254712345678", Text: "Your code is 482913", Purpose: channels.PurposeOTP, AtMostOnce: tt.atMostOnce,
				Status: channels.OutboundQueued, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
			if err := store.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
			const lease = 600 * time.Millisecond
			claimed, err := store.ClaimOutbound(ctx, channels.KindSMS, "dead", now, now.Add(lease), 1)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v, %v", claimed, err)
			}
			m.Status, m.Attempts, m.Sender = channels.OutboundSending, 1, "fake"
			if err := store.UpdateOutbound(ctx, m); err != nil {
				t.Fatal(err)
			}
			sender := &fakeSender{}
			run(t, New(Config{Store: store, Sender: sender, Rate: 100, Owner: "alive", Lease: lease, Poll: 10 * time.Millisecond}))
			time.Sleep(lease / 2)
			if got, err := store.Outbound(ctx, "sms/1"); err != nil || got.Status != channels.OutboundSending || sender.total() != 0 {
				t.Fatalf("while the dead instance's claim lasts: %v, %v, %d sends; want it left sending", got.Status, err, sender.total())
			}
			got := waitFinal(t, store, "sms/1")
			if got.Status != tt.want || sender.count("sms/1") != tt.sends {
				t.Errorf("after the claim ended: %s (%s), %d sends; want %s, %d", got.Status, got.Reason, sender.count("sms/1"), tt.want, tt.sends)
			}
		})
	}
}

package outbox

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// TestPerRecipientCap queues a backlog for one phone whose every call
// hangs, then a few messages for another: the other's are all sent while
// the first still hangs, and the first never holds more workers than its
// cap.
func TestPerRecipientCap(t *testing.T) {
	const stuck, other = "+254700000001", "+254700000002"
	var inFlight, most atomic.Int64
	hang := make(chan struct{})
	release := sync.OnceFunc(func() { close(hang) })
	sender := &fakeSender{script: func(m *channels.Outbound, _ int) (string, error) {
		if m.To != stuck {
			return "SM-" + m.Key, nil
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-hang
		return "SM-" + m.Key, nil
	}}
	f := newFixture(t, sender, func(c *Config) { c.Workers, c.PerRecipient, c.Poll = 4, 2, time.Hour })
	var ms []*channels.Outbound
	for i := range 200 {
		m := notice(fmt.Sprintf("stuck/%03d", i))
		m.To, m.NextAttempt = stuck, t0.Add(-time.Hour+time.Duration(i)*time.Second)
		ms = append(ms, m)
	}
	for i := range 3 {
		m := notice(fmt.Sprintf("other/%d", i))
		m.To = other
		ms = append(ms, m)
	}
	if err := f.box.Send(t.Context(), ms...); err != nil {
		t.Fatal(err)
	}
	stop := run(t, f.box)
	defer stop()
	defer release() // before stop: Run waits for the calls in flight
	for i := range 3 {
		if m := waitFinal(t, f.store, fmt.Sprintf("other/%d", i)); m.Status != channels.OutboundSent {
			t.Errorf("other/%d: %s, want sent", i, m.Status)
		}
	}
	if got := most.Load(); got > 2 {
		t.Errorf("the hanging phone held %d workers at once, want at most 2", got)
	}
	if m := f.get(t, "stuck/199"); m.Status != channels.OutboundQueued || m.Attempts != 0 {
		t.Errorf("the stuck backlog's last: %s after %d attempts, want still queued, untried", m.Status, m.Attempts)
	}
}

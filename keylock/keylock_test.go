package keylock

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holders counts who holds a key's lock, and how often a holder found
// another one inside with it.
type holders struct {
	inside   atomic.Int32
	overlaps atomic.Int32
	most     atomic.Int32 // the most holders seen inside at once
}

// hold records one holder inside, yields so that others may run, and
// leaves.
func (h *holders) hold() {
	n := h.inside.Add(1)
	if n > 1 {
		h.overlaps.Add(1)
	}
	for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
	}
	for range 3 {
		runtime.Gosched()
	}
	h.inside.Add(-1)
}

// TestOneHolderPerKey has many goroutines take the lock of each of a few
// keys over and over, yielding while they hold it: no holder ever finds
// another inside with it.
func TestOneHolderPerKey(t *testing.T) {
	var l Keys
	keys := []string{"ussd/a", "sms/+254712345678", "otp/x", ""}
	counts := make([]holders, len(keys))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := i % len(keys)
				unlock := l.Lock(keys[k])
				counts[k].hold()
				unlock()
			}
		})
	}
	wg.Wait()
	for k := range counts {
		if n := counts[k].overlaps.Load(); n != 0 {
			t.Errorf("key %q: %d holders found another inside", keys[k], n)
		}
		if m := counts[k].most.Load(); m != 1 {
			t.Errorf("key %q: %d holders at once, want 1", keys[k], m)
		}
	}
}

// TestKeysAreIndependent has goroutines each take the lock of its own key,
// yielding while they hold it: some hold theirs at the same time, which
// one lock for every key would never allow.
func TestKeysAreIndependent(t *testing.T) {
	var l Keys
	var all holders
	var wg sync.WaitGroup
	for g := range 8 {
		key := fmt.Sprintf("session-%d", g)
		wg.Go(func() {
			for range 2000 {
				if all.most.Load() > 1 {
					return
				}
				unlock := l.Lock(key)
				all.hold()
				unlock()
			}
		})
	}
	wg.Wait()
	if m := all.most.Load(); m < 2 {
		t.Errorf("at most %d of 8 keys held at once, want several", m)
	}
}

// TestNestedKeys checks that a holder of one key can lock every other key,
// and that the keys are forgotten once nobody holds them.
func TestNestedKeys(t *testing.T) {
	var l Keys
	outer := l.Lock("kiosk/session")
	for i := range 1000 {
		l.Lock(fmt.Sprintf("phone-%d", i))()
	}
	outer()
	if n := l.Len(); n != 0 {
		t.Errorf("%d keys kept after every holder left, want 0", n)
	}
}

// TestLockKeyGivesUp checks that a wait for a held key ends with its
// context, holding nothing, and that the key is then free for the holder's
// successor.
func TestLockKeyGivesUp(t *testing.T) {
	var l Keys
	unlock := l.Lock("ussd/s1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.LockKey(ctx, "ussd/s1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockKey of a held key = %v, want the deadline", err)
	}
	unlock()
	again, err := l.LockKey(context.Background(), "ussd/s1")
	if err != nil {
		t.Fatal(err)
	}
	again()
	if n := l.Len(); n != 0 {
		t.Errorf("%d keys kept, want 0", n)
	}
}

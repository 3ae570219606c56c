package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// RunInstances checks the contracts that let several processes serve from
// one store: open returns two handles on one fresh store, as two instances
// would hold it (a store that one process alone may hold returns the same
// handle twice). What one handle claims, locks or leads, the other sees.
func RunInstances(t *testing.T, open func(t *testing.T) (a, b channels.Store)) {
	t.Run("ClaimsDisjoint", func(t *testing.T) { testClaimsDisjoint(t, open) })
	t.Run("ClaimLease", func(t *testing.T) { testClaimLease(t, open) })
	t.Run("KeyLocks", func(t *testing.T) { testKeyLocks(t, open) })
	t.Run("Leadership", func(t *testing.T) { testLeadership(t, open) })
	t.Run("RateBuckets", func(t *testing.T) { testRateBuckets(t, open) })
}

// testClaimsDisjoint has eight claimers, half on each handle, claim small
// batches of 200 due messages at once until none is left: every message
// is claimed, and by one claimer only.
func testClaimsDisjoint(t *testing.T, open func(t *testing.T) (a, b channels.Store)) {
	ctx := context.Background()
	a, b := open(t)
	const n = 200
	var ms []*channels.Outbound
	for i := range n {
		ms = append(ms, outbound(fmt.Sprintf("sms/%03d", i), base.Add(time.Duration(i)*time.Millisecond)))
	}
	if err := a.Enqueue(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	now := base.Add(time.Minute)
	var mu sync.Mutex
	owners := map[string]string{}
	var wg sync.WaitGroup
	for g := range 8 {
		s := []channels.Store{a, b}[g%2]
		owner := fmt.Sprintf("instance-%d", g)
		wg.Go(func() {
			for {
				got, err := s.ClaimOutbound(ctx, channels.KindSMS, owner, now, now.Add(time.Minute), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					if prev, ok := owners[m.Key]; ok {
						t.Errorf("%s claimed by %s and %s", m.Key, prev, owner)
					}
					owners[m.Key] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owners) != n {
		t.Errorf("%d messages claimed, want %d", len(owners), n)
	}
}

// testClaimLease walks one message set through claims: sending ones come
// first, a live claim (its owner's too) keeps a message from every other
// claim, an update leaves the claim on, a release or the lease's end lets
// another owner take it.
func testClaimLease(t *testing.T, open func(t *testing.T) (a, b channels.Store)) {
	ctx := context.Background()
	a, b := open(t)
	early, late, future := outbound("early", base), outbound("late", base.Add(time.Second)), outbound("future", base.Add(time.Hour))
	stuck := outbound("stuck", base.Add(time.Hour))
	stuck.Status = channels.OutboundSending
	hook := outbound("hook", base)
	hook.Kind = channels.KindWebhook
	if err := a.Enqueue(ctx, early, late, future, stuck, hook); err != nil {
		t.Fatal(err)
	}
	claim := func(s channels.Store, owner string, now time.Time, lease time.Duration, limit int) []string {
		t.Helper()
		ms, err := s.ClaimOutbound(ctx, channels.KindSMS, owner, now, now.Add(lease), limit)
		if err != nil {
			t.Fatal(err)
		}
		return keys(ms)
	}
	now := base.Add(time.Minute)
	steps := []struct {
		name   string
		change func()
		s      channels.Store
		owner  string
		now    time.Time
		limit  int
		want   []string
	}{
		{"sending first, then due earliest first, up to limit", nil, a, "A", now, 2, []string{"stuck", "early"}},
		{"claimed by a live other are left out", nil, b, "B", now.Add(30 * time.Second), 10, []string{"late"}},
		{"nothing left to claim", nil, a, "A", now.Add(30 * time.Second), 10, nil},
		{"a live claim of the owner's own is not handed out twice", nil, a, "A", now.Add(59 * time.Second), 10, nil},
		{"an update leaves the claim on", func() {
			e := *early
			e.Attempts, e.Reason = 1, "gateway_error"
			if err := a.UpdateOutbound(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}, b, "B", now.Add(59 * time.Second), 10, nil},
		{"a release lets another owner claim it", func() {
			if err := a.ReleaseOutbound(ctx, "A", "early"); err != nil {
				t.Fatal(err)
			}
		}, b, "B", now.Add(59 * time.Second), 10, []string{"early"}},
		{"a release by another owner changes nothing", func() {
			if err := b.ReleaseOutbound(ctx, "B", "stuck"); err != nil {
				t.Fatal(err)
			}
		}, b, "B", now.Add(59 * time.Second), 10, nil},
		{"an expired lease passes to another owner", nil, b, "B", now.Add(time.Minute), 10, []string{"stuck"}},
		{"and the other expired claims with it", nil, a, "C", now.Add(2 * time.Minute), 10, []string{"stuck", "early", "late"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.change != nil {
				st.change()
			}
			if got := claim(st.s, st.owner, st.now, time.Minute, st.limit); !slices.Equal(got, st.want) {
				t.Errorf("claimed %v, want %v", got, st.want)
			}
		})
	}
	if got, err := b.ClaimOutbound(ctx, channels.KindWebhook, "B", now, now.Add(time.Minute), 10); err != nil || !slices.Equal(keys(got), []string{"hook"}) {
		t.Errorf("claimed webhooks %v (%v), want [hook]: each kind is claimed on its own", keys(got), err)
	}
}

// testKeyLocks checks that a key locked through one handle waits on the
// other until unlocked, that other keys do not wait, and that workers on
// both handles never hold one key together.
func testKeyLocks(t *testing.T, open func(t *testing.T) (a, b channels.Store)) {
	ctx := context.Background()
	a, b := open(t)
	unlock, err := a.LockKey(ctx, "ussd/s1")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if u, err := b.LockKey(short, "ussd/s1"); err == nil {
		u()
		t.Error("the key was locked through both handles at once")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a held key: %v, want the context's deadline", err)
	}
	cancel()
	other, err := b.LockKey(ctx, "ussd/s2")
	if err != nil {
		t.Fatalf("another key waited for a held one: %v", err)
	}
	nested, err := b.LockKey(ctx, "sms/+254712345678")
	if err != nil {
		t.Fatalf("a second key under a first: %v", err)
	}
	nested()
	other()
	got := make(chan error, 1)
	go func() {
		u, err := b.LockKey(ctx, "ussd/s1")
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("the key once unlocked: %v", err)
	}

	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		s := []channels.Store{a, b}[g%2]
		wg.Go(func() {
			for range 25 {
				u, err := s.LockKey(ctx, "ussd/busy")
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				u()
			}
		})
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d holders found another inside", n)
	}
}

// testLeadership checks that one handle at a time leads a name, that
// another name is led apart, and that a release passes it on.
func testLeadership(t *testing.T, open func(t *testing.T) (a, b channels.Store)) {
	ctx := context.Background()
	a, b := open(t)
	first, err := a.TryLead(ctx, "notify")
	if err != nil || first == nil {
		t.Fatalf("the first TryLead: %v, %v", first, err)
	}
	if second, err := b.TryLead(ctx, "notify"); err != nil || second != nil {
		t.Fatalf("a second leader of one name: %v, %v", second, err)
	}
	purge, err := b.TryLead(ctx, "purge")
	if err != nil || purge == nil {
		t.Fatalf("another name: %v, %v", purge, err)
	}
	defer purge.Release()
	select {
	case <-first.Lost():
		t.Fatal("a held leadership reports itself lost")
	default:
	}
	first.Release()
	select {
	case <-first.Lost():
	case <-time.After(5 * time.Second):
		t.Error("a released leadership does not report itself lost")
	}
	next, err := b.TryLead(ctx, "notify")
	if err != nil || next == nil {
		t.Fatalf("TryLead after the release: %v, %v", next, err)
	}
	next.Release()
}

// testRateBuckets checks a token bucket taken from through both handles:
// it holds burst tokens, refills one every period, refuses with the wait
// until the next, and gives concurrent takers exactly what it holds.
func testRateBuckets(t *testing.T, open func(t *testing.T) (a, b channels.Store)) {
	ctx := context.Background()
	a, b := open(t)
	const every, burst = time.Minute, 3
	steps := []struct {
		name     string
		s        channels.Store
		key      string
		at       time.Duration
		ok       bool
		wait     time.Duration // with !ok: at most this, more than 0
		exactAt  bool
		wantWait time.Duration
	}{
		{"first", a, "auth/+1", 0, true, 0, false, 0},
		{"second, other handle", b, "auth/+1", 0, true, 0, false, 0},
		{"third", a, "auth/+1", 0, true, 0, false, 0},
		{"over the burst", b, "auth/+1", 0, false, every, true, every},
		{"another key is apart", b, "auth/+2", 0, true, 0, false, 0},
		{"half a period on", a, "auth/+1", every / 2, false, every / 2, true, every / 2},
		{"a period on: one token", a, "auth/+1", every, true, 0, false, 0},
		{"and only one", b, "auth/+1", every, false, every, false, 0},
		{"an earlier clock takes nothing more", b, "auth/+1", every / 2, false, 2 * every, false, 0},
		{"full again after burst periods", a, "auth/+1", 5 * every, true, 0, false, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wait, ok, err := st.s.TakeToken(ctx, st.key, every, burst, base.Add(st.at))
			switch {
			case err != nil:
				t.Fatal(err)
			case ok != st.ok:
				t.Fatalf("ok = %v, want %v", ok, st.ok)
			case !ok && (wait <= 0 || wait > st.wait):
				t.Errorf("wait %v, want in (0, %v]", wait, st.wait)
			case !ok && st.exactAt && (wait < st.wantWait-time.Millisecond || wait > st.wantWait+time.Millisecond):
				t.Errorf("wait %v, want %v", wait, st.wantWait)
			}
		})
	}
	var taken atomic.Int32
	var wg sync.WaitGroup
	for g := range 20 {
		s := []channels.Store{a, b}[g%2]
		wg.Go(func() {
			_, ok, err := s.TakeToken(ctx, "kiosk/amina", time.Hour, 5, base)
			if err != nil {
				t.Error(err)
			}
			if ok {
				taken.Add(1)
			}
		})
	}
	wg.Wait()
	if n := taken.Load(); n != 5 {
		t.Errorf("20 takers at once took %d tokens of 5", n)
	}
	if _, err := a.PurgeSessions(ctx, base.Add(10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.TakeToken(ctx, "kiosk/amina", time.Hour, 5, base.Add(10*time.Hour)); err != nil || !ok {
		t.Errorf("a bucket full again after the purge: %v, %v", ok, err)
	}
}

package auth

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiter checks one key's bucket: Burst at once, then one per Every,
// and a refused request takes nothing.
func TestLimiter(t *testing.T) {
	l := newLimiter(Limit{Every: time.Minute, Burst: 2}, 10)
	steps := []struct {
		name string
		at   time.Duration
		ok   bool
		wait time.Duration
	}{
		{"first", 0, true, 0},
		{"second, the burst", 0, true, 0},
		{"third at once", 0, false, time.Minute},
		{"refused again later", 30 * time.Second, false, 30 * time.Second},
		{"one refilled", time.Minute, true, 0},
		{"empty again", time.Minute, false, time.Minute},
		{"full after a long pause", 10 * time.Minute, true, 0},
		{"and the burst", 10 * time.Minute, true, 0},
	}
	for _, s := range steps {
		wait, ok := l.allow("k", now.Add(s.at))
		if ok != s.ok || wait != s.wait {
			t.Errorf("%s: allow = %v, %v; want %v, %v", s.name, wait, ok, s.wait, s.ok)
		}
	}
}

// TestLimiterBounded floods a limiter with distinct keys: it never holds
// more than its maximum, refuses new keys when full of live ones, and
// forgets the buckets full again, which behave as new.
func TestLimiterBounded(t *testing.T) {
	const max = 100
	l := newLimiter(Limit{Every: time.Second, Burst: 3}, max) // full again 3 s after a request
	at := now
	for i := range 10 * max {
		if i%max == 0 {
			at = at.Add(5 * time.Second) // every earlier bucket is full again
		}
		if _, ok := l.allow(fmt.Sprint("flood-", i), at); !ok {
			t.Fatalf("key %d refused", i)
		}
		if n := l.size(); n > max {
			t.Fatalf("%d keys held, max %d", n, max)
		}
	}
	if n := l.size(); n != max {
		t.Errorf("%d keys held after the flood, want %d", n, max)
	}
	wait, ok := l.allow("one more", at)
	if ok || wait <= 0 {
		t.Errorf("a new key when full of live ones: %v, %v; want refused", wait, ok)
	}
	if _, ok := l.allow("flood-999", at); !ok {
		t.Error("a known key refused while the limiter is full")
	}
	at = at.Add(time.Minute)
	if _, ok := l.allow("one more", at); !ok {
		t.Error("a new key refused after the old ones refilled")
	}
	if n := l.size(); n != 1 {
		t.Errorf("%d keys held after the sweep, want 1", n)
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ name, ip, want string }{
		{"IPv4", "192.0.2.1", "192.0.2.1"},
		{"IPv4 mapped in IPv6", "::ffff:192.0.2.1", "192.0.2.1"},
		{"IPv6 to its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"not an address", "unix", "unix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientKey(tt.ip); got != tt.want {
				t.Errorf("clientKey(%q) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}

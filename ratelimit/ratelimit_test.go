package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

// TestLimiter checks one key's bucket: Burst at once, then one per Every,
// and a refused request takes nothing but is counted.
func TestLimiter(t *testing.T) {
	l := New(Config{Limit: Limit{Every: time.Minute, Burst: 2}, Max: 10})
	steps := []struct {
		name    string
		at      time.Duration
		ok      bool
		wait    time.Duration
		refused uint64
	}{
		{"first", 0, true, 0, 0},
		{"second, the burst", 0, true, 0, 0},
		{"third at once", 0, false, time.Minute, 1},
		{"refused again later", 30 * time.Second, false, 30 * time.Second, 2},
		{"one refilled", time.Minute, true, 0, 2},
		{"empty again", time.Minute, false, time.Minute, 3},
		{"full after a long pause", 10 * time.Minute, true, 0, 3},
		{"and the burst", 10 * time.Minute, true, 0, 3},
	}
	for _, s := range steps {
		wait, ok := l.Allow("k", now.Add(s.at))
		if ok != s.ok || wait != s.wait || l.Refused() != s.refused {
			t.Errorf("%s: Allow = %v, %v, refused %d; want %v, %v, %d", s.name, wait, ok, l.Refused(), s.wait, s.ok, s.refused)
		}
	}
}

// TestLimiterBounded floods a limiter with distinct keys: it never holds
// more than its maximum, refuses new keys when full of live ones, and
// forgets the buckets full again, which behave as new.
func TestLimiterBounded(t *testing.T) {
	const max = 100
	l := New(Config{Limit: Limit{Every: time.Second, Burst: 3}, Max: max}) // full again 3 s after a request
	at := now
	for i := range 10 * max {
		if i%max == 0 {
			at = at.Add(5 * time.Second) // every earlier bucket is full again
		}
		if _, ok := l.Allow(fmt.Sprint("flood-", i), at); !ok {
			t.Fatalf("key %d refused", i)
		}
		if n := l.Size(); n > max {
			t.Fatalf("%d keys held, max %d", n, max)
		}
	}
	if n := l.Size(); n != max {
		t.Errorf("%d keys held after the flood, want %d", n, max)
	}
	wait, ok := l.Allow("one more", at)
	if ok || wait <= 0 {
		t.Errorf("a new key when full of live ones: %v, %v; want refused", wait, ok)
	}
	if _, ok := l.Allow("flood-999", at); !ok {
		t.Error("a known key refused while the limiter is full")
	}
	at = at.Add(time.Minute)
	if _, ok := l.Allow("one more", at); !ok {
		t.Error("a new key refused after the old ones refilled")
	}
	if n := l.Size(); n != 1 {
		t.Errorf("%d keys held after the sweep, want 1", n)
	}
}

// TestLimiterOpenWhenFull: a limiter that fails open lets a new key
// through while full, without remembering it, and still limits the keys
// it holds.
func TestLimiterOpenWhenFull(t *testing.T) {
	l := New(Config{Limit: Limit{Every: time.Hour, Burst: 1}, Max: 2, OpenWhenFull: true})
	for _, k := range []string{"a", "b"} {
		if _, ok := l.Allow(k, now); !ok {
			t.Fatalf("%s refused", k)
		}
	}
	for i := range 3 {
		if _, ok := l.Allow("c", now); !ok {
			t.Errorf("new key c, request %d, refused while full", i)
		}
	}
	if n := l.Size(); n != 2 {
		t.Errorf("%d keys held, want 2", n)
	}
	if _, ok := l.Allow("a", now); ok {
		t.Error("a known key over its limit allowed")
	}
}

func TestLimiterOff(t *testing.T) {
	l := New(Config{})
	for range 1000 {
		if _, ok := l.Allow("k", now); !ok {
			t.Fatal("the zero Limit refused a request")
		}
	}
	if l.Size() != 0 {
		t.Errorf("an unlimited limiter remembers %d keys", l.Size())
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     Limit
		err      bool
	}{
		{"per hour", "20/1h", Limit{Every: 3 * time.Minute, Burst: 20}, false},
		{"per second", "5000/1s", Limit{Every: 200 * time.Microsecond, Burst: 5000}, false},
		{"spaces", " 10 / 15m ", Limit{Every: 90 * time.Second, Burst: 10}, false},
		{"off", "off", Limit{}, false},
		{"no period", "20", Limit{}, true},
		{"zero", "0/1h", Limit{}, true},
		{"bad duration", "20/hour", Limit{}, true},
		{"period shorter than the count", "20/5ns", Limit{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
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
			if got := ClientKey(tt.ip); got != tt.want {
				t.Errorf("ClientKey(%q) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}

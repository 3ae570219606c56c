package auth

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a rate limit of one key (a phone, a client address): a token
// bucket that holds Burst requests and gains one every Every.
type Limit struct {
	Every time.Duration
	Burst int
}

// maxTracked bounds the keys a limiter remembers, so that a flood of
// distinct phones or addresses cannot exhaust memory.
const maxTracked = 100_000

// limiter rate-limits many keys, each with its own bucket. A bucket that
// has been idle long enough to be full again behaves exactly as a new one,
// so it is forgotten at the next sweep: memory follows the keys seen in
// the last refill period, and is capped at max. When max keys are all
// still in use (a flood), new keys are refused until a sweep frees room:
// failing closed spends no SMS for an attacker, while the keys already
// known go on as before.
type limiter struct {
	limit Limit
	max   int

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // the last request
}

func newLimiter(l Limit, max int) *limiter {
	return &limiter{limit: l, max: max, buckets: map[string]*bucket{}}
}

// refill is how long a bucket takes to fill up from empty.
func (l *limiter) refill() time.Duration { return l.limit.Every * time.Duration(max(l.limit.Burst, 1)) }

// allow takes one request of key at now from its bucket, and reports
// whether it was allowed; when not, wait is how long until it would be.
// A refused request takes nothing.
func (l *limiter) allow(key string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			return max(l.nextSweep.Sub(now), time.Second), false
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return l.limit.Every, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep forgets the buckets full again at now, and schedules the next
// sweep: within a refill period, at most a minute away.
func (l *limiter) sweep(now time.Time) {
	full := l.refill()
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	l.nextSweep = now.Add(min(full, time.Minute))
}

// size returns how many keys the limiter remembers.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey is the rate-limit key of a client address: the address itself
// for IPv4, its /64 for IPv6, since one subscriber usually holds a whole
// /64 and could otherwise rotate through it.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return addr.String()
	}
	return p.String()
}

// Limiter rate-limits the requests of many keys (client addresses,
// operators), each with its own bucket of Limit, in bounded memory, as
// Auth limits its own: for the edges that limit an endpoint of their own,
// such as the kiosk console's sign-in. It is safe for concurrent use.
type Limiter struct{ l *limiter }

// NewLimiter returns a Limiter giving each key the bucket l.
func NewLimiter(l Limit) *Limiter { return &Limiter{l: newLimiter(l, maxTracked)} }

// Allow takes one request of key at now, and reports whether it was
// allowed; when not, wait is how long until it would be. A refused
// request takes nothing.
func (l *Limiter) Allow(key string, now time.Time) (wait time.Duration, ok bool) {
	return l.l.allow(key, now)
}

// ClientKey is the key of a client's IP address for a Limiter: the
// address for IPv4, its /64 for IPv6.
func ClientKey(ip string) string { return clientKey(ip) }

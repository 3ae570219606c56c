// Package ratelimit limits the requests of many keys (phones, client
// addresses, operators, gateways), each with its own token bucket, in
// bounded memory. Sign-in, the kiosk console and the gateways' inbound
// traffic all limit through it.
package ratelimit

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a rate limit of one key: a token bucket that holds Burst
// requests and gains one every Every. The zero Limit is no limit.
type Limit struct {
	Every time.Duration
	Burst int
}

// Off reports whether l is no limit.
func (l Limit) Off() bool { return l.Burst <= 0 || l.Every <= 0 }

// Per is the Limit of n requests at once and n in every period d after:
// a bucket of n that gains one every d/n.
func Per(n int, d time.Duration) Limit { return Limit{Every: d / time.Duration(n), Burst: n} }

// Parse reads a Limit written as "N/DURATION" (Per(N, DURATION)), e.g.
// "20/1h" or "5000/1s"; "off" is no limit.
func Parse(s string) (Limit, error) {
	if strings.TrimSpace(s) == "off" {
		return Limit{}, nil
	}
	ns, ds, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err != nil || n < 1 {
		return Limit{}, fmt.Errorf("%q is not N/DURATION (e.g. 20/1h) or off", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(ds))
	if err != nil || d < time.Duration(n) {
		return Limit{}, fmt.Errorf("%q is not N/DURATION (e.g. 20/1h) or off", s)
	}
	return Per(n, d), nil
}

// DefaultMax is the number of keys a Limiter remembers unless told
// otherwise.
const DefaultMax = 100_000

// Config sets up a Limiter.
type Config struct {
	Limit
	// Max bounds the keys remembered, so that a flood of distinct keys
	// cannot exhaust memory; DefaultMax when 0.
	Max int
	// OpenWhenFull lets a new key through, unremembered, while Max keys
	// are all in use, instead of refusing it. Failing closed suits a
	// limit that spends money for whoever floods (sign-in codes);
	// failing open suits one whose keys are real callers that another
	// limit bounds as a whole (the phones a gateway carries).
	OpenWhenFull bool
}

// Limiter rate-limits many keys, each with its own bucket. A bucket that
// has been idle long enough to be full again behaves exactly as a new one,
// so it is forgotten at the next sweep: memory follows the keys seen in
// the last refill period, and is capped at Max. It is safe for concurrent
// use.
type Limiter struct {
	cfg     Config
	refused atomic.Uint64

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // the last request
}

// New returns a Limiter for cfg.
func New(cfg Config) *Limiter {
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	return &Limiter{cfg: cfg, buckets: map[string]*bucket{}}
}

// refill is how long a bucket takes to fill up from empty.
func (l *Limiter) refill() time.Duration {
	return l.cfg.Every * time.Duration(max(l.cfg.Burst, 1))
}

// Allow takes one request of key at now from its bucket, and reports
// whether it was allowed; when not, wait is how long until it would be.
// A refused request takes nothing, and is counted (Refused).
func (l *Limiter) Allow(key string, now time.Time) (wait time.Duration, ok bool) {
	if l.cfg.Off() {
		return 0, true
	}
	wait, ok = l.allow(key, now)
	if !ok {
		l.refused.Add(1)
	}
	return wait, ok
}

func (l *Limiter) allow(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.cfg.Max {
			if l.cfg.OpenWhenFull {
				return 0, true
			}
			return max(l.nextSweep.Sub(now), time.Second), false
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.cfg.Every), l.cfg.Burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return l.cfg.Every, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep forgets the buckets full again at now, and schedules the next
// sweep: within a refill period, at most a minute away.
func (l *Limiter) sweep(now time.Time) {
	full := l.refill()
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	l.nextSweep = now.Add(min(full, time.Minute))
}

// Refused is how many requests the Limiter has refused.
func (l *Limiter) Refused() uint64 { return l.refused.Load() }

// Size is how many keys the Limiter remembers.
func (l *Limiter) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// ClientKey is the key of a client's IP address: the address itself for
// IPv4, its /64 for IPv6, since one subscriber usually holds a whole /64
// and could otherwise rotate through it.
func ClientKey(ip string) string {
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

// Taker takes requests of keys from one limit, wherever its buckets are
// kept: a Limiter keeps them in this process, a Shared in a store that
// several processes share.
type Taker interface {
	// Take takes one request of key at now, as Limiter.Allow does; err
	// when the buckets cannot be read, and then nothing is allowed.
	Take(ctx context.Context, key string, now time.Time) (wait time.Duration, ok bool, err error)
}

// Take is Allow, for a Limiter used as a Taker.
func (l *Limiter) Take(_ context.Context, key string, now time.Time) (time.Duration, bool, error) {
	wait, ok := l.Allow(key, now)
	return wait, ok, nil
}

// TokenStore keeps token buckets for several processes
// (channels.RateStore).
type TokenStore interface {
	TakeToken(ctx context.Context, key string, every time.Duration, burst int, now time.Time) (wait time.Duration, ok bool, err error)
}

// Shared is a Limit whose buckets are kept in a TokenStore under Name, so
// that it holds across the processes sharing the store: a limit on a
// phone's sign-in guesses kept per process would allow as many guesses as
// there are processes.
type Shared struct {
	Store TokenStore
	Name  string // the buckets' keys are Name + "/" + key
	Limit Limit
}

// Take takes one request of key from its bucket in the store.
func (s Shared) Take(ctx context.Context, key string, now time.Time) (time.Duration, bool, error) {
	if s.Limit.Off() {
		return 0, true, nil
	}
	wait, ok, err := s.Store.TakeToken(ctx, s.Name+"/"+key, s.Limit.Every, s.Limit.Burst, now)
	if err != nil {
		return 0, false, fmt.Errorf("ratelimit: %s: %w", s.Name, err)
	}
	return wait, ok, nil
}

// Take returns the Taker of l: Shared in store under name when store is
// not nil, else a Limiter of this process made by cfg with l as its
// Limit.
func Take(store TokenStore, name string, l Limit, cfg Config) Taker {
	if store != nil {
		return Shared{Store: store, Name: name, Limit: l}
	}
	cfg.Limit = l
	return New(cfg)
}

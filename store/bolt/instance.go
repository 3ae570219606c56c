package bolt

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/keylock"
)

// instance is what the one process that holds the data file keeps in
// memory for the contracts several PostgreSQL instances keep in the
// database: key locks, outbox claims, leaderships and rate buckets. The
// file lock makes this process the only one, so memory is the truth, and
// a process that dies takes its claims and leaderships with it, as a
// PostgreSQL session does.
type instance struct {
	locks keylock.Keys

	claimsMu sync.Mutex
	claims   map[string]claim // by outbox key

	leadsMu sync.Mutex
	leads   map[string]bool // names led

	ratesMu   sync.Mutex
	rates     map[string]bucket
	nextSweep time.Time
}

// claim is who holds an outbox message and until when.
type claim struct {
	owner string
	until time.Time
}

// bucket is a token bucket's state: tokens at at, and when it is full
// again (when it can be forgotten).
type bucket struct {
	tokens float64
	at     time.Time
	full   time.Time
}

// LockKey locks key in this process, the only one that serves from the
// file.
func (d *DB) LockKey(ctx context.Context, key string) (func(), error) {
	unlock, err := d.inst.locks.LockKey(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("bolt: lock %s: %w", key, err)
	}
	return unlock, nil
}

// ClaimOutbound claims due messages of kind for owner, in memory.
func (d *DB) ClaimOutbound(_ context.Context, kind, owner string, now, until time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	if limit <= 0 {
		return nil, nil
	}
	d.inst.claimsMu.Lock()
	defer d.inst.claimsMu.Unlock()
	held := func(key string) bool {
		c, ok := d.inst.claims[key]
		return ok && c.until.After(now)
	}
	ms, err := d.due(kind, now, limit, skip, held)
	if err != nil {
		return nil, err
	}
	if d.inst.claims == nil {
		d.inst.claims = map[string]claim{}
	}
	for _, m := range ms {
		d.inst.claims[m.Key] = claim{owner: owner, until: until}
	}
	return ms, nil
}

// ReleaseOutbound ends owner's claims on keys.
func (d *DB) ReleaseOutbound(_ context.Context, owner string, keys ...string) error {
	d.inst.claimsMu.Lock()
	defer d.inst.claimsMu.Unlock()
	for _, k := range keys {
		if c, ok := d.inst.claims[k]; ok && c.owner == owner {
			delete(d.inst.claims, k)
		}
	}
	return nil
}

// TryLead leads name within this process: the first to ask holds it
// until it releases it, and it is never lost.
func (d *DB) TryLead(_ context.Context, name string) (channels.Lead, error) {
	d.inst.leadsMu.Lock()
	defer d.inst.leadsMu.Unlock()
	if d.inst.leads[name] {
		return nil, nil
	}
	if d.inst.leads == nil {
		d.inst.leads = map[string]bool{}
	}
	d.inst.leads[name] = true
	return &memoryLead{db: d, name: name, lost: make(chan struct{})}, nil
}

// memoryLead is a leadership held in memory.
type memoryLead struct {
	db   *DB
	name string
	lost chan struct{}
	once sync.Once
}

func (l *memoryLead) Lost() <-chan struct{} { return l.lost }

func (l *memoryLead) Release() {
	l.once.Do(func() {
		l.db.inst.leadsMu.Lock()
		delete(l.db.inst.leads, l.name)
		l.db.inst.leadsMu.Unlock()
		close(l.lost)
	})
}

// maxBuckets bounds the rate buckets kept in memory; past it, buckets
// not yet full again are kept and new keys are refused until a sweep
// frees room, failing closed as the limits on citizens' codes must.
const maxBuckets = 200_000

// TakeToken takes a token from the bucket key, in memory.
func (d *DB) TakeToken(_ context.Context, key string, every time.Duration, burst int, now time.Time) (time.Duration, bool, error) {
	if every <= 0 || burst <= 0 {
		return 0, true, nil
	}
	d.inst.ratesMu.Lock()
	defer d.inst.ratesMu.Unlock()
	if d.inst.rates == nil {
		d.inst.rates = map[string]bucket{}
	}
	if !now.Before(d.inst.nextSweep) {
		for k, b := range d.inst.rates {
			if !now.Before(b.full) {
				delete(d.inst.rates, k)
			}
		}
		d.inst.nextSweep = now.Add(time.Minute)
	}
	b, ok := d.inst.rates[key]
	if !ok {
		if len(d.inst.rates) >= maxBuckets {
			return time.Until(d.inst.nextSweep), false, nil
		}
		b = bucket{tokens: float64(burst), at: now}
	}
	tokens := refill(b.tokens, b.at, now, every, burst)
	if tokens < 1 {
		return time.Duration(math.Ceil((1 - tokens) * float64(every))), false, nil
	}
	tokens--
	at := b.at
	if now.After(at) {
		at = now
	}
	d.inst.rates[key] = bucket{tokens: tokens, at: at, full: at.Add(time.Duration((float64(burst) - tokens) * float64(every)))}
	return 0, true, nil
}

// refill is how many tokens a bucket that held tokens at at holds at now.
func refill(tokens float64, at, now time.Time, every time.Duration, burst int) float64 {
	if now.After(at) {
		tokens += float64(now.Sub(at)) / float64(every)
	}
	return math.Min(tokens, float64(burst))
}

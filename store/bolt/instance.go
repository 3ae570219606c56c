package bolt

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/keylock"
	"github.com/govchannels/channels/ratelimit"
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

	ratesMu sync.Mutex
	rates   map[ratelimit.Limit]*ratelimit.Limiter // one per limit asked for
}

// claim is who holds an outbox message and until when.
type claim struct {
	owner string
	until time.Time
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

// TakeToken takes a token from the bucket key, in memory: a
// ratelimit.Limiter per limit asked for.
func (d *DB) TakeToken(_ context.Context, key string, every time.Duration, burst int, now time.Time) (time.Duration, bool, error) {
	lim := ratelimit.Limit{Every: every, Burst: burst}
	if lim.Off() {
		return 0, true, nil
	}
	d.inst.ratesMu.Lock()
	l := d.inst.rates[lim]
	if l == nil {
		if d.inst.rates == nil {
			d.inst.rates = map[ratelimit.Limit]*ratelimit.Limiter{}
		}
		l = ratelimit.New(ratelimit.Config{Limit: lim, Max: maxBuckets})
		d.inst.rates[lim] = l
	}
	d.inst.ratesMu.Unlock()
	wait, ok := l.Allow(key, now)
	return wait, ok, nil
}

// Package keylock serializes the work on one key (a session, a phone, a
// message) without a mutex per key: a fixed set of stripes, each key hashed
// to one. Two keys may share a stripe and then wait for each other, briefly
// and rarely. It holds within one process only.
package keylock

import (
	"context"
	"sync"
)

// Locks is a set of stripes; the zero value is ready to use.
type Locks struct {
	stripes [256]sync.Mutex
}

// Lock locks the stripe of key and returns its unlock.
func (l *Locks) Lock(key string) (unlock func()) {
	hash := uint32(2166136261) // FNV-1a
	for i := 0; i < len(key); i++ {
		hash ^= uint32(key[i])
		hash *= 16777619
	}
	m := &l.stripes[hash%uint32(len(l.stripes))]
	m.Lock()
	return m.Unlock
}

// Keys locks each key on its own mutex, made when first locked and
// dropped when its last holder and waiter leave: two keys never wait for
// each other, so a holder of one key may lock another (a kiosk session,
// then a citizen's phone) without the risk of finding it on its own
// stripe. The zero value is ready to use.
type Keys struct {
	mu   sync.Mutex
	keys map[string]*entry
}

// entry is the lock of one key, a channel of one slot, and how many hold
// or wait for it.
type entry struct {
	slot chan struct{}
	refs int
}

// Lock locks key and returns its unlock, which must be called once.
func (k *Keys) Lock(key string) (unlock func()) {
	unlock, _ = k.LockContext(context.Background(), key)
	return unlock
}

// LockContext locks key as Lock does, unless ctx ends first: then it
// returns ctx's error and holds nothing.
func (k *Keys) LockContext(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]*entry{}
	}
	e := k.keys[key]
	if e == nil {
		e = &entry{slot: make(chan struct{}, 1)}
		k.keys[key] = e
	}
	e.refs++
	k.mu.Unlock()
	leave := func() {
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.keys, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.slot <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	return func() {
		<-e.slot
		leave()
	}, nil
}

// Len is how many keys are held or waited for.
func (k *Keys) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}

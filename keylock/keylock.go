// Package keylock serializes the work on one key (a session, a phone, a
// message) within one process, each key on a lock of its own that lives
// while somebody holds or waits for it. The stores build their KeyLocker
// on it (store/postgres adds an advisory lock in the database), and the
// edges fall back on it when given none.
package keylock

import (
	"context"
	"sync"
)

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
	unlock, _ = k.LockKey(context.Background(), key)
	return unlock
}

// LockKey locks key as Lock does, unless ctx ends first: then it
// returns ctx's error and holds nothing.
func (k *Keys) LockKey(ctx context.Context, key string) (unlock func(), err error) {
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

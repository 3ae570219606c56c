// Package keylock serializes the work on one key (a session, a phone, a
// message) without a mutex per key: a fixed set of stripes, each key hashed
// to one. Two keys may share a stripe and then wait for each other, briefly
// and rarely. It holds within one process only.
package keylock

import "sync"

// Locks is a set of stripes; the zero value is ready to use.
type Locks struct {
	stripes [4096]sync.Mutex
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

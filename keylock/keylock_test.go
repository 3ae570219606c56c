package keylock

import (
	"sync"
	"testing"
)

// TestSerializes counts, under -race, with a plain int per key: without
// the lock the increments of one key would race and be lost.
func TestSerializes(t *testing.T) {
	var l Locks
	keys := []string{"ussd/a", "sms/+254712345678", "otp/x", ""}
	counts := make([]int, len(keys))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				k := i % len(keys)
				unlock := l.Lock(keys[k])
				counts[k]++
				unlock()
			}
		}()
	}
	wg.Wait()
	for k, n := range counts {
		if n != 8*1000/len(keys) {
			t.Errorf("key %q counted %d, want %d", keys[k], n, 8*1000/len(keys))
		}
	}
}

func TestOtherKeysDoNotWait(t *testing.T) {
	var l Locks
	unlock := l.Lock("a")
	defer unlock()
	// "b" hashes to another stripe: locking it must not block.
	done := make(chan struct{})
	go func() { l.Lock("b")(); close(done) }()
	<-done
}

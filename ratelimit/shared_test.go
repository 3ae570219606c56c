package ratelimit_test

import (
	"testing"
	"time"

	"github.com/govchannels/channels/ratelimit"
	"github.com/govchannels/channels/store/bolt"
)

// TestShared checks that the Takers of one name on one store share their
// buckets, as two instances would, that other names and keys are apart,
// and that without a store Take keeps the limit in the process.
func TestShared(t *testing.T) {
	db, err := bolt.Open(t.TempDir()+"/data.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	limit := ratelimit.Per(2, time.Hour)
	a := ratelimit.Take(db, "auth/guesses", limit, ratelimit.Config{})
	b := ratelimit.Take(db, "auth/guesses", limit, ratelimit.Config{})
	other := ratelimit.Take(db, "auth/codes", limit, ratelimit.Config{})
	local := ratelimit.Take(nil, "auth/guesses", limit, ratelimit.Config{})
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		name string
		t    ratelimit.Taker
		key  string
		ok   bool
	}{
		{"first", a, "+254712345678", true},
		{"second, the other taker", b, "+254712345678", true},
		{"third, over the limit on either", a, "+254712345678", false},
		{"another key", b, "+254712345679", true},
		{"another name", other, "+254712345678", true},
		{"in the process, apart from the store", local, "+254712345678", true},
	}
	for _, st := range steps {
		_, ok, err := st.t.Take(t.Context(), st.key, now)
		if err != nil || ok != st.ok {
			t.Errorf("%s: ok = %v (%v), want %v", st.name, ok, err, st.ok)
		}
	}
	if _, isLocal := local.(*ratelimit.Limiter); !isLocal {
		t.Errorf("Take without a store is a %T, want a *Limiter", local)
	}
}

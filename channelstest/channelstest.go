// Package channelstest holds what the tests of several packages share: the
// shipped engine, a store on a temporary file, a clock tests move by hand
// and a log sink they read back. It is imported by tests only.
package channelstest

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/store/bolt"
)

// Clock is a clock that stands still until a test moves it; safe for the
// concurrent requests of a server under test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock showing at.
func NewClock(at time.Time) *Clock { return &Clock{now: at} }

// Now returns the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// LogBuffer collects what a server logs, for tests that check its lines;
// safe for concurrent writers.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Shipped returns the shipped catalog's engine, reading the date from
// clock, and the shipped messages: what cmd/channels runs, in region KE.
func Shipped(t testing.TB, clock func() time.Time) (*flows.Engine, *locales.Bundle) {
	t.Helper()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: "KE", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return engine, bundle
}

// OpenStore opens the bbolt store on a fresh file under t.TempDir, with a
// short batch window so that sequential tests do not wait, and closes it
// when the test ends.
func OpenStore(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "channels.db"), bolt.Options{BatchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

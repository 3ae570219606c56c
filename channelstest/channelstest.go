// Package channelstest holds helpers that the tests of several packages
// share: a clock tests move by hand and a log sink they read back. It is
// imported by tests only.
package channelstest

import (
	"bytes"
	"sync"
	"time"
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

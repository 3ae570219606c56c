package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
)

// flakyLeadership fails its first fails asks, then grants the leadership.
type flakyLeadership struct {
	mu    sync.Mutex
	fails int
}

type grantedLead struct{ lost chan struct{} }

func (g grantedLead) Lost() <-chan struct{} { return g.lost }
func (g grantedLead) Release()              {}

func (f *flakyLeadership) TryLead(context.Context, string) (channels.Lead, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("connection refused")
	}
	return grantedLead{lost: make(chan struct{})}, nil
}

// TestLeadLogsAnOutageOnce: while asking for the leadership fails (the
// database is down), the first failure is a warning and the others debug,
// so an outage does not flood the log; the recovery is said, and the work
// then runs.
func TestLeadLogsAnOutageOnce(t *testing.T) {
	logs := &channelstest.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		leadEvery(ctx, &flakyLeadership{fails: 4}, "purge", log, time.Millisecond, func(ctx context.Context) {
			close(ran)
			<-ctx.Done()
		})
	}()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatalf("the work never ran:\n%s", logs)
	}
	cancel()
	<-done
	out := logs.String()
	for _, want := range []struct {
		level string
		n     int
	}{{"level=WARN msg=\"cannot ask for the leadership\"", 1}, {"level=DEBUG msg=\"cannot ask for the leadership\"", 3}, {"level=INFO msg=\"can ask for the leadership again\"", 1}, {"level=INFO msg=leading", 1}} {
		if got := strings.Count(out, want.level); got != want.n {
			t.Errorf("%d lines %s, want %d:\n%s", got, want.level, want.n, out)
		}
	}
}

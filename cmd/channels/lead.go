package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/govchannels/channels"
)

// leadRetry is how often an instance that does not lead a piece of work
// asks again: how long the work may pause after its leader died.
const leadRetry = 3 * time.Second

// lead runs work while this process leads name among the instances
// sharing store, and asks for the leadership every leadRetry while another
// holds it, until ctx ends. Work whose leadership is lost (the database
// went away) has its context ended and is started again once this process
// leads again. With bbolt, the one process always leads.
func lead(ctx context.Context, store channels.Leadership, name string, log *slog.Logger, work func(context.Context)) {
	leadEvery(ctx, store, name, log, leadRetry, work)
}

// leadEvery is lead, asking every retry. A failure to ask is logged at
// warn once, and at debug while it lasts (the database is down: the guard
// logs the outage), then the recovery at info.
func leadEvery(ctx context.Context, store channels.Leadership, name string, log *slog.Logger, retry time.Duration, work func(context.Context)) {
	failing := false // asking failed last time: said once, not every leadRetry of an outage
	for {
		l, err := store.TryLead(ctx, name)
		switch {
		case err != nil && ctx.Err() == nil:
			level := slog.LevelWarn
			if failing {
				level = slog.LevelDebug
			}
			log.Log(ctx, level, "cannot ask for the leadership", "work", name, "err", err)
			failing = true
		case err == nil && failing:
			log.Info("can ask for the leadership again", "work", name)
			failing = false
		}
		if l != nil {
			log.Info("leading", "work", name)
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				work(wctx)
			}()
			select {
			case <-l.Lost():
				log.Warn("leadership lost; another instance takes over", "work", name)
			case <-ctx.Done():
			case <-done:
			}
			cancel()
			<-done
			l.Release()
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// instanceName names this process in the claims it makes on the outbox:
// the host, the process ID and a random suffix, unique even when a
// restarted container reuses both.
func instanceName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "channels"
	}
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

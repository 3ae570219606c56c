package outbox

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
)

// countingSender accepts everything at once and counts what it took.
type countingSender struct{ n atomic.Int64 }

func (s *countingSender) Name() string { return "noop" }

func (s *countingSender) Send(context.Context, *channels.Outbound) (string, error) {
	s.n.Add(1)
	return "", nil
}

// BenchmarkEnqueueDispatch measures how many messages per second go from
// Send to sent through the bolt store (its share of a batched enqueue,
// then two fsynced updates, which concurrent workers share) when the
// gateway and the rate limit cost nothing.
//
//	go test -run '^$' -bench EnqueueDispatch ./outbox
func BenchmarkEnqueueDispatch(b *testing.B) {
	store := channelstest.OpenStore(b)
	sender := &countingSender{}
	box := New(Config{Store: store, Sender: sender, Rate: 1e9, Burst: 1 << 20, Workers: 16})
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- box.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	const batch = 100
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += batch {
		ms := make([]*channels.Outbound, 0, batch)
		for j := i; j < min(i+batch, b.N); j++ {
			// A burst of notices to many citizens, as a batch of status
			// changes makes: one phone's messages go one at a time.
			m := notice(fmt.Sprintf("bench/%d", j))
			m.To = fmt.Sprintf("+2547%08d", j)
			ms = append(ms, m)
		}
		if err := box.Send(ctx, ms...); err != nil {
			b.Fatal(err)
		}
	}
	for sender.n.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkRateLimit queues more messages than can go in 10 seconds at a
// rate of 50 per second, lets Run send for 10 seconds and reports the rate
// it achieved and its ratio to the configured one (near 1; a little over,
// since the first message needs no token to wait for). It asserts nothing
// about timing. It takes 10 seconds per run, so -short skips it:
//
//	go test -run '^$' -bench RateLimit ./outbox
func BenchmarkRateLimit(b *testing.B) {
	if testing.Short() {
		b.Skip("takes 10 seconds")
	}
	const (
		configured = 50.0
		window     = 10 * time.Second
	)
	var achieved float64
	for range b.N {
		store := channelstest.OpenStore(b)
		sender := &countingSender{}
		box := New(Config{Store: store, Sender: sender, Rate: configured, Burst: 1})
		ms := make([]*channels.Outbound, 2*int(configured*window.Seconds()))
		for i := range ms {
			ms[i] = notice(fmt.Sprintf("rate/%d", i))
		}
		if err := box.Send(b.Context(), ms...); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), window)
		start := time.Now()
		if err := box.Run(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		achieved = float64(sender.n.Load()) / time.Since(start).Seconds()
	}
	b.ReportMetric(achieved, "msgs/s")
	b.ReportMetric(achieved/configured, "achieved/configured")
}

// BenchmarkStoreBaseline is the durable work BenchmarkEnqueueDispatch
// cannot avoid, without the outbox: the same batched enqueues, then 16
// goroutines making each message's two fsynced updates (sending, sent).
// The ratio of the two is what the dispatcher costs over its store.
//
//	go test -run '^$' -bench 'EnqueueDispatch|StoreBaseline' -count 3 ./outbox
func BenchmarkStoreBaseline(b *testing.B) {
	store := channelstest.OpenStore(b)
	ctx := b.Context()
	keys := make(chan *channels.Outbound, 1024)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range keys {
				m.Status = channels.OutboundSending
				if err := store.UpdateOutbound(ctx, m); err != nil {
					b.Error(err)
				}
				m.Status = channels.OutboundSent
				if err := store.UpdateOutbound(ctx, m); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	const batch = 100
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += batch {
		ms := make([]*channels.Outbound, 0, batch)
		for j := i; j < min(i+batch, b.N); j++ {
			m := notice(fmt.Sprintf("bench/%d", j))
			m.Status = channels.OutboundQueued
			ms = append(ms, m)
		}
		if err := store.Enqueue(ctx, ms...); err != nil {
			b.Fatal(err)
		}
		for _, m := range ms {
			keys <- m
		}
	}
	close(keys)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

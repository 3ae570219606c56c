package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/store/bolt"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// fakeSender records every message handed to it and answers with script,
// given the message and how many times its key was sent before (0 on the
// first call). It flags any key handed to it twice at once.
type fakeSender struct {
	name   string // "fake" when empty
	script func(m *channels.Outbound, n int) (string, error)
	called chan string // receives each key sent, when not nil

	mu       sync.Mutex
	calls    []channels.Outbound
	perKey   map[string]int
	inFlight map[string]bool
	overlap  []string
}

func (s *fakeSender) Name() string {
	if s.name == "" {
		return "fake"
	}
	return s.name
}

func (s *fakeSender) Send(_ context.Context, m *channels.Outbound) (string, error) {
	s.mu.Lock()
	if s.perKey == nil {
		s.perKey, s.inFlight = map[string]int{}, map[string]bool{}
	}
	if s.inFlight[m.Key] {
		s.overlap = append(s.overlap, m.Key)
	}
	n := s.perKey[m.Key]
	s.perKey[m.Key]++
	s.inFlight[m.Key] = true
	s.calls = append(s.calls, *m)
	s.mu.Unlock()

	id, err := "SM-"+m.Key, error(nil)
	if s.script != nil {
		id, err = s.script(m, n)
	}
	s.mu.Lock()
	s.inFlight[m.Key] = false
	s.mu.Unlock()
	if s.called != nil {
		s.called <- m.Key
	}
	return id, err
}

// ctxSender is a fakeSender that, like a real gateway client, gives up
// when its context ends before the answer: it records whether it did.
type ctxSender struct {
	fakeSender
	canceled atomic.Bool
}

func (s *ctxSender) Send(ctx context.Context, m *channels.Outbound) (string, error) {
	id, err := s.fakeSender.Send(ctx, m)
	if ctx.Err() != nil {
		s.canceled.Store(true)
		return "", ctx.Err()
	}
	return id, err
}

func (s *fakeSender) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perKey[key]
}

func (s *fakeSender) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// fixture is an Outbox on a fresh bolt store with a hand-moved clock and a
// sender fast enough that the rate limiter never waits.
type fixture struct {
	store  *bolt.DB
	clock  *channelstest.Clock
	sender *fakeSender
	box    *Outbox
	logs   *channelstest.LogBuffer
}

func newFixture(t *testing.T, sender *fakeSender, tweak func(*Config)) *fixture {
	t.Helper()
	f := &fixture{store: channelstest.OpenStore(t), clock: channelstest.NewClock(t0), sender: sender, logs: &channelstest.LogBuffer{}}
	cfg := Config{
		Store: f.store, Prefs: f.store, Sender: sender,
		Rate: 1e6, Burst: 1000,
		Backoff: time.Second, MaxBackoff: 8 * time.Second,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: f.clock.Now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	f.box = New(cfg)
	return f
}

// step makes one dispatch pass over the messages due now, one at a time,
// as Run's workers would: a deterministic stand-in for Run.
func (f *fixture) step(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	var ms []*channels.Outbound
	for _, kind := range kinds {
		now := f.clock.Now()
		due, err := f.store.ClaimOutbound(ctx, kind, f.box.cfg.Owner, now, now.Add(f.box.cfg.Lease), 1000)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, due...)
	}
	for _, m := range ms {
		if !f.box.claim(m) {
			t.Fatalf("%s is claimed outside Run", m.Key)
		}
		f.box.process(ctx, job{key: m.Key, until: time.Now().Add(f.box.cfg.Lease)})
		f.box.release(m.Key)
	}
}

func (f *fixture) get(t *testing.T, key string) *channels.Outbound {
	t.Helper()
	m, err := f.store.Outbound(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run starts Run and returns a func that stops it and waits for it.
func run(t *testing.T, box *Outbox) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- box.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFinal waits for the message with key to reach a final status, for
// the tests that drive Run and have no sender call to wait on.
func waitFinal(t *testing.T, s channels.OutboxStore, key string) *channels.Outbound {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, err := s.Outbound(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status.Final() {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s after 5s", key, m.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func otp(key string) *channels.Outbound {
	return &channels.Outbound{Key: key, To: "+254712345678", Text: "Your code is 482913", Purpose: channels.PurposeOTP, AtMostOnce: true}
}

func notice(key string) *channels.Outbound {
	return &channels.Outbound{Key: key, To: "+254712345678", Text: "Your case moved", Purpose: channels.PurposeNotice}
}

var errUnavailable = errors.New("503 service unavailable")

func TestDispatch(t *testing.T) {
	tests := []struct {
		name     string
		msg      *channels.Outbound
		tweak    func(*Config)
		optedOut bool
		script   func(m *channels.Outbound, n int) (string, error)
		// sendTwice sends a second message with the same key and
		// another text.
		sendTwice bool
		// rounds is how many dispatch passes run, the clock moving by
		// MaxBackoff between them so that any retry is due.
		rounds int
		// between checks the message after each pass but the last.
		between func(t *testing.T, m *channels.Outbound, now time.Time)

		status     channels.OutboundStatus
		reason     string
		attempts   int
		providerID string
		calls      int
	}{
		{
			name: "sent", msg: otp("otp/1"), rounds: 2,
			status: channels.OutboundSent, attempts: 1, providerID: "SM-otp/1", calls: 1,
		},
		{
			name: "retryable error then sent", msg: notice("n/1"), rounds: 2,
			script: func(_ *channels.Outbound, n int) (string, error) {
				if n == 0 {
					return "", errUnavailable
				}
				return "SM-2", nil
			},
			between: func(t *testing.T, m *channels.Outbound, now time.Time) {
				if m.Status != channels.OutboundQueued || m.Attempts != 1 || m.Reason != "gateway_error" {
					t.Errorf("after the error: status %s, attempts %d, reason %q; want queued, 1, gateway_error", m.Status, m.Attempts, m.Reason)
				}
				if d := m.NextAttempt.Sub(now); d < 0 || d > time.Second {
					t.Errorf("retry in %v, want within [0, 1s] (Backoff)", d)
				}
			},
			status: channels.OutboundSent, attempts: 2, providerID: "SM-2", calls: 2,
		},
		{
			name: "permanent error", msg: notice("n/1"), rounds: 3,
			script: func(*channels.Outbound, int) (string, error) {
				return "", Permanent("invalid_number", errors.New("21211 invalid 'To' number"))
			},
			status: channels.OutboundFailed, reason: "invalid_number", attempts: 1, calls: 1,
		},
		{
			name: "gave up after MaxAttempts", msg: notice("n/1"), rounds: 6,
			tweak: func(c *Config) { c.MaxAttempts = 4 },
			script: func(*channels.Outbound, int) (string, error) {
				return "", errUnavailable
			},
			between: func(t *testing.T, m *channels.Outbound, now time.Time) {
				if m.Status != channels.OutboundQueued {
					return
				}
				// Backoff 1s doubling per attempt, capped at 8s.
				ceiling := min(time.Second<<(m.Attempts-1), 8*time.Second)
				if d := m.NextAttempt.Sub(now); d < 0 || d > ceiling {
					t.Errorf("after attempt %d: retry in %v, want within [0, %v]", m.Attempts, d, ceiling)
				}
			},
			status: channels.OutboundFailed, reason: ReasonGaveUp, attempts: 4, calls: 4,
		},
		{
			name: "opted-out recipient", msg: notice("n/1"), optedOut: true, rounds: 2,
			status: channels.OutboundFailed, reason: ReasonOptedOut, attempts: 0, calls: 0,
		},
		{
			name: "opted-out recipient still gets the opt-out confirmation", optedOut: true, rounds: 1,
			msg:    &channels.Outbound{Key: "stop/1", To: "+254712345678", Text: "You will get no more SMS. Send START to undo.", Purpose: channels.PurposeOptOut},
			status: channels.OutboundSent, attempts: 1, providerID: "SM-stop/1", calls: 1,
		},
		{
			name: "expired before the first attempt", rounds: 1,
			msg: func() *channels.Outbound {
				m := otp("otp/1")
				m.ExpiresAt = t0
				return m
			}(),
			status: channels.OutboundFailed, reason: ReasonExpired, attempts: 0, calls: 0,
		},
		{
			name: "expired while waiting to retry", rounds: 3,
			msg: func() *channels.Outbound {
				m := otp("otp/1")
				m.ExpiresAt = t0.Add(5 * time.Second) // before the next pass
				return m
			}(),
			script: func(*channels.Outbound, int) (string, error) { return "", errUnavailable },
			status: channels.OutboundFailed, reason: ReasonExpired, attempts: 1, calls: 1,
		},
		{
			name: "same key sent twice goes once", msg: otp("otp/1"), sendTwice: true, rounds: 2,
			status: channels.OutboundSent, attempts: 1, providerID: "SM-otp/1", calls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			sender := &fakeSender{script: tt.script}
			f := newFixture(t, sender, tt.tweak)
			if tt.optedOut {
				if err := f.store.PutPrefs(ctx, tt.msg.To, channels.Prefs{OptedOut: true}); err != nil {
					t.Fatal(err)
				}
			}
			text := tt.msg.Text
			if err := f.box.Send(ctx, tt.msg); err != nil {
				t.Fatal(err)
			}
			if tt.sendTwice {
				again := *tt.msg
				again.Text = "Your code is 000000"
				if err := f.box.Send(ctx, &again); err != nil {
					t.Fatal(err)
				}
			}
			for i := range tt.rounds {
				f.step(t)
				if i < tt.rounds-1 {
					if tt.between != nil {
						tt.between(t, f.get(t, tt.msg.Key), f.clock.Now())
					}
					f.clock.Add(f.box.cfg.MaxBackoff)
				}
			}
			m := f.get(t, tt.msg.Key)
			if m.Status != tt.status || m.Reason != tt.reason || m.Attempts != tt.attempts || m.ProviderID != tt.providerID {
				t.Errorf("got status %s, reason %q, attempts %d, provider ID %q; want %s, %q, %d, %q",
					m.Status, m.Reason, m.Attempts, m.ProviderID, tt.status, tt.reason, tt.attempts, tt.providerID)
			}
			if got := sender.count(tt.msg.Key); got != tt.calls {
				t.Errorf("sender called %d times, want %d", got, tt.calls)
			}
			for _, c := range sender.calls {
				if c.Text != text {
					t.Errorf("sender got text %q, want the first Send's %q", c.Text, text)
				}
				if c.Status != channels.OutboundSending || c.Sender != "fake" {
					t.Errorf("sender got a message in status %s from sender %q; want it marked sending by fake first", c.Status, c.Sender)
				}
			}
			if tt.calls > 0 && m.Sender != "fake" {
				t.Errorf("Sender = %q, want fake", m.Sender)
			}
		})
	}
}

// TestMarkedSendingBeforeGateway checks that the attempt is durable before
// the gateway sees the message: the stored record already says sending,
// with the attempt counted.
func TestMarkedSendingBeforeGateway(t *testing.T) {
	var f *fixture
	var seen *channels.Outbound
	sender := &fakeSender{script: func(m *channels.Outbound, _ int) (string, error) {
		got, err := f.store.Outbound(context.Background(), m.Key)
		if err != nil {
			return "", err
		}
		seen = got
		return "SM1", nil
	}}
	f = newFixture(t, sender, nil)
	if err := f.box.Send(t.Context(), otp("otp/1")); err != nil {
		t.Fatal(err)
	}
	f.step(t)
	if seen == nil || seen.Status != channels.OutboundSending || seen.Attempts != 1 || seen.Sender != "fake" {
		t.Fatalf("stored during the gateway call: %+v; want sending, attempt 1, sender fake", seen)
	}
}

func TestRecoverInterrupted(t *testing.T) {
	tests := []struct {
		name     string
		msg      *channels.Outbound
		status   channels.OutboundStatus
		reason   string
		attempts int
		calls    int
	}{
		{"at most once fails unsent", otp("otp/1"), channels.OutboundFailed, ReasonOutcomeUnknown, 1, 0},
		{"at least once is sent again", notice("n/1"), channels.OutboundSent, "", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sender := &fakeSender{}
			f := newFixture(t, sender, nil)
			m := tt.msg
			m.Status, m.Attempts, m.Sender, m.NextAttempt = channels.OutboundSending, 1, "fake", t0
			if err := f.store.Enqueue(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			run(t, f.box)
			got := waitFinal(t, f.store, m.Key)
			if got.Status != tt.status || got.Reason != tt.reason || got.Attempts != tt.attempts {
				t.Errorf("got %s, reason %q, attempts %d; want %s, %q, %d", got.Status, got.Reason, got.Attempts, tt.status, tt.reason, tt.attempts)
			}
			if n := sender.count(m.Key); n != tt.calls {
				t.Errorf("sender called %d times, want %d", n, tt.calls)
			}
		})
	}
}

// TestCrashAfterGatewayCall kills the process, in effect, between the
// gateway taking a message and the outbox recording it: the sender closes
// the store before returning, so the outcome cannot be written. A new
// Outbox on the reopened file must not send the code again, and must send
// anything else again.
func TestCrashAfterGatewayCall(t *testing.T) {
	tests := []struct {
		name   string
		msg    *channels.Outbound
		status channels.OutboundStatus
		reason string
		calls  int // across both processes
	}{
		{"one-time code is not sent twice", otp("otp/1"), channels.OutboundFailed, ReasonOutcomeUnknown, 1},
		{"notice is sent again", notice("n/1"), channels.OutboundSent, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "channels.db")
			open := func() *bolt.DB {
				db, err := bolt.Open(path, bolt.Options{BatchDelay: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			var calls sync.WaitGroup
			calls.Add(1)
			var total int
			var mu sync.Mutex
			count := func() { mu.Lock(); total++; mu.Unlock() }

			// First life: the gateway takes the message, then the
			// process dies before anything more is written.
			db := open()
			crash := &fakeSender{script: func(*channels.Outbound, int) (string, error) {
				count()
				if err := db.Close(); err != nil {
					t.Error(err)
				}
				calls.Done()
				return "SM1", nil
			}}
			first := New(Config{Store: db, Prefs: db, Sender: crash, Rate: 1000, Poll: time.Hour})
			if err := first.Send(t.Context(), tt.msg); err != nil {
				t.Fatal(err)
			}
			stop := run(t, first)
			calls.Wait()
			stop()

			// Second life, on the same file.
			db = open()
			t.Cleanup(func() { db.Close() })
			survivor := &fakeSender{script: func(*channels.Outbound, int) (string, error) {
				count()
				return "SM2", nil
			}}
			run(t, New(Config{Store: db, Prefs: db, Sender: survivor, Rate: 1000, Poll: time.Hour}))
			got := waitFinal(t, db, tt.msg.Key)
			if got.Status != tt.status || got.Reason != tt.reason {
				t.Errorf("after restart: %s, reason %q; want %s, %q", got.Status, got.Reason, tt.status, tt.reason)
			}
			mu.Lock()
			defer mu.Unlock()
			if total != tt.calls {
				t.Errorf("gateway called %d times in all, want %d", total, tt.calls)
			}
		})
	}
}

// TestRunWakesOnSend checks that Send starts a dispatch at once rather than
// at the next poll, which here never comes.
func TestRunWakesOnSend(t *testing.T) {
	sender := &fakeSender{called: make(chan string, 1)}
	f := newFixture(t, sender, func(c *Config) { c.Poll = time.Hour })
	run(t, f.box)
	if err := f.box.Send(t.Context(), otp("otp/1")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sender.called:
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not wake Run")
	}
	if m := waitFinal(t, f.store, "otp/1"); m.Status != channels.OutboundSent {
		t.Errorf("status %s, want sent", m.Status)
	}
}

// TestRunSendsEachOnce runs many messages through many workers with a poll
// so frequent that every message is listed as due again while in flight:
// each must still reach the gateway once, never two workers at a time.
func TestRunSendsEachOnce(t *testing.T) {
	const n = 300
	// Each call lasts a moment, so that polls find messages in flight.
	sender := &fakeSender{script: func(m *channels.Outbound, _ int) (string, error) {
		time.Sleep(time.Millisecond)
		return "SM-" + m.Key, nil
	}}
	f := newFixture(t, sender, func(c *Config) {
		c.Workers, c.Poll, c.Now = 16, time.Millisecond, time.Now
	})
	ms := make([]*channels.Outbound, n)
	for i := range ms {
		ms[i] = notice(fmt.Sprintf("n/%d", i))
	}
	run(t, f.box)
	for i := 0; i < n; i += 50 {
		if err := f.box.Send(t.Context(), ms[i:i+50]...); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		if got := waitFinal(t, f.store, m.Key); got.Status != channels.OutboundSent || got.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, want sent after 1", m.Key, got.Status, got.Attempts)
		}
	}
	if total := sender.total(); total != n {
		t.Errorf("gateway called %d times for %d messages", total, n)
	}
	if len(sender.overlap) > 0 {
		t.Errorf("handed to two workers at once: %v", sender.overlap)
	}
}

// TestShutdownRecordsAttemptInFlight stops Run while the gateway is
// answering: the answer must still be recorded, or a one-time code would be
// failed as outcome_unknown at the next start.
func TestShutdownRecordsAttemptInFlight(t *testing.T) {
	entered, answer := make(chan struct{}), make(chan struct{})
	sender := &ctxSender{fakeSender: fakeSender{script: func(*channels.Outbound, int) (string, error) {
		close(entered)
		<-answer
		return "SM1", nil
	}}}
	f := newFixture(t, nil, func(c *Config) { c.Sender = sender })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.box.Run(ctx) }()
	if err := f.box.Send(t.Context(), otp("otp/1")); err != nil {
		t.Fatal(err)
	}
	<-entered
	// The shutdown comes first, the gateway's answer after it: the
	// attempt's context must outlive Run's.
	cancel()
	close(answer)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := sender.canceled.Load(); got {
		t.Error("the gateway call saw Run's shutdown")
	}
	if m := f.get(t, "otp/1"); m.Status != channels.OutboundSent {
		t.Errorf("after shutdown: %s, want sent", m.Status)
	}
	if m := f.get(t, "otp/1"); m.Status != channels.OutboundSent {
		t.Errorf("after shutdown: %s, want sent", m.Status)
	}
}

func TestRunTwice(t *testing.T) {
	f := newFixture(t, &fakeSender{}, nil)
	run(t, f.box)
	// Let the first Run take its place; a second must refuse.
	deadline := time.Now().Add(5 * time.Second)
	for !f.box.running.Load() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if err := f.box.Run(t.Context()); err == nil {
		t.Error("second Run returned nil, want an error")
	}
}

func TestSendInvalid(t *testing.T) {
	f := newFixture(t, &fakeSender{}, nil)
	for _, m := range []*channels.Outbound{{To: "+254712345678", Text: "x"}, {Key: "k", Text: "x"}} {
		if err := f.box.Send(t.Context(), m); channels.ErrorCode(err) != channels.EINVALID {
			t.Errorf("Send(%+v) = %v, want EINVALID", m, err)
		}
	}
}

func TestReport(t *testing.T) {
	type report struct {
		status channels.OutboundStatus
		reason string
	}
	tests := []struct {
		name    string
		from    channels.OutboundStatus
		reports []report
		status  channels.OutboundStatus
		reason  string
	}{
		{"sent then delivered", channels.OutboundSent, []report{{channels.OutboundDelivered, ""}}, channels.OutboundDelivered, ""},
		{"sent then failed with reason", channels.OutboundSent, []report{{channels.OutboundFailed, "30003_unreachable"}}, channels.OutboundFailed, "30003_unreachable"},
		{"failed without reason", channels.OutboundSent, []report{{channels.OutboundFailed, ""}}, channels.OutboundFailed, ReasonUndelivered},
		{"duplicate delivered", channels.OutboundSent, []report{{channels.OutboundDelivered, ""}, {channels.OutboundDelivered, ""}}, channels.OutboundDelivered, ""},
		{"delivered not moved back to sent", channels.OutboundSent, []report{{channels.OutboundDelivered, ""}, {channels.OutboundSent, ""}}, channels.OutboundDelivered, ""},
		{"delivered not moved back to failed", channels.OutboundSent, []report{{channels.OutboundDelivered, ""}, {channels.OutboundFailed, "late"}}, channels.OutboundDelivered, ""},
		{"delivered ends retries", channels.OutboundQueued, []report{{channels.OutboundDelivered, ""}}, channels.OutboundDelivered, ""},
		{"failure of an earlier attempt keeps the retry", channels.OutboundQueued, []report{{channels.OutboundFailed, "x"}}, channels.OutboundQueued, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			f := newFixture(t, &fakeSender{}, nil)
			m := notice("n/1")
			m.Status, m.NextAttempt = tt.from, t0.Add(time.Hour)
			if err := f.store.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.reports {
				if err := f.box.Report(ctx, m.Key, r.status, r.reason); err != nil {
					t.Fatalf("Report(%s, %q): %v", r.status, r.reason, err)
				}
			}
			got := f.get(t, m.Key)
			if got.Status != tt.status || got.Reason != tt.reason {
				t.Errorf("got %s, reason %q; want %s, %q", got.Status, got.Reason, tt.status, tt.reason)
			}
		})
	}
	t.Run("unknown key", func(t *testing.T) {
		f := newFixture(t, &fakeSender{}, nil)
		if err := f.box.Report(t.Context(), "nope", channels.OutboundDelivered, ""); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("Report of an unknown key = %v, want ENOTFOUND", err)
		}
	})
}

// TestReportDuringAttempt has the delivery report arrive before the
// gateway call returns, as a fast callback can: the attempt's outcome must
// not overwrite it.
func TestReportDuringAttempt(t *testing.T) {
	var f *fixture
	sender := &fakeSender{script: func(m *channels.Outbound, _ int) (string, error) {
		if err := f.box.Report(context.Background(), m.Key, channels.OutboundDelivered, ""); err != nil {
			t.Error(err)
		}
		return "SM1", nil
	}}
	f = newFixture(t, sender, nil)
	if err := f.box.Send(t.Context(), otp("otp/1")); err != nil {
		t.Fatal(err)
	}
	f.step(t)
	if m := f.get(t, "otp/1"); m.Status != channels.OutboundDelivered || m.ProviderID != "SM1" {
		t.Errorf("got %s with provider ID %q, want delivered with SM1", m.Status, m.ProviderID)
	}
}

// TestLogsMaskPhoneAndOmitText checks what an attempt's log lines reveal.
func TestLogsMaskPhoneAndOmitText(t *testing.T) {
	sender := &fakeSender{script: func(_ *channels.Outbound, n int) (string, error) {
		if n == 0 {
			return "", errUnavailable
		}
		return "SM1", nil
	}}
	f := newFixture(t, sender, nil)
	if err := f.box.Send(t.Context(), otp("otp/1")); err != nil {
		t.Fatal(err)
	}
	f.step(t)
	f.clock.Add(time.Minute)
	f.step(t)
	logs := f.logs.String()
	if !strings.Contains(logs, "to=+254***678") {
		t.Errorf("logs lack the masked phone:\n%s", logs)
	}
	for _, secret := range []string{"482913", "254712345", "Your code"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs reveal %q:\n%s", secret, logs)
		}
	}
}

func TestBackoff(t *testing.T) {
	o := New(Config{Store: channelstest.OpenStore(t), Sender: &fakeSender{}, Backoff: time.Second, MaxBackoff: 10 * time.Second})
	for attempts, ceiling := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		var longest time.Duration
		for range 2000 {
			d := o.backoff(attempts)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", attempts, d, ceiling)
			}
			longest = max(longest, d)
		}
		if longest < ceiling/2 {
			t.Errorf("backoff(%d) never above %v in 2000 draws; want spread up to %v", attempts, longest, ceiling)
		}
	}
}

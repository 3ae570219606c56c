package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/keylock"
)

// The reasons the outbox itself gives for failing a message; a gateway's
// permanent refusals bring their own.
const (
	ReasonExpired        = "expired"         // ExpiresAt passed before it could be sent
	ReasonOptedOut       = "opted_out"       // the recipient sent STOP
	ReasonGaveUp         = "gave_up"         // MaxAttempts attempts all failed
	ReasonOutcomeUnknown = "outcome_unknown" // a crash hid whether the gateway took it
	ReasonUndelivered    = "undelivered"     // a failure report that gave no reason
	ReasonNoSender       = "no_sender"       // nothing sends messages of its kind here (push off, no SMS gateway)
)

const (
	// sendTimeout bounds one gateway call and the recording of its outcome.
	// Both run detached from Run's context so that a shutdown lets an
	// attempt in flight finish and be recorded instead of leaving it in
	// OutboundSending, which would fail an AtMostOnce message.
	sendTimeout = time.Minute
	// recoverBatch is how many interrupted messages Run recovers per read.
	recoverBatch = 256
)

// Config configures an Outbox. Store is required, and a Sender or a Route.
type Config struct {
	Store channels.OutboxStore
	// Prefs gives the opt-outs: a phone whose Prefs.OptedOut is set gets
	// no SMS but PurposeOptOut messages. When nil, nobody is opted out.
	Prefs channels.PrefStore
	// Sender sends the SMS (channels.KindSMS); nil when no SMS gateway is
	// configured, and then SMS fail with reason "no_sender".
	Sender Sender
	// Rate is how many SMS per second are handed to Sender; 1 when zero,
	// the limit of a Twilio long code. Burst is how many may go at once
	// after a quiet spell; 1 when zero.
	Rate  float64
	Burst int
	// Routes sends the other kinds of message (channels.KindPush,
	// channels.KindWebhook), each paced on its own.
	Routes map[string]Route
	// Workers is how many calls may be in flight at once to each kind's
	// sender; 4 when zero. Each kind has its own workers and reads its own
	// due messages, so a backlog of SMS paced at one a second, or an agency
	// whose webhook hangs, holds up no other kind.
	Workers int
	// PerRecipient is how many of a kind's workers the messages to one
	// recipient (a phone, an agency) may hold at once; a quarter of the
	// workers, at least 1, when zero. The due messages of a recipient at
	// its cap are passed over for the others', so an agency whose webhook
	// hangs holds at most that many workers and its backlog delays no
	// other agency.
	PerRecipient int
	// MaxAttempts is how many gateway calls an SMS gets before it is
	// failed with reason "gave_up"; 8 when zero.
	MaxAttempts int
	// Backoff and MaxBackoff shape the wait before a retry: a random
	// duration between zero and Backoff·2^(attempts-1), capped at
	// MaxBackoff ("full jitter", so that retries after an outage do not
	// arrive together). 2s and 10min when zero.
	Backoff, MaxBackoff time.Duration
	// Poll is how often Run looks for due messages when nothing wakes it
	// (retries coming due, messages enqueued by another Outbox on the same
	// store); 1s when zero.
	Poll time.Duration
	// Log receives one line per attempt and outcome, with the phone masked
	// and never the text. Discarded when nil.
	Log *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Owner names this Outbox in the claims it makes on the store's
	// messages; a random name, unique to the process, when empty. Lease is
	// how long a claim lasts: another process that shares the store takes
	// a message whose claim ended (its owner died) as due; 2 minutes when
	// zero. An attempt is given at most half the lease, so that it is
	// recorded before the claim ends.
	Owner string
	Lease time.Duration
	// Locks serialize the changes of one message (an attempt's record, a
	// delivery report) across the processes sharing the store; within
	// this process only when nil.
	Locks channels.KeyLocker
}

// Route is how the messages of one kind are sent.
type Route struct {
	Sender Sender
	// Rate and Burst pace Sender as Config.Rate and Burst pace SMS; 1 when
	// zero.
	Rate  float64
	Burst int
	// MaxAttempts is how many calls a message gets before it is failed
	// with reason "gave_up"; Config.MaxAttempts when zero.
	MaxAttempts int
	// Workers and PerRecipient size this kind's workers as Config.Workers
	// and PerRecipient do; Config's when zero.
	Workers, PerRecipient int
}

// limits size the dispatch of one kind: its workers, and how many of them
// one recipient's messages may hold.
type limits struct {
	workers, perRecipient int
}

// recipient is whom a claimed message goes to, within its kind.
type recipient struct {
	kind, to string
}

// job is a claimed message handed to a worker, with the time (by the
// machine's clock) its claim ends.
type job struct {
	key   string
	until time.Time
}

// route is a Route ready to pace its sender.
type route struct {
	sender      Sender
	limiter     *rate.Limiter
	maxAttempts int
}

// Outbox sends outbound messages through the durable queue of a store, each
// kind paced to its sender's rate. Send and Report may be called from any goroutine,
// whether Run is running or not. Run may run in every process that shares
// the store: each message is claimed in the store by one of them at a
// time (channels.OutboxClaims), for Lease, and changed under the store's
// lock on its key, so that no two send it at once; the pacing (Rate,
// Workers) is each process's own.
//
// Guarantee: a message marked AtMostOnce reaches the gateway at most once;
// any other message at least once (until it expires, is refused or runs
// out of attempts). Every attempt is recorded durably as OutboundSending
// before the gateway is called. If the process dies before the outcome is
// recorded, nobody can tell whether the gateway took the message, so the
// Run (of this process after a restart, or of another that shares the
// store, once the dead one's claim has ended) fails an AtMostOnce message
// (a one-time code) with reason "outcome_unknown", losing it rather than
// sending it twice, and queues any other message again, possibly sending
// it twice rather than losing it.
//
// A message with a Fallback (the SMS of a push notice) has its fallback
// enqueued before it is recorded as failed, so a crash between the two
// cannot lose the notice; the fallback's key makes a repeat harmless.
type Outbox struct {
	cfg     Config
	routes  map[string]*route
	log     *slog.Logger
	wakeup  map[string]chan struct{} // by kind: Send wakes the kind it queued
	running atomic.Bool

	limits map[string]limits // by kind, for every kind dispatched

	mu      sync.Mutex
	claimed map[string]recipient // keys a worker holds (no other may take them), with their recipient
	busy    map[recipient]int    // how many claimed keys each recipient has

	// locks serialize the read-modify-write of one message between a
	// worker and Report: Config.Locks, or locks of this process.
	locks channels.KeyLocker
}

// lockSpace prefixes the keys the Outbox locks, apart from the sessions
// and phones the channels lock in the same store.
const lockSpace = "outbox/"

// LockName is the key under which an Outbox locks the message with key in
// Config.Locks while it changes it: whoever else changes a stored message
// (a reminder replaced) locks the same to keep out of an attempt's way.
func LockName(key string) string { return lockSpace + key }

// New returns an Outbox for cfg, with zero fields set to their defaults.
// It panics when cfg.Store is nil or nothing sends, a wiring mistake.
func New(cfg Config) *Outbox {
	if cfg.Store == nil || (cfg.Sender == nil && len(cfg.Routes) == 0) {
		panic("outbox: Config.Store and a Sender or Route are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.PerRecipient <= 0 {
		cfg.PerRecipient = max(1, cfg.Workers/4)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Owner == "" {
		cfg.Owner = fmt.Sprintf("outbox-%016x", rand.Uint64())
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * sendTimeout
	}
	var locks channels.KeyLocker = &keylock.Keys{}
	if cfg.Locks != nil {
		locks = cfg.Locks
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	routes := map[string]*route{}
	lims := map[string]limits{}
	for _, kind := range kinds {
		lims[kind] = limits{workers: cfg.Workers, perRecipient: cfg.PerRecipient}
	}
	add := func(kind string, r Route) {
		if r.Sender == nil {
			return
		}
		if r.Rate <= 0 {
			r.Rate = 1
		}
		if r.Burst <= 0 {
			r.Burst = 1
		}
		if r.MaxAttempts <= 0 {
			r.MaxAttempts = cfg.MaxAttempts
		}
		routes[kind] = &route{sender: r.Sender, limiter: rate.NewLimiter(rate.Limit(r.Rate), r.Burst), maxAttempts: r.MaxAttempts}
		l := limits{workers: cmp.Or(r.Workers, cfg.Workers), perRecipient: r.PerRecipient}
		if l.perRecipient <= 0 {
			l.perRecipient = cmp.Or(r.Workers/4, cfg.PerRecipient)
		}
		lims[kind] = l
	}
	for kind, r := range cfg.Routes {
		add(kind, r)
	}
	add(channels.KindSMS, Route{Sender: cfg.Sender, Rate: cfg.Rate, Burst: cfg.Burst, MaxAttempts: cfg.MaxAttempts})
	return &Outbox{
		cfg:     cfg,
		routes:  routes,
		log:     log,
		wakeup:  wakeups(routes),
		limits:  lims,
		claimed: make(map[string]recipient),
		busy:    make(map[recipient]int),
		locks:   locks,
	}
}

// Send enqueues ms durably and wakes the dispatcher; it returns once they
// are stored, without waiting for any gateway. It fills in each message's
// Status (queued), NextAttempt (now, when zero), CreatedAt and UpdatedAt.
// A message whose Key is already stored is left as it is, so a caller that
// retries a Send does not send twice. A message without Key or To is
// EINVALID.
func (o *Outbox) Send(ctx context.Context, ms ...*channels.Outbound) error {
	if len(ms) == 0 {
		return nil
	}
	now := o.cfg.Now()
	for _, m := range ms {
		if m.Key == "" || m.To == "" {
			return channels.Errorf(channels.EINVALID, "error.internal", "outbound message %q without a key or recipient", m.Key)
		}
		if o.wakeup[m.Kind] == nil {
			return channels.Errorf(channels.EINVALID, "error.internal", "outbound message %q of unknown kind %q", m.Key, m.Kind)
		}
		m.Status = channels.OutboundQueued
		if m.NextAttempt.IsZero() {
			m.NextAttempt = now
		}
		m.CreatedAt, m.UpdatedAt = now, now
	}
	if err := o.cfg.Store.Enqueue(ctx, ms...); err != nil {
		return fmt.Errorf("outbox: send %d messages: %w", len(ms), err)
	}
	for _, m := range ms {
		o.wake(m.Kind)
	}
	return nil
}

// kinds are the kinds of message an Outbox dispatches: those with a
// route and the three the system sends, whose messages fail as having no
// sender when nothing sends them here, rather than wait forever.
var kinds = []string{channels.KindSMS, channels.KindPush, channels.KindWebhook}

// wakeups returns a wake-up channel for each kind dispatched.
func wakeups(routes map[string]*route) map[string]chan struct{} {
	w := map[string]chan struct{}{}
	for _, kind := range kinds {
		w[kind] = make(chan struct{}, 1)
	}
	for kind := range routes {
		w[kind] = make(chan struct{}, 1)
	}
	return w
}

// wake makes Run look for due messages of kind now rather than at its
// next poll.
func (o *Outbox) wake(kind string) {
	select {
	case o.wakeup[kind] <- struct{}{}:
	default:
	}
}

// Report records a gateway's delivery report for the message with key (our
// key, which senders put in their callback URLs, not the gateway's ID).
// OutboundDelivered marks the message delivered from any state but
// delivered, which also ends its retries: the handset has it.
// OutboundFailed fails a sent message (or one whose attempt is still being
// recorded) with reason, "undelivered" when empty; it changes nothing once a
// message is delivered or failed, nor while it is queued for a retry, which
// the report of an earlier attempt does not cancel. Other statuses are
// intermediate and change nothing. A delivered message is never moved back,
// so duplicate and late reports are harmless. An unknown key is ENOTFOUND.
func (o *Outbox) Report(ctx context.Context, key string, status channels.OutboundStatus, reason string) error {
	if status == channels.OutboundFailed && reason == "" {
		reason = ReasonUndelivered
	}
	m, changed, err := o.update(ctx, key, func(m *channels.Outbound) bool {
		switch {
		case status == channels.OutboundDelivered && m.Status != channels.OutboundDelivered:
			m.Status = channels.OutboundDelivered
		case status == channels.OutboundFailed && (m.Status == channels.OutboundSent || m.Status == channels.OutboundSending):
			m.Status, m.Reason = channels.OutboundFailed, reason
		default:
			return false
		}
		m.UpdatedAt = o.cfg.Now()
		return true
	})
	if err != nil {
		return fmt.Errorf("outbox: report %s for %s: %w", status, key, err)
	}
	if changed {
		o.log.Info("outbox: delivery report", o.attrs(m)...)
	}
	return nil
}

// Run dispatches due messages until ctx ends, then waits for the attempts
// in flight to be recorded and returns nil. It first recovers the messages
// a crash left in OutboundSending, as the guarantee on Outbox says. Each
// kind is dispatched on its own, by its own workers. It returns an error
// if that recovery fails or if the Outbox is running already.
func (o *Outbox) Run(ctx context.Context) error {
	if !o.running.CompareAndSwap(false, true) {
		return errors.New("outbox: Run is already running")
	}
	defer o.running.Store(false)
	for kind := range o.wakeup {
		if err := o.recoverInterrupted(ctx, kind); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for kind := range o.wakeup {
		wg.Go(func() { o.dispatch(ctx, kind) })
	}
	wg.Wait()
	return nil
}

// dispatch hands the due messages of kind to its workers until ctx ends,
// then waits for them.
func (o *Outbox) dispatch(ctx context.Context, kind string) {
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range o.limits[kind].workers {
		wg.Go(func() {
			for j := range jobs {
				o.process(ctx, j)
				o.release(j.key)
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)

	poll := time.NewTimer(o.cfg.Poll)
	defer poll.Stop()
	for {
		more, err := o.feed(ctx, kind, jobs)
		if err != nil {
			o.log.Error("outbox: read due messages", "kind", cmp.Or(kind, "sms"), "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if more {
			continue // the workers pace the loop
		}
		poll.Reset(o.cfg.Poll)
		select {
		case <-ctx.Done():
			return
		case <-o.wakeup[kind]:
		case <-poll.C:
		}
	}
}

// feed claims as many due messages of kind as it has idle workers, and
// hands them to the workers. It reports whether more may be due than it
// claimed, so that the dispatcher claims again at once instead of waiting
// for a wake-up or its next poll.
func (o *Outbox) feed(ctx context.Context, kind string, jobs chan<- job) (more bool, err error) {
	// Those of the recipients at their cap are left out, so that one
	// recipient's backlog cannot fill the batch.
	idle := o.limits[kind].workers - o.inFlight(kind)
	if idle <= 0 {
		return false, nil // a worker done wakes the dispatcher
	}
	now := o.cfg.Now()
	until := time.Now().Add(o.cfg.Lease)
	ms, err := o.cfg.Store.ClaimOutbound(ctx, kind, o.cfg.Owner, now, now.Add(o.cfg.Lease), idle, o.full(kind)...)
	if err != nil {
		return false, err
	}
	fed := 0
	for i, m := range ms {
		if !o.claim(m) {
			o.unclaim(m.Key)
			continue
		}
		select {
		case jobs <- job{key: m.Key, until: until}:
			fed++
		case <-ctx.Done():
			o.release(m.Key)
			o.unclaim(keysOf(ms[i+1:])...)
			return false, nil
		}
	}
	return len(ms) == idle && fed > 0, nil
}

// inFlight is how many messages of kind the workers hold.
func (o *Outbox) inFlight(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for r, c := range o.busy {
		if r.kind == kind {
			n += c
		}
	}
	return n
}

// claim takes m for one worker; false when another holds it or its
// recipient holds as many workers as it may.
func (o *Outbox) claim(m *channels.Outbound) bool {
	r := recipient{m.Kind, m.To}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.claimed[m.Key]; ok || o.busy[r] >= o.limits[m.Kind].perRecipient {
		return false
	}
	o.claimed[m.Key] = r
	o.busy[r]++
	return true
}

// release gives key back, in this process and in the store, and wakes
// the kind's dispatcher: a worker is idle again, and when its recipient
// was at its cap, the recipient's held-back messages go on at once.
func (o *Outbox) release(key string) {
	o.mu.Lock()
	r, ok := o.claimed[key]
	if !ok {
		o.mu.Unlock()
		return
	}
	delete(o.claimed, key)
	if o.busy[r]--; o.busy[r] <= 0 {
		delete(o.busy, r)
	}
	o.mu.Unlock()
	o.unclaim(key)
	o.wake(r.kind)
}

// unclaim ends this Outbox's claims on keys in the store, so that a retry
// due soon need not wait for the lease; if that fails, the lease ends by
// itself.
func (o *Outbox) unclaim(keys ...string) {
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.cfg.Store.ReleaseOutbound(ctx, o.cfg.Owner, keys...); err != nil {
		o.log.Warn("outbox: release claims", "keys", len(keys), "err", err)
	}
}

// keysOf returns the keys of ms.
func keysOf(ms []*channels.Outbound) []string {
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.Key
	}
	return keys
}

// full returns the recipients of kind that hold as many workers as they
// may, for DueOutbound to leave out.
func (o *Outbox) full(kind string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for r, n := range o.busy {
		if r.kind == kind && n >= o.limits[kind].perRecipient {
			out = append(out, r.to)
		}
	}
	return out
}

// recoverInterrupted settles every message of kind left in OutboundSending
// by a process that died (this one before a restart, or another sharing
// the store whose claims have ended), before any worker starts.
func (o *Outbox) recoverInterrupted(ctx context.Context, kind string) error {
	for {
		now := o.cfg.Now()
		ms, err := o.cfg.Store.ClaimOutbound(ctx, kind, o.cfg.Owner, now, now.Add(o.cfg.Lease), recoverBatch)
		if err != nil {
			return fmt.Errorf("outbox: recover interrupted messages: %w", err)
		}
		n := 0
		var serr error
		for _, m := range ms {
			if m.Status != channels.OutboundSending {
				break // ClaimOutbound hands out those sending first
			}
			n++
			if serr = o.settle(ctx, m.Key); serr != nil {
				serr = fmt.Errorf("outbox: recover interrupted message %s: %w", m.Key, serr)
				break
			}
		}
		o.unclaim(keysOf(ms)...)
		if serr != nil {
			return serr
		}
		if n < recoverBatch {
			return nil
		}
	}
}

// settle decides the fate of the message with key if it is in
// OutboundSending with nobody sending it, its attempt's outcome lost:
// AtMostOnce messages fail, others go back to the queue.
func (o *Outbox) settle(ctx context.Context, key string) error {
	m, changed, err := o.update(ctx, key, func(m *channels.Outbound) bool {
		if m.Status != channels.OutboundSending {
			return false
		}
		now := o.cfg.Now()
		m.Reason, m.UpdatedAt = ReasonOutcomeUnknown, now
		if m.AtMostOnce {
			m.Status = channels.OutboundFailed
		} else {
			m.Status, m.NextAttempt = channels.OutboundQueued, now
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case changed && m.Status == channels.OutboundFailed:
		o.log.Warn("outbox: attempt interrupted, not repeated", o.attrs(m)...)
	case changed:
		o.log.Warn("outbox: attempt interrupted, queued again", o.attrs(m)...)
	}
	return nil
}

// process makes one attempt at the message of j, which the caller has
// claimed. It reads the message afresh, since the copy that listed it as
// due may predate another worker's attempt. The attempt ends before the
// claim does: the wait for the pace gives up in time for the gateway call
// and its record to fit in what is left of the lease.
func (o *Outbox) process(ctx context.Context, j job) {
	key := j.key
	m, err := o.cfg.Store.Outbound(ctx, key)
	if err != nil {
		o.log.Error("outbox: read message", "key", key, "err", err)
		return
	}
	now := o.cfg.Now()
	switch {
	case m.Status.Final():
		return
	case m.Status == channels.OutboundSending:
		// Left sending by an attempt whose outcome could not be recorded.
		if err := o.settle(ctx, key); err != nil {
			o.log.Error("outbox: settle interrupted message", append(o.attrs(m), "err", err)...)
		}
		return
	case m.NextAttempt.After(now):
		return // rescheduled since it was listed
	}
	r := o.routes[m.Kind]
	if reason, err := o.refusal(ctx, r, m, now); err != nil {
		o.log.Error("outbox: read preferences", append(o.attrs(m), "err", err)...)
		return
	} else if reason != "" {
		o.fail(ctx, m, reason)
		return
	}
	attempt := min(sendTimeout, o.cfg.Lease/2)
	paced, cancelPace := context.WithDeadline(ctx, j.until.Add(-attempt-o.cfg.Lease/10))
	err = r.limiter.Wait(paced)
	cancelPace()
	if err != nil {
		return // shutting down, or the claim too near its end; the message stays queued
	}

	// From here on the attempt must be seen through and recorded even if
	// Run is stopped.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attempt)
	defer cancel()
	var expired bool
	m, marked, err := o.update(ctx, key, func(m *channels.Outbound) bool {
		if m.Status != channels.OutboundQueued {
			return false // a delivery report settled it meanwhile
		}
		now := o.cfg.Now()
		if expired = !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt); expired {
			return false
		}
		m.Status, m.Attempts, m.Sender, m.UpdatedAt = channels.OutboundSending, m.Attempts+1, r.sender.Name(), now
		return true
	})
	switch {
	case err != nil:
		o.log.Error("outbox: mark sending", "key", key, "err", err)
		return
	case expired:
		o.fail(ctx, m, ReasonExpired)
		return
	case !marked:
		return
	}

	providerID, sendErr := r.sender.Send(ctx, m)
	fallbackUnqueued := false
	if _, permanent := IsPermanent(sendErr); permanent || (sendErr != nil && m.Attempts >= r.maxAttempts) {
		if err := o.fallback(ctx, m); err != nil {
			o.log.Error("outbox: enqueue fallback", append(o.attrs(m), "err", err)...)
			fallbackUnqueued = true
		}
	}
	m, _, err = o.update(ctx, key, func(m *channels.Outbound) bool {
		if fallbackUnqueued && m.Status == channels.OutboundSending {
			// Not failed before its fallback is queued, whatever its
			// attempts: queued again, it is failed by the next pass
			// (through fail, which queues the fallback first) or, with
			// attempts left, tried again.
			now := o.cfg.Now()
			m.Status, m.NextAttempt, m.UpdatedAt = channels.OutboundQueued, now.Add(o.backoff(m.Attempts)), now
			if m.Reason, _ = IsPermanent(sendErr); m.Reason == "" {
				m.Reason = retryReason(sendErr)
			}
			return true
		}
		return o.outcome(m, r.maxAttempts, providerID, sendErr)
	})
	if err != nil {
		// The message stays sending and is settled as interrupted.
		o.log.Error("outbox: record outcome", "key", key, "send_err", sendErr, "err", err)
		return
	}
	switch {
	case m.Status == channels.OutboundQueued:
		o.log.Warn("outbox: attempt failed, will retry", append(o.attrs(m), "err", sendErr)...)
	case sendErr != nil:
		o.log.Error("outbox: failed", append(o.attrs(m), "err", sendErr)...)
	default:
		o.log.Info("outbox: sent", o.attrs(m)...)
	}
}

// refusal returns why m must not be sent at now by r, or "" if it may be.
// Only SMS heed an opt-out: STOP is an SMS keyword, and the app's
// notices are switched off on the device.
func (o *Outbox) refusal(ctx context.Context, r *route, m *channels.Outbound, now time.Time) (string, error) {
	if r == nil {
		return ReasonNoSender, nil
	}
	if m.Attempts >= r.maxAttempts {
		return ReasonGaveUp, nil
	}
	if !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt) {
		return ReasonExpired, nil
	}
	if o.cfg.Prefs != nil && m.Kind == channels.KindSMS && m.Purpose != channels.PurposeOptOut {
		p, err := o.cfg.Prefs.Prefs(ctx, m.To)
		if err != nil {
			return "", err
		}
		if p.OptedOut {
			return ReasonOptedOut, nil
		}
	}
	return "", nil
}

// outcome applies the result of the attempt m is in and reports whether m
// changed. A delivery report that arrived first is kept.
func (o *Outbox) outcome(m *channels.Outbound, maxAttempts int, providerID string, err error) bool {
	now := o.cfg.Now()
	if m.Status != channels.OutboundSending {
		if providerID == "" || m.ProviderID != "" {
			return false
		}
		m.ProviderID, m.UpdatedAt = providerID, now
		return true
	}
	m.UpdatedAt = now
	if err == nil {
		m.Status, m.ProviderID, m.Reason = channels.OutboundSent, providerID, ""
		return true
	}
	if reason, ok := IsPermanent(err); ok {
		m.Status, m.Reason = channels.OutboundFailed, reason
		return true
	}
	m.Reason = retryReason(err)
	if m.Attempts >= maxAttempts {
		m.Status = channels.OutboundFailed
		m.Reason = ReasonGaveUp
		return true
	}
	m.Status, m.NextAttempt = channels.OutboundQueued, now.Add(o.backoff(m.Attempts))
	return true
}

// retryReason is the Reason kept on a message queued again after err: the
// kind of failure, short and free of any detail that might echo the text.
func retryReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "gateway_error"
}

// backoff returns the wait before the retry that follows attempt number
// attempts (1 for the first): uniform in [0, min(MaxBackoff,
// Backoff·2^(attempts-1))].
func (o *Outbox) backoff(attempts int) time.Duration {
	ceiling := o.cfg.Backoff
	for i := 1; i < attempts && ceiling < o.cfg.MaxBackoff; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, o.cfg.MaxBackoff)
	return rand.N(ceiling + 1)
}

// fail fails the message m for reason unless it is final already, after
// enqueueing its fallback.
func (o *Outbox) fail(ctx context.Context, m *channels.Outbound, reason string) {
	key := m.Key
	if err := o.fallback(ctx, m); err != nil {
		o.log.Error("outbox: enqueue fallback", append(o.attrs(m), "err", err)...)
		return // still queued: the next pass tries again
	}
	m, changed, err := o.update(ctx, key, func(m *channels.Outbound) bool {
		if m.Status.Final() {
			return false
		}
		m.Status, m.Reason, m.UpdatedAt = channels.OutboundFailed, reason, o.cfg.Now()
		return true
	})
	switch {
	case err != nil:
		o.log.Error("outbox: record failure", "key", key, "reason", reason, "err", err)
	case changed:
		o.log.Warn("outbox: failed", o.attrs(m)...)
	}
}

// fallback enqueues the fallback of m, if it has one, under the fallback's
// key or m's key with "/fallback" added.
func (o *Outbox) fallback(ctx context.Context, m *channels.Outbound) error {
	if m.Fallback == nil {
		return nil
	}
	fb := *m.Fallback
	if fb.Key == "" {
		fb.Key = m.Key + "/fallback"
	}
	fb.Status, fb.Attempts, fb.NextAttempt, fb.Sender, fb.ProviderID, fb.Reason = "", 0, time.Time{}, "", "", ""
	if err := o.Send(ctx, &fb); err != nil {
		return err
	}
	o.log.Info("outbox: fallback queued", append(o.attrs(m), "fallback", fb.Key)...)
	return nil
}

// update reads the message with key, lets change modify it and stores it
// if change reports a change, all under the key's lock. It returns the
// message as it now stands. A message holding a one-time code
// (Outbound.Redacted) that change made final is stored with its text
// redacted, in the same write: no copy of the code outlives its sending.
func (o *Outbox) update(ctx context.Context, key string, change func(*channels.Outbound) bool) (*channels.Outbound, bool, error) {
	unlock, err := o.locks.LockKey(ctx, LockName(key))
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	m, err := o.cfg.Store.Outbound(ctx, key)
	if err != nil {
		return nil, false, err
	}
	if !change(m) {
		return m, false, nil
	}
	if m.Status.Final() && m.Redacted() {
		m.Text = channels.RedactedText
	}
	if err := o.cfg.Store.UpdateOutbound(ctx, m); err != nil {
		return nil, false, err
	}
	return m, true, nil
}

// attrs describes m for a log line: never its text, which may hold a code,
// and only the last digits of the phone.
func (o *Outbox) attrs(m *channels.Outbound) []any {
	to := m.To
	if m.Kind != channels.KindWebhook {
		to = channels.MaskPhone(to)
	}
	a := []any{"key", m.Key, "kind", cmp.Or(m.Kind, "sms"), "to", to, "purpose", m.Purpose, "status", m.Status, "attempts", m.Attempts}
	if m.Sender != "" {
		a = append(a, "sender", m.Sender)
	}
	if m.ProviderID != "" {
		a = append(a, "provider_id", m.ProviderID)
	}
	if m.Reason != "" {
		a = append(a, "reason", m.Reason)
	}
	if m.Status == channels.OutboundQueued {
		a = append(a, "next_attempt", m.NextAttempt)
	}
	return a
}

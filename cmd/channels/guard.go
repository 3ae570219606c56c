package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govchannels/channels"
)

// storeTimeout bounds each call a request makes to a PostgreSQL store: a
// USSD gateway waits a few seconds for a hop, and a database that does
// not answer must end the hop politely well inside that. bbolt never
// waits on a network, so calls to it get no deadline.
const storeTimeout = 2 * time.Second

// guard is the store as the server uses it. A call whose error says the
// store cannot do the work now (PostgreSQL down or restarting, the disk
// full: unavailable decides) returns an error of code EUNAVAILABLE and
// message error.unavailable, so that every channel answers politely
// (a USSD END, an SMS, a 503 with the API's JSON error, the kiosk's
// error page) and never with the cause; health hears of every outcome
// and logs the outage once. With a timeout, each call is bounded by it.
type guard struct {
	channels.Store
	health      *health
	unavailable func(error) bool
	timeout     time.Duration // 0: none of its own
}

// unavailableError is a call's error when the store cannot do the work:
// EUNAVAILABLE for the channels, the cause for the log.
type unavailableError struct {
	code  *channels.Error
	cause error
}

func (e *unavailableError) Error() string   { return "store unavailable: " + e.cause.Error() }
func (e *unavailableError) Unwrap() []error { return []error{e.code, e.cause} }

// check passes err on, as an unavailableError when the store could not do
// the work (unavailable says so, or the store itself answered
// EUNAVAILABLE), and tells health.
func (g *guard) check(err error) error {
	switch {
	case err == nil:
		g.health.answered()
		return nil
	case errors.Is(err, context.Canceled):
		return err // the caller gave up: says nothing of the store
	case !g.unavailable(err) && channels.ErrorCode(err) != channels.EUNAVAILABLE:
		g.health.answered() // it answered, with a refusal
		return err
	}
	g.health.failed(err)
	return &unavailableError{code: channels.Errorf(channels.EUNAVAILABLE, "error.unavailable", "the store cannot do this now"), cause: err}
}

// bound returns ctx with the guard's deadline, if it has one.
func (g *guard) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if g.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, g.timeout)
}

func (g *guard) do(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := g.bound(ctx)
	defer cancel()
	return g.check(f(ctx))
}

func call[T any](g *guard, ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := g.bound(ctx)
	defer cancel()
	v, err := f(ctx)
	return v, g.check(err)
}

// health follows whether the store answers, from what guards tell it.
// The first call that finds it unavailable starts an outage, logged at
// error with its cause; while it lasts, a warning a minute says how many
// calls failed; the first call that succeeds outageSettle after the last
// failure ends it, with a warning that says how long it lasted (from its
// first failure to its last) and how many calls failed. The
// failures of single requests are logged at debug meanwhile (quiet).
type health struct {
	log  *slog.Logger
	what string           // the data file or database, for the log
	now  func() time.Time // time.Now when nil
	down atomic.Bool

	mu                 sync.Mutex
	since, last, noted time.Time
	failures           int
}

const (
	// outageSettle is how long an outage must go without a failure to
	// end: a disk that is nearly full lets some writes through, and one
	// outage is one outage in the log, not one per write.
	outageSettle = 2 * time.Second
	// outageNote is how often a lasting outage is logged again.
	outageNote = time.Minute
)

func (h *health) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

func (h *health) failed(err error) {
	now := h.clock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = now
	h.failures++
	if !h.down.Load() {
		h.down.Store(true)
		h.since, h.noted, h.failures = now, now, 1
		h.log.Error("store unavailable: requests are answered with a polite refusal until it answers again", "store", h.what, "err", err)
		return
	}
	if now.Sub(h.noted) >= outageNote {
		h.noted = now
		h.log.Warn("store still unavailable", "store", h.what, "since", h.since, "failed_calls", h.failures, "err", err)
	}
}

func (h *health) answered() {
	if !h.down.Load() {
		return
	}
	now := h.clock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() || now.Sub(h.last) < outageSettle {
		return
	}
	h.down.Store(false)
	h.log.Warn("store answers again", "store", h.what, "outage", h.last.Sub(h.since).Round(time.Millisecond), "failed_calls", h.failures)
}

// quiet passes records to next, except that one at warning or above
// whose error is a store outage goes at debug: health logs the outage,
// once, and not each of the requests and background passes that met it.
type quiet struct{ next slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool { return q.next.Enabled(ctx, l) }

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn || !outage(r) {
		return q.next.Handle(ctx, r)
	}
	if !q.next.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	r.Level = slog.LevelDebug
	return q.next.Handle(ctx, r)
}

func (q quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{q.next.WithAttrs(as)} }
func (q quiet) WithGroup(name string) slog.Handler    { return quiet{q.next.WithGroup(name)} }

// outage reports whether an error in r is a store outage's.
func outage(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			var ue *unavailableError
			found = errors.As(err, &ue)
		}
		return !found
	})
	return found
}

// The methods of channels.Store, each through do or call.

func (g *guard) Session(ctx context.Context, id string, now time.Time) (*channels.Session, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Session, error) { return g.Store.Session(ctx, id, now) })
}

func (g *guard) PutSession(ctx context.Context, ss ...*channels.Session) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.PutSession(ctx, ss...) })
}

func (g *guard) DeleteSession(ctx context.Context, id string) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.DeleteSession(ctx, id) })
}

func (g *guard) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.Store.PurgeSessions(ctx, now) })
}

func (g *guard) CreateCase(ctx context.Context, c *channels.Case) (*channels.Case, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Case, error) { return g.Store.CreateCase(ctx, c) })
}

func (g *guard) Case(ctx context.Context, ref string) (*channels.Case, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Case, error) { return g.Store.Case(ctx, ref) })
}

func (g *guard) CasesByPhone(ctx context.Context, phone string, limit int) ([]*channels.Case, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Case, error) { return g.Store.CasesByPhone(ctx, phone, limit) })
}

func (g *guard) CasesByNationalID(ctx context.Context, id string, limit int) ([]*channels.Case, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Case, error) { return g.Store.CasesByNationalID(ctx, id, limit) })
}

func (g *guard) Prefs(ctx context.Context, phone string) (channels.Prefs, error) {
	return call(g, ctx, func(ctx context.Context) (channels.Prefs, error) { return g.Store.Prefs(ctx, phone) })
}

func (g *guard) PutPrefs(ctx context.Context, phone string, p channels.Prefs) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.PutPrefs(ctx, phone, p) })
}

func (g *guard) UpdatePrefs(ctx context.Context, phone string, change func(*channels.Prefs)) (channels.Prefs, error) {
	return call(g, ctx, func(ctx context.Context) (channels.Prefs, error) { return g.Store.UpdatePrefs(ctx, phone, change) })
}

func (g *guard) UpdateCase(ctx context.Context, ref string, change func(*channels.Case) error) (*channels.Case, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Case, error) { return g.Store.UpdateCase(ctx, ref, change) })
}

func (g *guard) ListCases(ctx context.Context, q channels.CaseQuery) ([]*channels.Case, string, error) {
	ctx, cancel := g.bound(ctx)
	defer cancel()
	cs, next, err := g.Store.ListCases(ctx, q)
	return cs, next, g.check(err)
}

func (g *guard) CaseEvents(ctx context.Context, after uint64, limit int) ([]channels.CaseEvent, error) {
	return call(g, ctx, func(ctx context.Context) ([]channels.CaseEvent, error) { return g.Store.CaseEvents(ctx, after, limit) })
}

func (g *guard) Cursor(ctx context.Context, name string) (uint64, error) {
	return call(g, ctx, func(ctx context.Context) (uint64, error) { return g.Store.Cursor(ctx, name) })
}

func (g *guard) PutCursor(ctx context.Context, name string, seq uint64) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.PutCursor(ctx, name, seq) })
}

func (g *guard) Enqueue(ctx context.Context, ms ...*channels.Outbound) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.Enqueue(ctx, ms...) })
}

func (g *guard) Outbound(ctx context.Context, key string) (*channels.Outbound, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Outbound, error) { return g.Store.Outbound(ctx, key) })
}

func (g *guard) DueOutbound(ctx context.Context, kind string, now time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Outbound, error) {
		return g.Store.DueOutbound(ctx, kind, now, limit, skip...)
	})
}

func (g *guard) FailedOutbound(ctx context.Context, kind, after string, limit int) ([]*channels.Outbound, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Outbound, error) {
		return g.Store.FailedOutbound(ctx, kind, after, limit)
	})
}

func (g *guard) RequeueOutbound(ctx context.Context, key string, now time.Time) (*channels.Outbound, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Outbound, error) { return g.Store.RequeueOutbound(ctx, key, now) })
}

func (g *guard) UpdateOutbound(ctx context.Context, m *channels.Outbound) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.UpdateOutbound(ctx, m) })
}

func (g *guard) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	return call(g, ctx, func(ctx context.Context) ([]byte, error) { return g.Store.Secret(ctx, name, size) })
}

func (g *guard) PutDevice(ctx context.Context, d channels.Device) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.PutDevice(ctx, d) })
}

func (g *guard) DeleteDevice(ctx context.Context, phone, token string) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.DeleteDevice(ctx, phone, token) })
}

func (g *guard) Devices(ctx context.Context, phone string) ([]channels.Device, error) {
	return call(g, ctx, func(ctx context.Context) ([]channels.Device, error) { return g.Store.Devices(ctx, phone) })
}

func (g *guard) PutAgency(ctx context.Context, a channels.Agency) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.PutAgency(ctx, a) })
}

func (g *guard) Agency(ctx context.Context, id string) (*channels.Agency, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Agency, error) { return g.Store.Agency(ctx, id) })
}

func (g *guard) Agencies(ctx context.Context) ([]channels.Agency, error) {
	return call(g, ctx, func(ctx context.Context) ([]channels.Agency, error) { return g.Store.Agencies(ctx) })
}

func (g *guard) PutAgencyKey(ctx context.Context, k channels.AgencyKey) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.PutAgencyKey(ctx, k) })
}

func (g *guard) AgencyKey(ctx context.Context, id string) (*channels.AgencyKey, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.AgencyKey, error) { return g.Store.AgencyKey(ctx, id) })
}

func (g *guard) AgencyKeys(ctx context.Context, agency string) ([]channels.AgencyKey, error) {
	return call(g, ctx, func(ctx context.Context) ([]channels.AgencyKey, error) { return g.Store.AgencyKeys(ctx, agency) })
}

func (g *guard) CreateOperator(ctx context.Context, o channels.Operator) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.CreateOperator(ctx, o) })
}

func (g *guard) Operator(ctx context.Context, id string) (*channels.Operator, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Operator, error) { return g.Store.Operator(ctx, id) })
}

func (g *guard) Operators(ctx context.Context) ([]channels.Operator, error) {
	return call(g, ctx, func(ctx context.Context) ([]channels.Operator, error) { return g.Store.Operators(ctx) })
}

func (g *guard) UpdateOperator(ctx context.Context, id string, change func(*channels.Operator) error) (*channels.Operator, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Operator, error) { return g.Store.UpdateOperator(ctx, id, change) })
}

func (g *guard) Audit(ctx context.Context, e channels.AuditEntry) (channels.AuditEntry, error) {
	return call(g, ctx, func(ctx context.Context) (channels.AuditEntry, error) { return g.Store.Audit(ctx, e) })
}

func (g *guard) AuditEntries(ctx context.Context, q channels.AuditQuery) ([]channels.AuditEntry, error) {
	return call(g, ctx, func(ctx context.Context) ([]channels.AuditEntry, error) { return g.Store.AuditEntries(ctx, q) })
}

func (g *guard) VerifyAudit(ctx context.Context) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.Store.VerifyAudit(ctx) })
}

func (g *guard) PurgeOutbound(ctx context.Context, before time.Time, limit int) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.Store.PurgeOutbound(ctx, before, limit) })
}

func (g *guard) SignOut(ctx context.Context, phone string, at, keep time.Time) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.SignOut(ctx, phone, at, keep) })
}

func (g *guard) SignedOut(ctx context.Context, phone string) (time.Time, error) {
	return call(g, ctx, func(ctx context.Context) (time.Time, error) { return g.Store.SignedOut(ctx, phone) })
}

func (g *guard) PurgeSignOuts(ctx context.Context, now time.Time) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.Store.PurgeSignOuts(ctx, now) })
}

// LockKey is not bounded by the guard's deadline: waiting for a key that
// another hop holds (one that waits on an agency's answer) is no outage,
// and the store bounds both its statements and the wait itself.
func (g *guard) LockKey(ctx context.Context, key string) (func(), error) {
	unlock, err := g.Store.LockKey(ctx, key)
	return unlock, g.check(err)
}

func (g *guard) TakeToken(ctx context.Context, key string, every time.Duration, burst int, now time.Time) (time.Duration, bool, error) {
	ctx, cancel := g.bound(ctx)
	defer cancel()
	wait, ok, err := g.Store.TakeToken(ctx, key, every, burst, now)
	return wait, ok, g.check(err)
}

func (g *guard) ClaimOutbound(ctx context.Context, kind, owner string, now, until time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Outbound, error) {
		return g.Store.ClaimOutbound(ctx, kind, owner, now, until, limit, skip...)
	})
}

func (g *guard) ReleaseOutbound(ctx context.Context, owner string, keys ...string) error {
	return g.do(ctx, func(ctx context.Context) error { return g.Store.ReleaseOutbound(ctx, owner, keys...) })
}

func (g *guard) CreateBill(ctx context.Context, b *channels.Bill) (*channels.Bill, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Bill, error) { return g.Store.CreateBill(ctx, b) })
}

func (g *guard) Bill(ctx context.Context, id string) (*channels.Bill, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Bill, error) { return g.Store.Bill(ctx, id) })
}

func (g *guard) FileBill(ctx context.Context, id, ref string) (*channels.Bill, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Bill, error) { return g.Store.FileBill(ctx, id, ref) })
}

func (g *guard) UnfiledBills(ctx context.Context, limit int) ([]*channels.Bill, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Bill, error) { return g.Store.UnfiledBills(ctx, limit) })
}

func (g *guard) StartPayment(ctx context.Context, p *channels.Payment) (*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Payment, error) { return g.Store.StartPayment(ctx, p) })
}

func (g *guard) Payment(ctx context.Context, id string) (*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Payment, error) { return g.Store.Payment(ctx, id) })
}

func (g *guard) PaymentByRef(ctx context.Context, provider, ref string) (*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Payment, error) { return g.Store.PaymentByRef(ctx, provider, ref) })
}

func (g *guard) PaymentByReceipt(ctx context.Context, provider, receipt string) (*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Payment, error) {
		return g.Store.PaymentByReceipt(ctx, provider, receipt)
	})
}

func (g *guard) UpdatePayment(ctx context.Context, id string, change func(*channels.Payment, *channels.Bill) error) (*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Payment, error) { return g.Store.UpdatePayment(ctx, id, change) })
}

func (g *guard) AddRefund(ctx context.Context, id string, refundable int64, r channels.Refund) (*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) (*channels.Payment, error) { return g.Store.AddRefund(ctx, id, refundable, r) })
}

func (g *guard) OpenPayments(ctx context.Context, limit int) ([]*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Payment, error) { return g.Store.OpenPayments(ctx, limit) })
}

func (g *guard) BillPayments(ctx context.Context, id string) ([]*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Payment, error) { return g.Store.BillPayments(ctx, id) })
}

func (g *guard) PaymentsByPhone(ctx context.Context, phone string, limit int) ([]*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Payment, error) {
		return g.Store.PaymentsByPhone(ctx, phone, limit)
	})
}

func (g *guard) PaymentsCreated(ctx context.Context, from, to time.Time) ([]*channels.Payment, error) {
	return call(g, ctx, func(ctx context.Context) ([]*channels.Payment, error) { return g.Store.PaymentsCreated(ctx, from, to) })
}

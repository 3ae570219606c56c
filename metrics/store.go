package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/govchannels/channels"
)

// storeOps are the classes of store operation whose failures are counted.
var storeOps = []string{"session", "lock", "limits", "case", "prefs", "outbox", "purge", "health", "payment"}

// store counts the failures of the store operations every hop and every
// outbox attempt make, and the cases created. The operations it does not
// override (operators, audit, agencies, devices: the admin's and the
// kiosk's, not a hop's) pass through uncounted.
type store struct {
	channels.Store
	cases                                                     *prometheus.CounterVec
	session, lock, limits, cas, prefs, box, purge, probe, pay prometheus.Counter
}

// Store wraps db so that the failures of its hop and outbox operations
// are counted by class (channels_store_errors_total) and each case it
// creates by service and channel (channels_cases_created_total).
func (m *Metrics) Store(db channels.Store) channels.Store {
	e := m.storeErrors
	return &store{
		Store: db, cases: m.cases,
		session: e.WithLabelValues("session"), lock: e.WithLabelValues("lock"), limits: e.WithLabelValues("limits"), cas: e.WithLabelValues("case"), prefs: e.WithLabelValues("prefs"),
		box: e.WithLabelValues("outbox"), purge: e.WithLabelValues("purge"), probe: e.WithLabelValues("health"),
		pay: e.WithLabelValues("payment"),
	}
}

// failed counts err on c when it is the store's own failure, not a domain
// answer (not found, conflict, invalid, too large, forbidden) nor a
// caller that went away, and returns it.
func failed(c prometheus.Counter, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err // a caller that went away is not the store failing
	}
	switch channels.ErrorCode(err) {
	case channels.EINTERNAL, channels.EUNAVAILABLE:
		c.Inc()
	}
	return err
}

func (s *store) Session(ctx context.Context, id string, now time.Time) (*channels.Session, error) {
	sess, err := s.Store.Session(ctx, id, now)
	return sess, failed(s.session, err)
}

func (s *store) PutSession(ctx context.Context, ss ...*channels.Session) error {
	return failed(s.session, s.Store.PutSession(ctx, ss...))
}

func (s *store) DeleteSession(ctx context.Context, id string) error {
	return failed(s.session, s.Store.DeleteSession(ctx, id))
}

func (s *store) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	n, err := s.Store.PurgeSessions(ctx, now)
	return n, failed(s.purge, err)
}

func (s *store) PurgeOutbound(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.Store.PurgeOutbound(ctx, before, limit)
	return n, failed(s.purge, err)
}

// CreateCase counts a case when it is stored anew: a retry that finds the
// case of its idempotency key again gets that case, whose reference is
// not the one drawn for this attempt.
func (s *store) CreateCase(ctx context.Context, c *channels.Case) (*channels.Case, error) {
	ref := c.Ref
	got, err := s.Store.CreateCase(ctx, c)
	if err == nil && got != nil && got.Ref == ref {
		s.cases.WithLabelValues(c.Service, string(c.Channel)).Inc()
	}
	return got, failed(s.cas, err)
}

func (s *store) Case(ctx context.Context, ref string) (*channels.Case, error) {
	c, err := s.Store.Case(ctx, ref)
	return c, failed(s.cas, err)
}

func (s *store) CasesByPhone(ctx context.Context, phone string, limit int) ([]*channels.Case, error) {
	cs, err := s.Store.CasesByPhone(ctx, phone, limit)
	return cs, failed(s.cas, err)
}

func (s *store) UpdateCase(ctx context.Context, ref string, change func(*channels.Case) error) (*channels.Case, error) {
	c, err := s.Store.UpdateCase(ctx, ref, change)
	return c, failed(s.cas, err)
}

func (s *store) Prefs(ctx context.Context, phone string) (channels.Prefs, error) {
	p, err := s.Store.Prefs(ctx, phone)
	return p, failed(s.prefs, err)
}

func (s *store) UpdatePrefs(ctx context.Context, phone string, change func(*channels.Prefs)) (channels.Prefs, error) {
	p, err := s.Store.UpdatePrefs(ctx, phone, change)
	return p, failed(s.prefs, err)
}

func (s *store) Enqueue(ctx context.Context, ms ...*channels.Outbound) error {
	return failed(s.box, s.Store.Enqueue(ctx, ms...))
}

func (s *store) DueOutbound(ctx context.Context, kind string, now time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	ms, err := s.Store.DueOutbound(ctx, kind, now, limit, skip...)
	return ms, failed(s.box, err)
}

func (s *store) UpdateOutbound(ctx context.Context, m *channels.Outbound) error {
	return failed(s.box, s.Store.UpdateOutbound(ctx, m))
}

func (s *store) ClaimOutbound(ctx context.Context, kind, owner string, now, until time.Time, limit int, skip ...string) ([]*channels.Outbound, error) {
	ms, err := s.Store.ClaimOutbound(ctx, kind, owner, now, until, limit, skip...)
	return ms, failed(s.box, err)
}

func (s *store) ReleaseOutbound(ctx context.Context, owner string, keys ...string) error {
	return failed(s.box, s.Store.ReleaseOutbound(ctx, owner, keys...))
}

// LockKey counts a failure to take a session's or a phone's lock, the
// first store call of a hop on PostgreSQL.
func (s *store) LockKey(ctx context.Context, key string) (func(), error) {
	unlock, err := s.Store.LockKey(ctx, key)
	return unlock, failed(s.lock, err)
}

func (s *store) TakeToken(ctx context.Context, key string, every time.Duration, burst int, now time.Time) (time.Duration, bool, error) {
	wait, ok, err := s.Store.TakeToken(ctx, key, every, burst, now)
	return wait, ok, failed(s.limits, err)
}

// The ledger's operations, counted under "payment".

func (s *store) CreateBill(ctx context.Context, b *channels.Bill) (*channels.Bill, error) {
	v, err := s.Store.CreateBill(ctx, b)
	return v, failed(s.pay, err)
}

func (s *store) Bill(ctx context.Context, id string) (*channels.Bill, error) {
	v, err := s.Store.Bill(ctx, id)
	return v, failed(s.pay, err)
}

func (s *store) FileBill(ctx context.Context, id, ref string) (*channels.Bill, error) {
	v, err := s.Store.FileBill(ctx, id, ref)
	return v, failed(s.pay, err)
}

func (s *store) UnfiledBills(ctx context.Context, limit int) ([]*channels.Bill, error) {
	v, err := s.Store.UnfiledBills(ctx, limit)
	return v, failed(s.pay, err)
}

func (s *store) StartPayment(ctx context.Context, p *channels.Payment) (*channels.Payment, error) {
	v, err := s.Store.StartPayment(ctx, p)
	return v, failed(s.pay, err)
}

func (s *store) Payment(ctx context.Context, id string) (*channels.Payment, error) {
	v, err := s.Store.Payment(ctx, id)
	return v, failed(s.pay, err)
}

func (s *store) PaymentByRef(ctx context.Context, provider, ref string) (*channels.Payment, error) {
	v, err := s.Store.PaymentByRef(ctx, provider, ref)
	return v, failed(s.pay, err)
}

func (s *store) PaymentByReceipt(ctx context.Context, provider, receipt string) (*channels.Payment, error) {
	v, err := s.Store.PaymentByReceipt(ctx, provider, receipt)
	return v, failed(s.pay, err)
}

func (s *store) UpdatePayment(ctx context.Context, id string, change func(*channels.Payment, *channels.Bill) error) (*channels.Payment, error) {
	v, err := s.Store.UpdatePayment(ctx, id, change)
	return v, failed(s.pay, err)
}

func (s *store) AddRefund(ctx context.Context, id string, refundable int64, r channels.Refund) (*channels.Payment, error) {
	v, err := s.Store.AddRefund(ctx, id, refundable, r)
	return v, failed(s.pay, err)
}

func (s *store) OpenPayments(ctx context.Context, limit int) ([]*channels.Payment, error) {
	v, err := s.Store.OpenPayments(ctx, limit)
	return v, failed(s.pay, err)
}

func (s *store) BillPayments(ctx context.Context, id string) ([]*channels.Payment, error) {
	v, err := s.Store.BillPayments(ctx, id)
	return v, failed(s.pay, err)
}

func (s *store) PaymentsByPhone(ctx context.Context, phone string, limit int) ([]*channels.Payment, error) {
	v, err := s.Store.PaymentsByPhone(ctx, phone, limit)
	return v, failed(s.pay, err)
}

func (s *store) PaymentsCreated(ctx context.Context, from, to time.Time) ([]*channels.Payment, error) {
	v, err := s.Store.PaymentsCreated(ctx, from, to)
	return v, failed(s.pay, err)
}

// Probe is the health check's read: a session that never exists, looked
// up within timeout. Nil when the store answered (not found is an
// answer); a failure is counted as op "health", once when db is the
// decorator Store returns (a wrapper around it counts the read under
// "session" too).
func (m *Metrics) Probe(ctx context.Context, db channels.SessionStore, timeout time.Duration) error {
	if s, ok := db.(*store); ok {
		db = s.Store
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := db.Session(ctx, "healthz/probe", time.Now())
	if err == nil || channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil
	}
	m.storeErrors.WithLabelValues("health").Inc()
	return err
}

// Package demopay is a demonstration of the mobile-money providers: one
// HTTP handler that serves a fake Safaricom Daraja (M-Pesa Express, its
// query, reversals, C2B confirmations) and a fake MTN MoMo (Collection's
// request to pay, Disbursement's refund), so that fees can be tried end
// to end on a laptop and the mpesa and momo clients tested against a real
// HTTP server. It is never needed in production, and no money is in it.
//
// It checks every request as the real APIs do: the OAuth tokens (Daraja's
// Basic consumer key and secret, MoMo's Basic API user and key with the
// product's Ocp-Apim-Subscription-Key), a Bearer token on every call, the
// token's expiry; Daraja's Password recomputed from shortcode, passkey
// and Timestamp, the Timestamp's layout and freshness (within 5 minutes of
// Nairobi's clock), every field's presence, format and length
// (AccountReference at most 12, TransactionDesc at most 13, MSISDNs
// 2547.../2541..., a whole positive Amount); MoMo's X-Target-Environment,
// X-Reference-Id a UUID v4 and 409 RESOURCE_ALREADY_EXIST on a reused one,
// the amount a decimal string of the currency's scale. Unknown fields are
// refused. A refusal is the provider's own error shape.
//
// It holds the payments it was asked for and settles each one after
// Config.SettleAfter, as the phone's last three digits say:
//
//	...001  refused: insufficient funds   (M-Pesa 1, MoMo NOT_ENOUGH_FUNDS)
//	...032  cancelled by the payer         (M-Pesa 1032, MoMo APPROVAL_REJECTED)
//	...019  the prompt expires             (M-Pesa 1019, MoMo EXPIRED)
//	...037  the phone cannot be reached    (M-Pesa 1037, MoMo PAYER_NOT_FOUND)
//	...201  wrong PIN                      (M-Pesa 2001, MoMo APPROVAL_REJECTED)
//	...500  the provider fails             (M-Pesa 1025, MoMo INTERNAL_PROCESSING_ERROR)
//	...902  paid, the callback sent twice
//	...903  paid, the callback sent late (Config.Late)
//	...904  paid, the callback never sent
//	...905  never settles: stays pending until the control API settles it
//	...908  the request is taken but its answer lost: held until the caller
//	        gives up (or Config.Slow), then a 504
//	other   paid, one callback
//
// An STK push to a phone whose prompt is still open is accepted and fails
// at once with 1001, as Daraja does. The control API (Server's methods,
// and the same over HTTP under /demo/) settles a payment any way, calls
// back again, pays a bill a second time through the paybill (a C2B
// confirmation with a second receipt), delivers a C2B confirmation,
// revokes every token, and lists a day's transactions for reconciliation.
//
// Everything is in memory and gone when it stops.
package demopay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
)

// The demonstration's defaults and limits.
const (
	// DefaultSettleAfter is how long a payment waits for its payer.
	DefaultSettleAfter = 5 * time.Second
	// DefaultLate is how late a late callback comes.
	DefaultLate = 30 * time.Second
	// DefaultSlow is how long a lost answer is held at most.
	DefaultSlow = 60 * time.Second
	// DefaultTokenTTL is how long an access token lives.
	DefaultTokenTTL = time.Hour
	// TimestampSkew is how far a Daraja Timestamp may be from the clock.
	TimestampSkew = 5 * time.Minute
	// MaxBody is the largest request body taken.
	MaxBody = 16 << 10
)

// Daraja is the fake Daraja app's credentials and paybill.
type Daraja struct {
	ConsumerKey, ConsumerSecret string
	ShortCode, Passkey          string
	// Initiator and SecurityCredential are what reversals must carry.
	Initiator, SecurityCredential string
}

// Product is one fake MoMo product's credentials.
type Product struct {
	SubscriptionKey, APIUser, APIKey string
}

// MoMo is the fake MoMo account.
type MoMo struct {
	TargetEnvironment        string
	Collection, Disbursement Product
}

// Config is what a Server accepts and how it behaves.
type Config struct {
	Daraja Daraja
	MoMo   MoMo
	// C2BConfirmationURL receives C2B confirmations (the paybill's
	// registered confirmation URL); "" sends none unless the control
	// call names one.
	C2BConfirmationURL string
	// Now is the clock of tokens, timestamps and statements; nil is
	// time.Now.
	Now func() time.Time
	// SettleAfter is how long a payment waits before it settles as its
	// magic phone says; zero is DefaultSettleAfter, negative never: only
	// the control API settles (tests).
	SettleAfter time.Duration
	// Late, Slow and TokenTTL: zero is their default.
	Late, Slow, TokenTTL time.Duration
	// Client sends the callbacks; nil is a client with a 10 s time-out.
	Client *http.Client
	// Log receives a line per request and callback; nil discards.
	Log *slog.Logger
}

// Outcome is how a payer settles a prompt.
type Outcome string

// The outcomes.
const (
	Approve     Outcome = "approve"
	Refuse      Outcome = "refuse" // insufficient funds
	Cancel      Outcome = "cancel"
	Expire      Outcome = "expire" // the payer never answers
	Unreachable Outcome = "unreachable"
	WrongPIN    Outcome = "wrong_pin"
	Fail        Outcome = "fail" // the provider's own failure
	busy        Outcome = "busy" // M-Pesa's 1001, never asked for
)

// Delivery is how the callback of a settled payment is sent.
type Delivery string

// The deliveries.
const (
	Once  Delivery = "once"
	Twice Delivery = "twice"
	Late  Delivery = "late"
	Never Delivery = "never"
)

// result is an outcome in each provider's words.
type result struct {
	code, desc string // M-Pesa
	reason     string // MoMo; "" for a success
}

var results = map[Outcome]result{
	Approve:     {"0", "The service request is processed successfully.", ""},
	Refuse:      {"1", "The balance is insufficient for the transaction.", "NOT_ENOUGH_FUNDS"},
	Cancel:      {"1032", "Request cancelled by user", "APPROVAL_REJECTED"},
	Expire:      {"1019", "Transaction has expired", "EXPIRED"},
	Unreachable: {"1037", "DS timeout user cannot be reached", "PAYER_NOT_FOUND"},
	WrongPIN:    {"2001", "The initiator information is invalid.", "APPROVAL_REJECTED"},
	Fail:        {"1025", "An error occurred while sending a push request", "INTERNAL_PROCESSING_ERROR"},
	busy:        {"1001", "Unable to lock subscriber, a transaction is already in process for the current subscriber", ""},
}

// magic is what a phone's last three digits make happen.
type magic struct {
	outcome  Outcome
	delivery Delivery
	pending  bool // never settles by itself
	lost     bool // the request's answer is lost
}

var magics = map[string]magic{
	"001": {outcome: Refuse, delivery: Once},
	"032": {outcome: Cancel, delivery: Once},
	"019": {outcome: Expire, delivery: Once},
	"037": {outcome: Unreachable, delivery: Once},
	"201": {outcome: WrongPIN, delivery: Once},
	"500": {outcome: Fail, delivery: Once},
	"902": {outcome: Approve, delivery: Twice},
	"903": {outcome: Approve, delivery: Late},
	"904": {outcome: Approve, delivery: Never},
	"905": {pending: true},
	"908": {outcome: Approve, delivery: Once, lost: true},
}

func magicOf(phone string) magic {
	if len(phone) >= 3 {
		if m, ok := magics[phone[len(phone)-3:]]; ok {
			return m
		}
	}
	return magic{outcome: Approve, delivery: Once}
}

// The providers' names, as Payment.Provider says them.
const (
	MPesa = "mpesa"
	MTN   = "momo"
)

// Payment is one request to pay the server was asked for.
type Payment struct {
	Provider    string
	Ref         string // CheckoutRequestID or X-Reference-Id
	Merchant    string `json:",omitempty"` // M-Pesa's MerchantRequestID
	Bill        string // AccountReference, or MoMo's externalId
	Phone       string // MSISDN, digits
	Amount      channels.Money
	Status      string  // PENDING, SUCCESSFUL, FAILED
	Outcome     Outcome `json:",omitempty"`
	Receipt     string  `json:",omitempty"`
	CallbackURL string  `json:",omitempty"`
	Callbacks   int     // callbacks answered 2xx
	At          time.Time
	SettledAt   time.Time `json:",omitzero"`

	// momo keeps the request's body for the GET and callback.
	payerMessage, payeeNote string
	timer                   *time.Timer
}

// Refund is one refund (MoMo) or reversal (M-Pesa).
type Refund struct {
	Provider string
	Ref      string // MoMo's X-Reference-Id, M-Pesa's ConversationID
	Of       string // the refunded payment's Ref
	Receipt  string `json:",omitempty"`
	Amount   channels.Money
	Status   string
	Reason   string `json:",omitempty"`
	At       time.Time

	originator, resultURL, externalID, payerMessage, payeeNote string
}

// Transaction is a line of a day's statement: money that moved.
type Transaction struct {
	Provider string
	Kind     string // "payment", "c2b", "refund", "reversal"
	Ref      string
	Receipt  string
	Bill     string `json:",omitempty"`
	Phone    string `json:",omitempty"`
	Amount   channels.Money
	At       time.Time
}

// Server is the demonstration provider.
type Server struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	tokens   map[string]token
	payments map[string]*Payment // by Ref
	refunds  map[string]*Refund  // by Ref
	c2b      []Transaction
	counter  int
	base     context.Context
	stop     context.CancelFunc
}

type token struct {
	api     string // "daraja", "collection", "disbursement"
	expires time.Time
}

// New returns a Server over cfg. Both providers' credentials are needed.
func New(cfg Config) (*Server, error) {
	d, m := cfg.Daraja, cfg.MoMo
	switch {
	case d.ConsumerKey == "" || d.ConsumerSecret == "" || d.Passkey == "" || d.Initiator == "" || d.SecurityCredential == "":
		return nil, errors.New("demopay: Daraja needs a consumer key and secret, a passkey, an initiator and its credential")
	case !shortCode.MatchString(d.ShortCode):
		return nil, fmt.Errorf("demopay: Daraja shortcode %q is not 5 to 7 digits", d.ShortCode)
	case m.TargetEnvironment == "":
		return nil, errors.New("demopay: MoMo needs a target environment")
	}
	for name, p := range map[string]Product{"Collection": m.Collection, "Disbursement": m.Disbursement} {
		if p.SubscriptionKey == "" || p.APIKey == "" || !uuidV4.MatchString(p.APIUser) {
			return nil, fmt.Errorf("demopay: MoMo %s needs a subscription key, an API user (a UUID v4) and its key", name)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SettleAfter == 0 {
		cfg.SettleAfter = DefaultSettleAfter
	}
	if cfg.Late <= 0 {
		cfg.Late = DefaultLate
	}
	if cfg.Slow <= 0 {
		cfg.Slow = DefaultSlow
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, stop := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, log: log,
		tokens:   map[string]token{},
		payments: map[string]*Payment{},
		refunds:  map[string]*Refund{},
		base:     base, stop: stop,
	}, nil
}

// Close stops the pending settlements and the callbacks in flight.
func (s *Server) Close() {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.payments {
		if p.timer != nil {
			p.timer.Stop()
		}
	}
}

// Handler serves Daraja's paths, MoMo's, and the control API under
// /demo/.
func (s *Server) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody)
		c.Next()
	})
	s.darajaRoutes(r)
	s.momoRoutes(r)
	s.controlRoutes(r)
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"error": "method not allowed"})
	})
	r.NoRoute(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no such path"})
	})
	return r
}

// issue makes a token of api.
func (s *Server) issue(api string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	t := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t] = token{api: api, expires: s.cfg.Now().Add(s.cfg.TokenTTL)}
	return t
}

// bearer reports whether r carries a live token of api.
func (s *Server) bearer(r *http.Request, api string) bool {
	t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[t]
	return ok && tok.api == api && s.cfg.Now().Before(tok.expires)
}

// RevokeTokens forgets every token issued, as a provider does when it
// rotates them early: the next call of each client is a 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// next is a fresh serial number.
func (s *Server) next() int {
	s.counter++
	return s.counter
}

// receipt is an M-Pesa-like receipt: ten upper-case letters and digits.
func (s *Server) receipt() string {
	return "DP" + strings.ToUpper(fmt.Sprintf("%08s", strconv.FormatInt(int64(s.next()), 36)))
}

// ErrUnknown is the control API's answer for a reference it never saw.
var ErrUnknown = errors.New("demopay: no such payment")

// ErrSettled is the control API's answer for settling a payment twice.
var ErrSettled = errors.New("demopay: the payment is already settled")

// Payment returns a copy of the payment whose reference is ref.
func (s *Server) Payment(ref string) (Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[ref]
	if !ok {
		return Payment{}, false
	}
	return *p, true
}

// Payments returns a copy of every payment, oldest first.
func (s *Server) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Payment, 0, len(s.payments))
	for _, p := range s.payments {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Payment) int { return a.At.Compare(b.At) })
	return out
}

// Settle settles the pending payment ref with outcome o and sends its
// callback as d says.
func (s *Server) Settle(ref string, o Outcome, d Delivery) error {
	if _, ok := results[o]; !ok || o == busy {
		return fmt.Errorf("demopay: unknown outcome %q", o)
	}
	if !slices.Contains([]Delivery{Once, Twice, Late, Never}, d) {
		return fmt.Errorf("demopay: unknown delivery %q", d)
	}
	s.mu.Lock()
	p, ok := s.payments[ref]
	if !ok {
		s.mu.Unlock()
		return ErrUnknown
	}
	if p.Status != "PENDING" {
		s.mu.Unlock()
		return ErrSettled
	}
	s.settleLocked(p, o)
	s.mu.Unlock()
	s.deliver(ref, d)
	return nil
}

// settleLocked moves p to o's state.
func (s *Server) settleLocked(p *Payment, o Outcome) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.Outcome, p.SettledAt = o, s.cfg.Now()
	if o != Approve {
		p.Status = "FAILED"
		return
	}
	p.Status = "SUCCESSFUL"
	if p.Provider == MPesa {
		p.Receipt = s.receipt()
	} else {
		p.Receipt = strconv.Itoa(300000000 + s.next())
	}
	s.log.Info("demo-pay settled", "provider", p.Provider, "ref", p.Ref, "outcome", o, "phone", channels.MaskPhone("+"+p.Phone))
}

// schedule settles p after SettleAfter as its phone's magic says.
func (s *Server) scheduleLocked(p *Payment, m magic) {
	if s.cfg.SettleAfter < 0 || m.pending {
		return
	}
	ref := p.Ref
	p.timer = time.AfterFunc(s.cfg.SettleAfter, func() {
		if s.base.Err() != nil {
			return
		}
		s.mu.Lock()
		p, ok := s.payments[ref]
		if !ok || p.Status != "PENDING" {
			s.mu.Unlock()
			return
		}
		s.settleLocked(p, m.outcome)
		s.mu.Unlock()
		s.deliver(ref, m.delivery)
	})
}

// deliver sends ref's callback as d says.
func (s *Server) deliver(ref string, d Delivery) {
	switch d {
	case Once:
		go s.callback(ref)
	case Twice:
		go func() {
			s.callback(ref)
			s.callback(ref)
		}()
	case Late:
		time.AfterFunc(s.cfg.Late, func() { s.callback(ref) })
	}
}

// CallBack sends the callback of the settled payment ref again, now, and
// waits for its answer: a provider's duplicate, or a late one.
func (s *Server) CallBack(ref string) error {
	s.mu.Lock()
	p, ok := s.payments[ref]
	settled := ok && p.Status != "PENDING"
	s.mu.Unlock()
	switch {
	case !ok:
		return ErrUnknown
	case !settled:
		return errors.New("demopay: the payment is still pending: settle it first")
	}
	return s.callback(ref)
}

// callback sends ref's callback to its URL once.
func (s *Server) callback(ref string) error {
	s.mu.Lock()
	p, ok := s.payments[ref]
	if !ok || p.CallbackURL == "" {
		s.mu.Unlock()
		return nil
	}
	method, body := http.MethodPost, s.stkCallbackLocked(p)
	if p.Provider == MTN {
		method, body = http.MethodPut, s.momoResultLocked(p)
	}
	url := p.CallbackURL
	s.mu.Unlock()
	status, err := s.send(method, url, body)
	if err != nil {
		s.log.Warn("demo-pay callback failed", "ref", ref, "err", err)
		return err
	}
	if status/100 == 2 {
		s.mu.Lock()
		p.Callbacks++
		s.mu.Unlock()
	}
	s.log.Info("demo-pay called back", "ref", ref, "status", status)
	if status/100 != 2 {
		return fmt.Errorf("demopay: callback to %s: HTTP %d", url, status)
	}
	return nil
}

// send posts body to url and returns the answer's status.
func (s *Server) send(method, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(s.base, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Transactions is the statement of day (its date in Nairobi): every
// payment paid, C2B payment and refund or reversal made that day.
func (s *Server) Transactions(day time.Time) []Transaction {
	y, m, d := day.In(nairobi).Date()
	same := func(t time.Time) bool {
		ty, tm, td := t.In(nairobi).Date()
		return ty == y && tm == m && td == d
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Transaction
	for _, p := range s.payments {
		if p.Status == "SUCCESSFUL" && same(p.SettledAt) {
			out = append(out, Transaction{Provider: p.Provider, Kind: "payment", Ref: p.Ref, Receipt: p.Receipt, Bill: p.Bill, Phone: p.Phone, Amount: p.Amount, At: p.SettledAt})
		}
	}
	for _, r := range s.refunds {
		if r.Status == "SUCCESSFUL" && same(r.At) {
			kind := "refund"
			if r.Provider == MPesa {
				kind = "reversal"
			}
			out = append(out, Transaction{Provider: r.Provider, Kind: kind, Ref: r.Ref, Receipt: r.Receipt, Amount: r.Amount, At: r.At})
		}
	}
	for _, t := range s.c2b {
		if same(t.At) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Transaction) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Receipt, b.Receipt)
	})
	return out
}

// C2B is a payment made by the payer's own initiative to the paybill.
type C2B struct {
	Bill   string         // BillRefNumber, the account the payer typed
	Phone  string         // the payer's MSISDN, 2547...
	Amount channels.Money // KES, whole shillings
	// URL receives the confirmation; "" is Config.C2BConfirmationURL.
	URL string
}

// DeliverC2B records the C2B payment c and posts its confirmation,
// returning its receipt once the confirmation was answered.
func (s *Server) DeliverC2B(c C2B) (string, error) {
	if c.Amount.Currency != "KES" || c.Amount.Amount <= 0 || c.Amount.Amount%100 != 0 {
		return "", fmt.Errorf("demopay: C2B amount %d %s is not whole shillings", c.Amount.Amount, c.Amount.Currency)
	}
	if !kenyanMSISDN.MatchString(c.Phone) {
		return "", fmt.Errorf("demopay: C2B phone %q is not an MSISDN of the form 2547XXXXXXXX or 2541XXXXXXXX", c.Phone)
	}
	if c.Bill == "" {
		return "", errors.New("demopay: C2B needs a bill")
	}
	url := c.URL
	if url == "" {
		url = s.cfg.C2BConfirmationURL
	}
	if url == "" {
		return "", errors.New("demopay: no C2B confirmation URL: configure one or name it")
	}
	s.mu.Lock()
	now := s.cfg.Now()
	t := Transaction{Provider: MPesa, Kind: "c2b", Receipt: s.receipt(), Bill: c.Bill, Phone: c.Phone, Amount: c.Amount, At: now}
	t.Ref = t.Receipt
	s.c2b = append(s.c2b, t)
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]string{
		"TransactionType":   "Pay Bill",
		"TransID":           t.Receipt,
		"TransTime":         now.In(nairobi).Format(timestampLayout),
		"TransAmount":       strconv.FormatInt(c.Amount.Amount/100, 10) + ".00",
		"BusinessShortCode": s.cfg.Daraja.ShortCode,
		"BillRefNumber":     c.Bill,
		"InvoiceNumber":     "",
		"OrgAccountBalance": "",
		"ThirdPartyTransID": "",
		"MSISDN":            c.Phone,
		"FirstName":         "Demo",
		"MiddleName":        "",
		"LastName":          "Payer",
	})
	status, err := s.send(http.MethodPost, url, body)
	if err != nil {
		return t.Receipt, fmt.Errorf("demopay: C2B confirmation to %s: %w", url, err)
	}
	if status/100 != 2 {
		return t.Receipt, fmt.Errorf("demopay: C2B confirmation to %s: HTTP %d", url, status)
	}
	return t.Receipt, nil
}

// PayAgain makes the payer of the paid M-Pesa payment ref pay its bill a
// second time through the paybill's menu: a C2B payment of the same
// amount with a second receipt, confirmed to Config.C2BConfirmationURL.
// MoMo has no payment without a request: a second payment there is a
// second request, approved.
func (s *Server) PayAgain(ref string) (string, error) {
	s.mu.Lock()
	p, ok := s.payments[ref]
	var c C2B
	if ok {
		c = C2B{Bill: p.Bill, Phone: p.Phone, Amount: p.Amount}
	}
	paid := ok && p.Status == "SUCCESSFUL"
	provider := ""
	if ok {
		provider = p.Provider
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return "", ErrUnknown
	case provider != MPesa:
		return "", errors.New("demopay: MoMo takes no payment without a request: request again and approve it")
	case !paid:
		return "", errors.New("demopay: the payment is not paid: settle it first")
	}
	return s.DeliverC2B(c)
}

package mpesa_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/demopay"
	"github.com/govchannels/channels/mpesa"
	"github.com/govchannels/channels/payment"
)

// start is a Wednesday morning in Nairobi.
var start = time.Date(2026, 12, 2, 6, 40, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var credentials = demopay.Config{
	Daraja: demopay.Daraja{
		ConsumerKey: "demo-consumer-key", ConsumerSecret: "demo-consumer-secret",
		ShortCode: "174379", Passkey: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
		Initiator: "testapi", SecurityCredential: "demo-security-credential",
	},
	MoMo: demopay.MoMo{
		TargetEnvironment: "sandbox",
		Collection:        demopay.Product{SubscriptionKey: "col-key", APIUser: "2b7c5a1e-8d3f-4c6a-9e2b-1f0d7c3a5b8e", APIKey: "col-secret"},
		Disbursement:      demopay.Product{SubscriptionKey: "dis-key", APIUser: "7e1d3c5b-9a2f-4b8e-8c6d-0a4f2e8b6c1d", APIKey: "dis-secret"},
	},
}

// received is one notification that reached our side.
type received struct {
	path string
	body []byte
}

// world is a demopay on a real port, our callback receiver on another,
// and a client of the first that names the second.
type world struct {
	t        *testing.T
	clock    *clock
	pay      *demopay.Server
	client   *mpesa.Client
	inbox    chan received
	tokens   atomic.Int32 // OAuth requests the client made
	callback string       // the receiver's base URL
}

type option func(*demopay.Config, *mpesa.Config)

func newWorld(t *testing.T, opts ...option) *world {
	t.Helper()
	gin.SetMode(gin.TestMode)
	w := &world{t: t, clock: &clock{now: start}, inbox: make(chan received, 16)}
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, mpesa.MaxNotification+1))
		w.inbox <- received{path: r.URL.Path, body: body}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, `{"ResultCode": 0, "ResultDesc": "Accepted"}`)
	}))
	t.Cleanup(receiver.Close)
	w.callback = receiver.URL

	pcfg := credentials
	pcfg.Now, pcfg.SettleAfter = w.clock.Now, -1
	pcfg.Late = 50 * time.Millisecond
	pcfg.C2BConfirmationURL = receiver.URL + "/c2b/confirmation"
	ccfg := mpesa.Config{
		ConsumerKey: pcfg.Daraja.ConsumerKey, ConsumerSecret: pcfg.Daraja.ConsumerSecret,
		ShortCode: pcfg.Daraja.ShortCode, Passkey: pcfg.Daraja.Passkey,
		CallbackURL:        func(attempt string) string { return receiver.URL + "/mpesa/stk/" + attempt },
		Initiator:          pcfg.Daraja.Initiator,
		SecurityCredential: pcfg.Daraja.SecurityCredential,
		ReversalResultURL:  func(refund string) string { return receiver.URL + "/mpesa/reversal/" + refund },
		ReversalTimeoutURL: func(refund string) string { return receiver.URL + "/mpesa/reversal-timeout/" + refund },
		HTTP:               &http.Client{Timeout: 5 * time.Second, Transport: countTokens{&w.tokens}},
		Now:                w.clock.Now,
	}
	for _, o := range opts {
		o(&pcfg, &ccfg)
	}
	pay, err := demopay.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pay.Close)
	hs := httptest.NewServer(pay.Handler())
	t.Cleanup(hs.Close)
	ccfg.BaseURL = hs.URL
	if w.client, err = mpesa.New(ccfg); err != nil {
		t.Fatal(err)
	}
	w.pay = pay
	return w
}

// countTokens counts the OAuth requests that pass.
type countTokens struct{ n *atomic.Int32 }

func (c countTokens) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/oauth/") {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// next is the next notification, within 5 seconds.
func (w *world) next() received {
	w.t.Helper()
	select {
	case r := <-w.inbox:
		return r
	case <-time.After(5 * time.Second):
		w.t.Fatal("no notification arrived")
		return received{}
	}
}

// quiet checks that no notification arrives for d.
func (w *world) quiet(d time.Duration) {
	w.t.Helper()
	select {
	case r := <-w.inbox:
		w.t.Fatalf("an unexpected notification to %s: %s", r.path, r.body)
	case <-time.After(d):
	}
}

func (w *world) request(attempt, phone string) payment.Accepted {
	w.t.Helper()
	acc, err := w.client.Request(context.Background(), req(attempt, phone))
	if err != nil {
		w.t.Fatal(err)
	}
	if !strings.HasPrefix(acc.Ref, "ws_CO_") {
		w.t.Fatalf("Ref = %q; want a CheckoutRequestID", acc.Ref)
	}
	return acc
}

func (w *world) status(ref string) channels.PaymentStatus {
	w.t.Helper()
	st, err := w.client.Status(context.Background(), payment.Attempt{Attempt: "a", Ref: ref, Bill: "B7K2QX"})
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func req(attempt, phone string) payment.Request {
	return payment.Request{
		Attempt: attempt, Bill: "B7K2QX", Phone: phone,
		Amount: channels.Money{Amount: 150000, Currency: "KES"}, Description: "Birth certificate fee",
	}
}

func TestSuccess(t *testing.T) {
	w := newWorld(t)
	acc := w.request("att-1", "+254712345678")
	p, ok := w.pay.Payment(acc.Ref)
	if !ok || p.Bill != "B7K2QX" || p.Amount != (channels.Money{Amount: 150000, Currency: "KES"}) || p.Phone != "254712345678" {
		t.Fatalf("demopay holds %+v, %v", p, ok)
	}
	if st := w.status(acc.Ref); st.State != channels.PaymentPending {
		t.Fatalf("before the payer answers: %+v; want pending", st)
	}
	if err := w.pay.Settle(acc.Ref, demopay.Approve, demopay.Once); err != nil {
		t.Fatal(err)
	}
	cb := w.next()
	if cb.path != "/mpesa/stk/att-1" {
		t.Fatalf("callback to %s; want the attempt's URL", cb.path)
	}
	hint, err := mpesa.ParseCallback(cb.body)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = w.pay.Payment(acc.Ref)
	want := payment.Hint{Provider: "mpesa", Ref: acc.Ref, Receipt: p.Receipt, Paid: p.Amount, Payer: "+254712345678"}
	if hint != want || p.Receipt == "" {
		t.Fatalf("hint = %+v; want %+v", hint, want)
	}
	if st := w.status(acc.Ref); st != (channels.PaymentStatus{State: channels.PaymentSuccess}) {
		t.Fatalf("after paying: %+v; want success", st)
	}
	w.quiet(50 * time.Millisecond)
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		outcome demopay.Outcome
		state   channels.PaymentState
		code    string
	}{
		{"insufficient funds", demopay.Refuse, channels.PaymentFailed, "1"},
		{"cancelled by the payer", demopay.Cancel, channels.PaymentFailed, "1032"},
		{"expired", demopay.Expire, channels.PaymentFailed, "1019"},
		{"unreachable", demopay.Unreachable, channels.PaymentFailed, "1037"},
		{"wrong PIN", demopay.WrongPIN, channels.PaymentFailed, "2001"},
		{"Daraja's own failure", demopay.Fail, channels.PaymentError, "1025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			acc := w.request("att-1", "+254712345678")
			if err := w.pay.Settle(acc.Ref, tt.outcome, demopay.Once); err != nil {
				t.Fatal(err)
			}
			hint, err := mpesa.ParseCallback(w.next().body)
			if err != nil || hint != (payment.Hint{Provider: "mpesa", Ref: acc.Ref}) {
				t.Fatalf("hint = %+v, %v; want one without money", hint, err)
			}
			st := w.status(acc.Ref)
			if st.State != tt.state || !strings.HasPrefix(st.Reason, tt.code+": ") || st.Receipt != "" {
				t.Fatalf("status = %+v; want %s with reason %s", st, tt.state, tt.code)
			}
			if err := w.pay.Settle(acc.Ref, demopay.Approve, demopay.Once); !errors.Is(err, demopay.ErrSettled) {
				t.Fatalf("settling again: %v; want ErrSettled", err)
			}
		})
	}
}

// TestMagicPhones settles by the phone's last digits, as a newcomer
// would see it, with no control call.
func TestMagicPhones(t *testing.T) {
	tests := []struct {
		phone string
		state channels.PaymentState
		code  string
	}{
		{"+254712345001", channels.PaymentFailed, "1"},
		{"+254712345032", channels.PaymentFailed, "1032"},
		{"+254712345019", channels.PaymentFailed, "1019"},
		{"+254712345500", channels.PaymentError, "1025"},
		{"+254712345678", channels.PaymentSuccess, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.phone, func(t *testing.T) {
			w := newWorld(t, func(p *demopay.Config, _ *mpesa.Config) { p.SettleAfter = 10 * time.Millisecond })
			acc := w.request("att-1", tt.phone)
			if _, err := mpesa.ParseCallback(w.next().body); err != nil {
				t.Fatal(err)
			}
			st := w.status(acc.Ref)
			if st.State != tt.state || (tt.code != "0" && !strings.HasPrefix(st.Reason, tt.code+": ")) {
				t.Fatalf("status = %+v; want %s, %s", st, tt.state, tt.code)
			}
		})
	}
}

// TestPromptAlreadyOpen is Daraja's 1001: a second push to a phone whose
// prompt is open is accepted and fails at once; the first is untouched.
func TestPromptAlreadyOpen(t *testing.T) {
	w := newWorld(t)
	first := w.request("att-1", "+254712345678")
	second := w.request("att-2", "+254712345678")
	cb := w.next()
	if cb.path != "/mpesa/stk/att-2" {
		t.Fatalf("callback to %s; want the second attempt's", cb.path)
	}
	if st := w.status(second.Ref); st.State != channels.PaymentFailed || !strings.HasPrefix(st.Reason, "1001: ") {
		t.Fatalf("second = %+v; want failed 1001", st)
	}
	if st := w.status(first.Ref); st.State != channels.PaymentPending {
		t.Fatalf("first = %+v; want still pending", st)
	}
}

// TestLostAnswer: Daraja takes the push but its answer never reaches us.
// Status cannot query without the CheckoutRequestID; a second push meets
// the open prompt (1001) and charges nothing; the first prompt's callback,
// at the attempt's URL, names the request, which Status then reads.
func TestLostAnswer(t *testing.T) {
	w := newWorld(t, func(_ *demopay.Config, c *mpesa.Config) { c.HTTP.Timeout = 300 * time.Millisecond })
	phone := "+254712345908"
	if _, err := w.client.Request(context.Background(), req("att-1", phone)); err == nil {
		t.Fatal("Request succeeded; want its answer lost")
	}
	if _, err := w.client.Status(context.Background(), payment.Attempt{Attempt: "att-1", Bill: "B7K2QX"}); !errors.Is(err, mpesa.ErrNoCheckoutID) {
		t.Fatalf("Status without a Ref: %v; want ErrNoCheckoutID", err)
	}
	retry := w.request("att-2", phone)
	if hint, _ := mpesa.ParseCallback(w.next().body); hint.Ref != retry.Ref {
		t.Fatalf("the retry's callback names %q; want %q", hint.Ref, retry.Ref)
	}
	if st := w.status(retry.Ref); !strings.HasPrefix(st.Reason, "1001: ") {
		t.Fatalf("retry = %+v; want 1001", st)
	}
	payments := w.pay.Payments()
	if len(payments) != 2 || payments[0].Status != "PENDING" {
		t.Fatalf("demopay holds %+v; want the lost one pending and the retry", payments)
	}
	if err := w.pay.Settle(payments[0].Ref, demopay.Approve, demopay.Once); err != nil {
		t.Fatal(err)
	}
	cb := w.next()
	hint, err := mpesa.ParseCallback(cb.body)
	if err != nil || cb.path != "/mpesa/stk/att-1" || hint.Ref != payments[0].Ref {
		t.Fatalf("callback to %s: %+v, %v; want the lost attempt's", cb.path, hint, err)
	}
	if st := w.status(hint.Ref); st.State != channels.PaymentSuccess {
		t.Fatalf("lost attempt = %+v; want success", st)
	}
}

func TestCallbackTwiceAndLate(t *testing.T) {
	w := newWorld(t)
	acc := w.request("att-1", "+254712345678")
	if err := w.pay.Settle(acc.Ref, demopay.Approve, demopay.Twice); err != nil {
		t.Fatal(err)
	}
	a, _ := mpesa.ParseCallback(w.next().body)
	b, _ := mpesa.ParseCallback(w.next().body)
	if a != b || a.Receipt == "" {
		t.Fatalf("two callbacks %+v and %+v; want the same receipt twice", a, b)
	}
	if err := w.pay.CallBack(acc.Ref); err != nil {
		t.Fatal(err)
	}
	if c, _ := mpesa.ParseCallback(w.next().body); c != a {
		t.Fatalf("a third callback %+v; want %+v", c, a)
	}

	late := w.request("att-2", "+254700000001")
	if err := w.pay.Settle(late.Ref, demopay.Approve, demopay.Late); err != nil {
		t.Fatal(err)
	}
	if st := w.status(late.Ref); st.State != channels.PaymentSuccess {
		t.Fatalf("status before the late callback = %+v; want success", st)
	}
	if h, _ := mpesa.ParseCallback(w.next().body); h.Ref != late.Ref {
		t.Fatalf("late callback for %q; want %q", h.Ref, late.Ref)
	}

	never := w.request("att-3", "+254700000002")
	if err := w.pay.Settle(never.Ref, demopay.Approve, demopay.Never); err != nil {
		t.Fatal(err)
	}
	w.quiet(100 * time.Millisecond)
	if st := w.status(never.Ref); st.State != channels.PaymentSuccess {
		t.Fatalf("status without a callback = %+v; want success", st)
	}
}

func TestToken(t *testing.T) {
	w := newWorld(t)
	w.request("att-1", "+254712345678")
	w.request("att-2", "+254722000111")
	if n := w.tokens.Load(); n != 1 {
		t.Fatalf("%d token requests for two pushes; want 1, cached", n)
	}
	w.clock.Add(demopay.DefaultTokenTTL - 30*time.Second)
	w.request("att-3", "+254733000222")
	if n := w.tokens.Load(); n != 2 {
		t.Fatalf("%d token requests; want a second one shortly before expiry", n)
	}
	w.pay.RevokeTokens()
	w.request("att-4", "+254744000333")
	if n := w.tokens.Load(); n != 3 {
		t.Fatalf("%d token requests; want a third one after a 401", n)
	}
}

func TestReversal(t *testing.T) {
	w := newWorld(t)
	acc := w.request("att-1", "+254712345678")
	if err := w.pay.Settle(acc.Ref, demopay.Approve, demopay.Never); err != nil {
		t.Fatal(err)
	}
	p, _ := w.pay.Payment(acc.Ref)
	refund := payment.RefundRequest{Refund: "ref-1", Attempt: "att-1", Receipt: p.Receipt, Phone: "+254712345678", Amount: p.Amount, Reason: "paid twice"}
	got, err := w.client.Refund(context.Background(), refund)
	if err != nil || !strings.HasPrefix(got.Ref, "AG_") {
		t.Fatalf("Refund = %+v, %v", got, err)
	}
	cb := w.next()
	res, err := mpesa.ParseReversalResult(cb.body)
	if err != nil || cb.path != "/mpesa/reversal/ref-1" || !res.OK || res.ConversationID != got.Ref || res.Reversed != p.Receipt {
		t.Fatalf("result to %s: %+v, %v", cb.path, res, err)
	}
	if _, err := w.client.Refund(context.Background(), refund); err != nil {
		t.Fatal(err)
	}
	again, err := mpesa.ParseReversalResult(w.next().body)
	if err != nil || again.OK || again.Code != "R000001" {
		t.Fatalf("second reversal: %+v, %v; want R000001", again, err)
	}
	kinds := map[string]int{}
	for _, tx := range w.pay.Transactions(start) {
		kinds[tx.Kind]++
	}
	if kinds["payment"] != 1 || kinds["reversal"] != 1 {
		t.Fatalf("the day's statement: %v; want a payment and a reversal", kinds)
	}

	unconfigured := newWorld(t, func(_ *demopay.Config, c *mpesa.Config) { c.Initiator = "" })
	if _, err := unconfigured.client.Refund(context.Background(), refund); !errors.Is(err, payment.ErrNoRefund) {
		t.Fatalf("without an initiator: %v; want ErrNoRefund", err)
	}
}

func TestC2B(t *testing.T) {
	w := newWorld(t)
	acc := w.request("att-1", "+254712345678")
	if err := w.pay.Settle(acc.Ref, demopay.Approve, demopay.Never); err != nil {
		t.Fatal(err)
	}
	second, err := w.pay.PayAgain(acc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	cb := w.next()
	hint, err := mpesa.ParseC2B(cb.body)
	want := payment.Hint{Provider: "mpesa", Bill: "B7K2QX", Receipt: second, Paid: channels.Money{Amount: 150000, Currency: "KES"}, Payer: "+254712345678"}
	if err != nil || cb.path != "/c2b/confirmation" || hint != want {
		t.Fatalf("confirmation to %s: %+v, %v; want %+v", cb.path, hint, err, want)
	}
	p, _ := w.pay.Payment(acc.Ref)
	if second == p.Receipt {
		t.Fatal("the second payment has the first's receipt")
	}
	receipts := map[string]string{}
	for _, tx := range w.pay.Transactions(start) {
		receipts[tx.Receipt] = tx.Bill
	}
	if len(receipts) != 2 || receipts[p.Receipt] != "B7K2QX" || receipts[second] != "B7K2QX" {
		t.Fatalf("statement %v; want both receipts of the bill", receipts)
	}
	if got := w.pay.Transactions(start.AddDate(0, 0, 1)); len(got) != 0 {
		t.Fatalf("the next day's statement: %+v; want none", got)
	}
}

// TestRefusedBeforeSending is what the client refuses to send.
func TestRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name   string
		change func(*payment.Request)
	}{
		{"cents", func(r *payment.Request) { r.Amount.Amount = 150050 }},
		{"zero", func(r *payment.Request) { r.Amount.Amount = 0 }},
		{"another currency", func(r *payment.Request) { r.Amount.Currency = "UGX" }},
		{"a bill over 12 characters", func(r *payment.Request) { r.Bill = "B7K2QX-123456" }},
		{"no bill", func(r *payment.Request) { r.Bill = "" }},
		{"a Ugandan phone", func(r *payment.Request) { r.Phone = "+256772123456" }},
		{"a phone without +", func(r *payment.Request) { r.Phone = "254712345678" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			r := req("att-1", "+254712345678")
			tt.change(&r)
			_, err := w.client.Request(context.Background(), r)
			if channels.ErrorCode(err) != channels.EINVALID {
				t.Fatalf("err = %v; want invalid", err)
			}
			if n := len(w.pay.Payments()); n != 0 || w.tokens.Load() != 0 {
				t.Fatalf("%d payments, %d tokens; want nothing sent", n, w.tokens.Load())
			}
		})
	}
}

// TestRefusedByDaraja is what the fake refuses as Daraja would.
func TestRefusedByDaraja(t *testing.T) {
	tests := []struct {
		name   string
		option option
		want   string
	}{
		{"a wrong passkey", func(_ *demopay.Config, c *mpesa.Config) { c.Passkey = "wrong" }, "Invalid Password"},
		{"a clock ten minutes fast", func(_ *demopay.Config, c *mpesa.Config) {
			now := c.Now
			c.Now = func() time.Time { return now().Add(10 * time.Minute) }
		}, "Invalid Timestamp"},
		{"a wrong secret", func(_ *demopay.Config, c *mpesa.Config) { c.ConsumerSecret = "wrong" }, "Invalid Authentication"},
		{"another shortcode", func(_ *demopay.Config, c *mpesa.Config) { c.ShortCode = "600638" }, "Invalid BusinessShortCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.option)
			_, err := w.client.Request(context.Background(), req("att-1", "+254712345678"))
			var fault *mpesa.Fault
			if !errors.As(err, &fault) || !strings.Contains(fault.Message, tt.want) {
				t.Fatalf("err = %v; want Daraja saying %q", err, tt.want)
			}
		})
	}
}

func TestResultStatus(t *testing.T) {
	tests := []struct {
		code  mpesa.Code
		state channels.PaymentState
	}{
		{"0", channels.PaymentSuccess},
		{"1", channels.PaymentFailed},
		{"1001", channels.PaymentFailed},
		{"1019", channels.PaymentFailed},
		{"1032", channels.PaymentFailed},
		{"1037", channels.PaymentFailed},
		{"2001", channels.PaymentFailed},
		{"1025", channels.PaymentError},
		{"9999", channels.PaymentError},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			if got := mpesa.ResultStatus(tt.code, "d"); got.State != tt.state {
				t.Fatalf("ResultStatus(%s) = %+v; want %s", tt.code, got, tt.state)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	// Daraja's sandbox example: shortcode 174379, its published passkey,
	// timestamp 20160216165627.
	got := mpesa.Password("174379", "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919", "20160216165627")
	want := "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
	if got != want {
		t.Fatalf("Password = %s; want %s", got, want)
	}
}

package momo_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/demopay"
	"github.com/govchannels/channels/momo"
	"github.com/govchannels/channels/payment"
)

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
		ConsumerKey: "k", ConsumerSecret: "s", ShortCode: "174379", Passkey: "p",
		Initiator: "testapi", SecurityCredential: "c",
	},
	MoMo: demopay.MoMo{
		TargetEnvironment: "mtnuganda",
		Collection:        demopay.Product{SubscriptionKey: "col-key", APIUser: "2b7c5a1e-8d3f-4c6a-9e2b-1f0d7c3a5b8e", APIKey: "col-secret"},
		Disbursement:      demopay.Product{SubscriptionKey: "dis-key", APIUser: "7e1d3c5b-9a2f-4b8e-8c6d-0a4f2e8b6c1d", APIKey: "dis-secret"},
	},
}

const (
	attempt1 = "5f0e7c52-3b1d-4a8e-9c2f-6d4b8a1e0f37"
	attempt2 = "0c9a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
	refund1  = "9d8c7b6a-5f4e-4d3c-a2b1-0f9e8d7c6b5a"
	refund2  = "1a2b3c4d-5e6f-4a7b-9c8d-0e1f2a3b4c5d"
)

type received struct {
	method, path string
	body         []byte
}

type world struct {
	t      *testing.T
	clock  *clock
	pay    *demopay.Server
	client *momo.Client
	inbox  chan received
	tokens atomic.Int32
}

type option func(*demopay.Config, *momo.Config)

func newWorld(t *testing.T, opts ...option) *world {
	t.Helper()
	gin.SetMode(gin.TestMode)
	w := &world{t: t, clock: &clock{now: start}, inbox: make(chan received, 16)}
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, momo.MaxNotification+1))
		w.inbox <- received{method: r.Method, path: r.URL.Path, body: body}
	}))
	t.Cleanup(receiver.Close)
	pcfg := credentials
	pcfg.Now, pcfg.SettleAfter, pcfg.Late = w.clock.Now, -1, 50*time.Millisecond
	m := pcfg.MoMo
	ccfg := momo.Config{
		TargetEnvironment: m.TargetEnvironment,
		Collection:        momo.Product{SubscriptionKey: m.Collection.SubscriptionKey, APIUser: m.Collection.APIUser, APIKey: m.Collection.APIKey},
		Disbursement:      momo.Product{SubscriptionKey: m.Disbursement.SubscriptionKey, APIUser: m.Disbursement.APIUser, APIKey: m.Disbursement.APIKey},
		CallbackURL:       func(a string) string { return receiver.URL + "/momo/" + a },
		HTTP:              &http.Client{Timeout: 5 * time.Second, Transport: countTokens{&w.tokens}},
		Now:               w.clock.Now,
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
	if w.client, err = momo.New(ccfg); err != nil {
		t.Fatal(err)
	}
	w.pay = pay
	return w
}

type countTokens struct{ n *atomic.Int32 }

func (c countTokens) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/token/") {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (w *world) next() received {
	w.t.Helper()
	select {
	case r := <-w.inbox:
		return r
	case <-time.After(5 * time.Second):
		w.t.Fatal("no callback arrived")
		return received{}
	}
}

func req(attempt, phone string) payment.Request {
	return payment.Request{Attempt: attempt, Bill: "B7K2QX", Phone: phone, Amount: channels.Money{Amount: 1500, Currency: "UGX"}, Description: "Birth certificate fee"}
}

func (w *world) request(attempt, phone string) {
	w.t.Helper()
	acc, err := w.client.Request(context.Background(), req(attempt, phone))
	if err != nil || acc.Ref != attempt {
		w.t.Fatalf("Request = %+v, %v; want accepted as %s", acc, err, attempt)
	}
}

func (w *world) status(attempt string) channels.PaymentStatus {
	w.t.Helper()
	st, err := w.client.Status(context.Background(), payment.Attempt{Attempt: attempt, Ref: attempt})
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func TestSuccess(t *testing.T) {
	w := newWorld(t)
	w.request(attempt1, "+256772123456")
	if st := w.status(attempt1); st.State != channels.PaymentPending {
		t.Fatalf("before the payer answers: %+v", st)
	}
	if err := w.pay.Settle(attempt1, demopay.Approve, demopay.Once); err != nil {
		t.Fatal(err)
	}
	cb := w.next()
	hint, err := momo.ParseCallback(cb.body)
	p, _ := w.pay.Payment(attempt1)
	want := payment.Hint{Provider: "momo", Attempt: attempt1, Ref: attempt1, Receipt: p.Receipt, Paid: channels.Money{Amount: 1500, Currency: "UGX"}, Payer: "+256772123456"}
	if err != nil || cb.method != http.MethodPut || cb.path != "/momo/"+attempt1 || hint != want {
		t.Fatalf("%s %s: %+v, %v; want %+v", cb.method, cb.path, hint, err, want)
	}
	st := w.status(attempt1)
	if st != (channels.PaymentStatus{State: channels.PaymentSuccess, Receipt: p.Receipt, Paid: want.Paid, Payer: "+256772123456"}) {
		t.Fatalf("status = %+v", st)
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		outcome demopay.Outcome
		state   channels.PaymentState
		reason  string
	}{
		{"no funds", demopay.Refuse, channels.PaymentFailed, "NOT_ENOUGH_FUNDS"},
		{"refused", demopay.Cancel, channels.PaymentFailed, "APPROVAL_REJECTED"},
		{"expired", demopay.Expire, channels.PaymentFailed, "EXPIRED"},
		{"unknown payer", demopay.Unreachable, channels.PaymentFailed, "PAYER_NOT_FOUND"},
		{"MoMo's failure", demopay.Fail, channels.PaymentError, "INTERNAL_PROCESSING_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.request(attempt1, "+256772123456")
			if err := w.pay.Settle(attempt1, tt.outcome, demopay.Once); err != nil {
				t.Fatal(err)
			}
			if h, err := momo.ParseCallback(w.next().body); err != nil || h.Receipt != "" {
				t.Fatalf("hint = %+v, %v", h, err)
			}
			if st := w.status(attempt1); st != (channels.PaymentStatus{State: tt.state, Reason: tt.reason}) {
				t.Fatalf("status = %+v; want %s %s", st, tt.state, tt.reason)
			}
		})
	}
}

// TestTimeoutThenRetry: MoMo takes the request but the answer is lost;
// the retry with the same reference is a 409, taken as accepted, and only
// one request exists to pay.
func TestTimeoutThenRetry(t *testing.T) {
	w := newWorld(t, func(_ *demopay.Config, c *momo.Config) { c.HTTP.Timeout = 300 * time.Millisecond })
	if _, err := w.client.Request(context.Background(), req(attempt1, "+256772123908")); err == nil {
		t.Fatal("Request succeeded; want its answer lost")
	}
	w.request(attempt1, "+256772123908")
	if n := len(w.pay.Payments()); n != 1 {
		t.Fatalf("%d payments; want 1", n)
	}
	if st := w.status(attempt1); st.State != channels.PaymentPending {
		t.Fatalf("status = %+v", st)
	}
	if err := w.pay.Settle(attempt1, demopay.Approve, demopay.Never); err != nil {
		t.Fatal(err)
	}
	if st := w.status(attempt1); st.State != channels.PaymentSuccess {
		t.Fatalf("status = %+v", st)
	}
	_, err := w.client.Status(context.Background(), payment.Attempt{Attempt: attempt2})
	if !errors.Is(err, momo.ErrNotFound) {
		t.Fatalf("status of an unknown attempt: %v; want ErrNotFound", err)
	}
}

func TestCallbackTwice(t *testing.T) {
	w := newWorld(t)
	w.request(attempt1, "+256772123456")
	if err := w.pay.Settle(attempt1, demopay.Approve, demopay.Twice); err != nil {
		t.Fatal(err)
	}
	a, _ := momo.ParseCallback(w.next().body)
	b, _ := momo.ParseCallback(w.next().body)
	if a != b || a.Receipt == "" {
		t.Fatalf("%+v and %+v; want the same receipt twice", a, b)
	}
}

func TestToken(t *testing.T) {
	w := newWorld(t)
	w.request(attempt1, "+256772123456")
	w.status(attempt1)
	if n := w.tokens.Load(); n != 1 {
		t.Fatalf("%d token requests; want 1", n)
	}
	w.clock.Add(demopay.DefaultTokenTTL)
	w.status(attempt1)
	if n := w.tokens.Load(); n != 2 {
		t.Fatalf("%d token requests after expiry; want 2", n)
	}
	w.pay.RevokeTokens()
	w.status(attempt1)
	if n := w.tokens.Load(); n != 3 {
		t.Fatalf("%d token requests after a 401; want 3", n)
	}
}

func TestRefund(t *testing.T) {
	w := newWorld(t)
	w.request(attempt1, "+256772123456")
	if err := w.pay.Settle(attempt1, demopay.Approve, demopay.Never); err != nil {
		t.Fatal(err)
	}
	r := payment.RefundRequest{Refund: refund1, Attempt: attempt1, Amount: channels.Money{Amount: 1500, Currency: "UGX"}, Reason: "paid twice"}
	for range 2 { // the second is a 409: the same refund, once
		if got, err := w.client.Refund(context.Background(), r); err != nil || got.Ref != refund1 {
			t.Fatalf("Refund = %+v, %v", got, err)
		}
	}
	st, err := w.client.RefundStatus(context.Background(), refund1)
	if err != nil || st.State != channels.PaymentSuccess || st.Receipt == "" || st.Paid != r.Amount {
		t.Fatalf("RefundStatus = %+v, %v", st, err)
	}
	r.Refund = refund2
	if _, err := w.client.Refund(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if st, err := w.client.RefundStatus(context.Background(), refund2); err != nil || st.State != channels.PaymentFailed {
		t.Fatalf("a second refund of the whole amount: %+v, %v; want failed", st, err)
	}
	kinds := map[string]int{}
	for _, tx := range w.pay.Transactions(start) {
		kinds[tx.Kind]++
	}
	if kinds["payment"] != 1 || kinds["refund"] != 1 {
		t.Fatalf("statement %v", kinds)
	}
	none := newWorld(t, func(_ *demopay.Config, c *momo.Config) { c.Disbursement = momo.Product{} })
	if _, err := none.client.Refund(context.Background(), r); !errors.Is(err, payment.ErrNoRefund) {
		t.Fatalf("without Disbursement: %v; want ErrNoRefund", err)
	}
}

func TestAmounts(t *testing.T) {
	tests := []struct {
		name string
		in   channels.Money
	}{
		{"Ugandan shillings", channels.Money{Amount: 1500, Currency: "UGX"}},
		{"Rwandan francs", channels.Money{Amount: 2000, Currency: "RWF"}},
		{"euro cents", channels.Money{Amount: 505, Currency: "EUR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			r := req(attempt1, "+256772123456")
			r.Amount = tt.in
			if _, err := w.client.Request(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if p, _ := w.pay.Payment(attempt1); p.Amount != tt.in {
				t.Fatalf("demopay read %+v; want %+v", p.Amount, tt.in)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name   string
		option option
		req    func(*payment.Request)
		status int // 0: refused before sending
	}{
		{"not a UUID v4", nil, func(r *payment.Request) { r.Attempt = "att-1" }, 0},
		{"zero", nil, func(r *payment.Request) { r.Amount.Amount = 0 }, 0},
		{"no such currency", nil, func(r *payment.Request) { r.Amount.Currency = "XXY" }, 0},
		{"a phone without +", nil, func(r *payment.Request) { r.Phone = "256772123456" }, 0},
		{"a wrong subscription key", func(_ *demopay.Config, c *momo.Config) { c.Collection.SubscriptionKey = "x" }, nil, http.StatusUnauthorized},
		{"a wrong API key", func(_ *demopay.Config, c *momo.Config) { c.Collection.APIKey = "x" }, nil, http.StatusUnauthorized},
		{"another environment", func(_ *demopay.Config, c *momo.Config) { c.TargetEnvironment = "sandbox" }, nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []option
			if tt.option != nil {
				opts = append(opts, tt.option)
			}
			w := newWorld(t, opts...)
			r := req(attempt1, "+256772123456")
			if tt.req != nil {
				tt.req(&r)
			}
			_, err := w.client.Request(context.Background(), r)
			var fault *momo.Fault
			switch {
			case tt.status == 0 && channels.ErrorCode(err) != channels.EINVALID:
				t.Fatalf("err = %v; want invalid", err)
			case tt.status != 0 && (!errors.As(err, &fault) || fault.Status != tt.status):
				t.Fatalf("err = %v; want HTTP %d", err, tt.status)
			}
			if n := len(w.pay.Payments()); n != 0 {
				t.Fatalf("%d payments; want none", n)
			}
		})
	}
}

func TestParseCallback(t *testing.T) {
	tests := []struct {
		name, body string
		want       payment.Hint
		err        string
	}{
		{"successful", "callback_successful.json", payment.Hint{Provider: "momo", Attempt: attempt1, Ref: attempt1, Receipt: "363440463",
			Paid: channels.Money{Amount: 1500, Currency: "UGX"}, Payer: "+256772123456"}, ""},
		{"failed", "callback_failed.json", payment.Hint{Provider: "momo", Attempt: attempt1, Ref: attempt1}, ""},
		{"a reason as an object", "callback_failed_reason_object.json", payment.Hint{Provider: "momo", Attempt: attempt1, Ref: attempt1}, ""},
		{"not our externalId", `{"externalId":"123","status":"FAILED"}`, payment.Hint{}, "externalId"},
		{"unknown status", `{"externalId":"` + attempt1 + `","status":"DONE"}`, payment.Hint{}, "unknown status"},
		{"success without a transaction", `{"externalId":"` + attempt1 + `","status":"SUCCESSFUL","amount":"5","currency":"UGX"}`, payment.Hint{}, "financialTransactionId"},
		{"an amount as a number", `{"externalId":"` + attempt1 + `","status":"SUCCESSFUL","amount":5,"currency":"UGX"}`, payment.Hint{}, "cannot unmarshal"},
		{"a fraction of a shilling", `{"externalId":"` + attempt1 + `","status":"SUCCESSFUL","amount":"5.5","currency":"UGX","financialTransactionId":"1"}`, payment.Hint{}, "amount"},
		{"a reason neither string nor object", `{"externalId":"` + attempt1 + `","status":"FAILED","reason":5}`, payment.Hint{}, "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if strings.HasSuffix(tt.body, ".json") {
				body = fixture(t, tt.body)
			}
			got, err := momo.ParseCallback(body)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v; want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParseCallback(f *testing.F) {
	for _, n := range []string{"callback_successful.json", "callback_failed.json", "callback_failed_reason_object.json"} {
		f.Add(fixture(f, n))
	}
	f.Add([]byte(`{"externalId":"` + attempt1 + `","status":"PENDING"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := momo.ParseCallback(body)
		if err != nil {
			return
		}
		if !momo.UUIDv4(h.Attempt) || h.Ref != h.Attempt {
			t.Fatalf("accepted a callback without our attempt: %+v", h)
		}
		if h.Receipt != "" && h.Paid.Amount <= 0 {
			t.Fatalf("a receipt without a positive amount: %+v", h)
		}
	})
}

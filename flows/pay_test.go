package flows

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/govchannels/channels"
)

// payCatalog is a fee service with a fixed fee (permit), one paying a
// bill's amount an agency answers (bill), and a check of a payment that
// pays a failed bill again (check).
var payCatalog = fstest.MapFS{
	"permit.yaml": {Data: []byte(`id: permit
title: permit.title
agency: county
steps:
  - {id: name, kind: input, text: permit.name, field: name, type: text, next: confirm}
  - {id: confirm, kind: confirm, text: permit.confirm, summary: [name], next: pay}
  - id: pay
    kind: pay
    text: pay.how
    fee: {amount: 50000, currency: KES}
    exits: {started: started, pending: pending, paid: paid, failed: failed, unavailable: unavailable}
  - {id: started, kind: end, text: pay.started}
  - {id: pending, kind: end, text: pay.pending}
  - {id: paid, kind: end, text: pay.paid}
  - {id: failed, kind: end, text: pay.failed}
  - {id: unavailable, kind: end, text: pay.unavailable}
`)},
	"bill.yaml": {Data: []byte(`id: bill
title: bill.title
agency: revenue
steps:
  - {id: number, kind: input, text: bill.number, field: bill_number, type: text, next: lookup}
  - id: lookup
    kind: call
    operation: bill
    send: [bill_number]
    returns:
      amount: {type: number, min: 1, max: 100000000}
    exits: {found: confirm, not_found: failed, failed: failed, timeout: failed}
  - {id: confirm, kind: confirm, text: bill.confirm, summary: [bill_number], next: pay}
  - id: pay
    kind: pay
    text: pay.how
    fee: {amount_from: amount, currency: RWF}
    reference: bill_number
    exits: {started: started, pending: failed, paid: failed, failed: failed, unavailable: failed}
  - {id: started, kind: end, text: pay.started}
  - {id: failed, kind: end, text: pay.failed}
`)},
	"check.yaml": {Data: []byte(`id: check
title: check.title
steps:
  - {id: number, kind: input, text: check.bill, field: bill, type: text, next: bill}
  - id: bill
    kind: bill
    field: bill
    exits: {paid: paid, pending: pending, failed: again, not_found: none, unavailable: unavailable}
  - {id: again, kind: confirm, text: check.bill.failed, summary: [bill], next: repay}
  - id: repay
    kind: pay
    text: pay.how
    fee: {bill: bill}
    exits: {started: started, pending: pending, paid: paid, failed: unavailable, unavailable: unavailable}
  - {id: paid, kind: end, text: check.bill.paid}
  - {id: pending, kind: end, text: check.bill.pending}
  - {id: none, kind: end, text: check.bill.none}
  - {id: unavailable, kind: end, text: pay.unavailable}
  - {id: started, kind: end, text: pay.started}
`)},
}

var payMethods = []PayMethod{{ID: "mpesa", Text: "pay.method.mpesa"}, {ID: "momo", Text: "pay.method.momo"}}

func newPayEngine(t *testing.T, methods []PayMethod) *Engine {
	t.Helper()
	c, err := Load(payCatalog)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Catalog: c, Langs: []string{"en"}, Region: "KE", Now: func() time.Time { return today }, PayMethods: methods})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPayOutcomes(t *testing.T) {
	kes := channels.Money{Amount: 50000, Currency: "KES"}
	tests := []struct {
		name     string
		answer   PayAnswer
		end      string
		payment  *channels.ScreenPayment
		callFail bool
	}{
		{"started", PayAnswer{Outcome: OutcomeStarted, Bill: "B-1", Fee: kes}, "pay.started", &channels.ScreenPayment{Bill: "B-1", Fee: kes, Outcome: "started"}, false},
		{"pending", PayAnswer{Outcome: OutcomePending, Bill: "B-1", Fee: kes}, "pay.pending", &channels.ScreenPayment{Bill: "B-1", Fee: kes, Outcome: "pending"}, false},
		{"paid", PayAnswer{Outcome: OutcomePaid, Bill: "B-1", Fee: kes, Receipt: "QK12ABC", Ref: "4821773057"}, "pay.paid", &channels.ScreenPayment{Bill: "B-1", Fee: kes, Outcome: "paid"}, false},
		{"failed", PayAnswer{Outcome: OutcomeFailed, Reason: "provider said 500"}, "pay.failed", nil, true},
		{"unavailable", PayAnswer{Outcome: OutcomeUnavailable, Reason: "ledger down"}, "pay.unavailable", nil, true},
		{"not_found is failed", PayAnswer{Outcome: OutcomeNotFound}, "pay.failed", nil, false},
		{"unknown outcome is failed", PayAnswer{Outcome: "weird", Bill: "B-2", Fee: kes}, "pay.failed", &channels.ScreenPayment{Bill: "B-2", Fee: kes, Outcome: "weird"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPayEngine(t, payMethods)
			h := &recordingHost{paid: tt.answer}
			r, errs := walk(t, e, h, "permit", "Amani Otieno", "1", "2")
			if r.Screen.Kind != channels.KindEnd || r.Screen.Text.ID != tt.end {
				t.Fatalf("end screen = %+v, want %s", r.Screen, tt.end)
			}
			if !reflect.DeepEqual(r.Screen.Payment, tt.payment) {
				t.Errorf("payment = %+v, want %+v", r.Screen.Payment, tt.payment)
			}
			if (len(errs) > 0) != tt.callFail {
				t.Errorf("call errors = %v, want some: %v", errs, tt.callFail)
			}
			want := PayRequest{Key: "ussd/s1/pay/2", Service: "permit", Agency: "county", Phone: citizen, Lang: "en", Channel: channels.ChannelUSSD,
				Answers: []channels.Answer{{Field: "name", Value: "Amani Otieno"}}, Fee: kes, Method: "momo"}
			if len(h.pays) != 1 || !reflect.DeepEqual(h.pays[0], want) {
				t.Errorf("pay requests = %+v, want %+v", h.pays, want)
			}
			if len(h.subs) != 0 {
				t.Errorf("a fee service submitted %+v: the case is filed once paid", h.subs)
			}
		})
	}
}

func TestPayScreens(t *testing.T) {
	e := newPayEngine(t, payMethods)
	rs := play(t, e, "permit", "Amani Otieno")
	confirm := rs[1].Screen
	fee := channels.Msg("pay.fee.line", "Amount", "KES 500.00")
	if confirm.Kind != channels.KindConfirm || len(confirm.Lines) != 2 || !reflect.DeepEqual(confirm.Lines[1], fee) {
		t.Errorf("confirm lines = %+v, want the name, then %+v", confirm.Lines, fee)
	}
	rs = play(t, e, "permit", "Amani Otieno", "1")
	menu := rs[2].Screen
	wantOpts := []channels.Option{{Key: "1", Text: channels.Msg("pay.method.mpesa")}, {Key: "2", Text: channels.Msg("pay.method.momo")}}
	if menu.Kind != channels.KindMenu || menu.Text.ID != "pay.how" || menu.Text.Args["Amount"] != "KES 500.00" || !reflect.DeepEqual(menu.Options, wantOpts) {
		t.Errorf("method menu = %+v", menu)
	}
	if menu.Payment == nil || menu.Payment.Fee != (channels.Money{Amount: 50000, Currency: "KES"}) {
		t.Errorf("method menu payment = %+v, want the fee", menu.Payment)
	}
	if !e.Waiting(rs[2].State) {
		t.Error("the method menu waits for no input")
	}
	if sc, err := e.Screen(rs[2].State); err != nil || sc.Text.ID != "pay.how" {
		t.Errorf("resumed method menu = %+v, %v", sc, err)
	}
	// A refused choice shows the menu again; Back returns to the confirm.
	rs = play(t, e, "permit", "Amani Otieno", "1", "9", "<")
	if rs[3].Call != nil || rs[3].Screen.Error == nil || rs[3].Screen.Error.ID != "error.choice" {
		t.Errorf("a bad method = %+v", rs[3])
	}
	if rs[4].Screen.Kind != channels.KindConfirm {
		t.Errorf("back from the method menu = %+v, want the confirm", rs[4].Screen)
	}
	// Choosing by the method's ID works as by its number.
	if r := play(t, e, "permit", "Amani Otieno", "1", "mpesa")[3]; r.Call == nil || r.Call.Kind != CallPay || r.Call.Method != "mpesa" {
		t.Errorf("choosing mpesa = %+v", r.Call)
	}
}

func TestPayAmountFrom(t *testing.T) {
	e := newPayEngine(t, payMethods)
	tests := []struct {
		name   string
		amount string
		end    string
		fee    channels.Money
	}{
		{"the answered amount", "2000", "pay.started", channels.Money{Amount: 2000, Currency: "RWF"}},
		{"zero is no amount", "0", "pay.failed", channels.Money{}},
		{"negative is no amount", "-5", "pay.failed", channels.Money{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHost{
				answer: AgencyAnswer{Outcome: OutcomeFound, Fields: map[string]string{"amount": tt.amount}},
				paid:   PayAnswer{Outcome: OutcomeStarted, Bill: "B-9", Fee: tt.fee},
			}
			inputs := []string{"RB-20417", "1", "1"}
			if tt.fee.Amount == 0 {
				inputs = inputs[:2] // the pay step goes straight to its failed exit
			}
			r, _ := walk(t, e, h, "bill", inputs...)
			if r.Screen.Text.ID != tt.end {
				t.Fatalf("end = %+v, want %s", r.Screen, tt.end)
			}
			if tt.fee.Amount == 0 {
				if len(h.pays) != 0 {
					t.Errorf("paid %+v without an amount", h.pays)
				}
				return
			}
			if len(h.pays) != 1 || h.pays[0].Fee != tt.fee || h.pays[0].Reference != "RB-20417" || h.pays[0].Bill != "" {
				t.Errorf("pay requests = %+v, want %+v for reference RB-20417", h.pays, tt.fee)
			}
			if got := e.results(e.catalog.Service("bill"), r.State).display[ResultPayAmount]; got != "RWF 2000" {
				t.Errorf("result pay_amount = %q, want RWF 2000", got)
			}
		})
	}
}

func TestPayUnavailable(t *testing.T) {
	e := newPayEngine(t, nil)
	// A fee service says at once that payments are unavailable.
	r, err := e.Start(channels.ChannelSMS, "en", "permit")
	if err != nil {
		t.Fatal(err)
	}
	if r.Screen.Kind != channels.KindEnd || r.Screen.Text.ID != "pay.unavailable" {
		t.Errorf("start of a fee service without methods = %+v", r.Screen)
	}
	home, _ := e.Start(channels.ChannelUSSD, "en", "")
	for i, o := range home.Screen.Options {
		if o.Text.ID != "permit.title" {
			continue
		}
		r, err := e.Step(home.State, Input{Text: home.Screen.Options[i].Key})
		if err != nil || r.Screen.Text.ID != "pay.unavailable" {
			t.Errorf("choosing a fee service without methods = %+v, %v", r.Screen, err)
		}
	}
	// Checking a payment is still offered; paying again says it.
	h := &recordingHost{paid: PayAnswer{Outcome: OutcomeFailed, Bill: "B-7", Fee: channels.Money{Amount: 100, Currency: "KES"}}}
	r, _ = walk(t, e, h, "check", "B-7", "1")
	if r.Screen.Text.ID != "pay.unavailable" || len(h.pays) != 0 {
		t.Errorf("paying again without methods = %+v (requests %+v)", r.Screen, h.pays)
	}
	if _, err := New(Config{Catalog: e.catalog, Langs: []string{"en"}, PayMethods: []PayMethod{{ID: "mpesa"}}}); err == nil {
		t.Error("a method without a text was accepted")
	}
}

func TestBillOutcomes(t *testing.T) {
	e := newPayEngine(t, payMethods)
	kes := channels.Money{Amount: 150000, Currency: "KES"}
	tests := []struct {
		name    string
		answer  PayAnswer
		end     string
		results map[string]string
	}{
		{"paid", PayAnswer{Outcome: OutcomePaid, Bill: "B-7", Fee: kes, Receipt: "QK12ABC", Ref: "4821773057"}, "check.bill.paid",
			map[string]string{ResultPayBill: "B-7", ResultPayAmount: "KES 1500.00", ResultPayReceipt: "QK12ABC", ResultPayReference: "4821773057"}},
		{"pending", PayAnswer{Outcome: OutcomePending, Bill: "B-7", Fee: kes}, "check.bill.pending",
			map[string]string{ResultPayBill: "B-7", ResultPayAmount: "KES 1500.00", ResultPayReceipt: "", ResultPayReference: ""}},
		{"not found", PayAnswer{Outcome: OutcomeNotFound}, "check.bill.none",
			map[string]string{ResultPayBill: "", ResultPayAmount: "", ResultPayReceipt: "", ResultPayReference: ""}},
		{"unavailable", PayAnswer{Outcome: OutcomeUnavailable, Reason: "ledger down"}, "pay.unavailable",
			map[string]string{ResultPayBill: "", ResultPayAmount: "", ResultPayReceipt: "", ResultPayReference: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHost{paid: tt.answer}
			r, _ := walk(t, e, h, "check", "B-7")
			if r.Screen.Text.ID != tt.end {
				t.Fatalf("end = %+v, want %s", r.Screen, tt.end)
			}
			if got := r.Screen.Text.Args["Result"]; !reflect.DeepEqual(got, tt.results) {
				t.Errorf("results = %v, want %v", got, tt.results)
			}
			if len(h.bills) != 1 || h.bills[0] != citizen+" B-7" {
				t.Errorf("bill look-ups = %v", h.bills)
			}
		})
	}
}

func TestPayAgain(t *testing.T) {
	e := newPayEngine(t, payMethods)
	kes := channels.Money{Amount: 150000, Currency: "KES"}
	h := &recordingHost{billed: &PayAnswer{Outcome: OutcomeFailed, Bill: "B-7", Fee: kes}}
	r, _ := walk(t, e, h, "check", "B-7")
	if r.Screen.Kind != channels.KindConfirm || !reflect.DeepEqual(r.Screen.Lines[len(r.Screen.Lines)-1], channels.Msg("pay.fee.line", "Amount", "KES 1500.00")) {
		t.Fatalf("a failed bill = %+v, want the offer to pay it again with its fee", r.Screen)
	}
	// The ledger answers pending when an attempt waits: no second prompt.
	h.paid = PayAnswer{Outcome: OutcomePending, Bill: "B-7", Fee: kes}
	r, _ = walk(t, e, h, "check", "B-7", "1", "1")
	if r.Screen.Text.ID != "check.bill.pending" {
		t.Errorf("paying again = %+v", r.Screen)
	}
	want := PayRequest{Key: "ussd/s1/repay/3", Service: "check", Phone: citizen, Lang: "en", Channel: channels.ChannelUSSD, Fee: kes, Method: "mpesa", Bill: "B-7"}
	if len(h.pays) != 1 || !reflect.DeepEqual(h.pays[0], want) {
		t.Errorf("pay requests = %+v, want %+v", h.pays, want)
	}
}

func TestFormatMoney(t *testing.T) {
	tests := []struct {
		name string
		m    channels.Money
		want string
	}{
		{"shillings and cents", channels.Money{Amount: 150000, Currency: "KES"}, "KES 1500.00"},
		{"cents alone", channels.Money{Amount: 5, Currency: "KES"}, "KES 0.05"},
		{"no minor unit", channels.Money{Amount: 2000, Currency: "RWF"}, "RWF 2000"},
		{"three digits", channels.Money{Amount: 1234, Currency: "BHD"}, "BHD 1.234"},
		{"negative", channels.Money{Amount: -250, Currency: "UGX"}, "UGX -250"},
		{"unknown code takes two digits", channels.Money{Amount: 1, Currency: "ZZZ"}, "ZZZ 0.01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatMoney(tt.m); got != tt.want {
				t.Errorf("FormatMoney(%+v) = %q, want %q", tt.m, got, tt.want)
			}
		})
	}
}

func TestPayVisitRoundTrip(t *testing.T) {
	a := PayAnswer{Outcome: OutcomePaid, Bill: "B-1", Fee: channels.Money{Amount: 7, Currency: "KES"}, Receipt: "R", Ref: "4821773057"}
	m, got, ok := decodePayVisit(encodePayVisit("momo", a))
	if !ok || m != "momo" || got != a {
		t.Errorf("round trip = %q %+v %v", m, got, ok)
	}
	for _, bad := range []string{"", "\x05ab", encodePayVisit("x", a) + "z"} {
		if _, _, ok := decodePayVisit(bad); ok {
			t.Errorf("decoded %q", bad)
		}
	}
}

func TestSettlePayErrors(t *testing.T) {
	e := newPayEngine(t, payMethods)
	h := &recordingHost{paid: PayAnswer{Outcome: OutcomeUnavailable, Reason: "ledger down"}}
	_, errs := walk(t, e, h, "permit", "Amani Otieno", "1", "1")
	var ce *CallError
	if len(errs) != 1 || !errors.As(errs[0], &ce) || !strings.Contains(ce.Error(), "request payment KES 500.00 by mpesa") || !strings.Contains(ce.Error(), "ledger down") {
		t.Errorf("errors = %v", errs)
	}
	_ = context.Background()
}

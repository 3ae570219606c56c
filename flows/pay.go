package flows

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/currency"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/lenprefix"
)

// StepPay asks the citizen how to pay a service's fee (a menu of the
// deployment's PayMethods) and then asks the host to send the payment
// request, with the whole submission: the case is filed only once the
// money is taken. It goes on by Exits: started (an end step: on USSD the
// handset shows the provider's prompt only once the session is closed),
// pending and paid (the bill already has a pending or a finished
// attempt: no second prompt), failed and unavailable.
const StepPay StepKind = "pay"

// StepBill looks up the bill whose ID the citizen typed into Field (the
// "check a payment" path) and goes on by Exits: paid, pending, failed,
// not_found and unavailable (the ledger did not answer). A pay step with
// a fee from a bill step pays that bill again, as a new attempt.
const StepBill StepKind = "bill"

// The calls of pay and bill steps.
const (
	CallPay  CallKind = 200 // send the payment request Pay; report its PayAnswer
	CallBill CallKind = 201 // read the bill Ref of the caller; report its PayAnswer
)

// The outcomes of a payment request or a bill look-up, besides
// OutcomeFailed and OutcomeNotFound.
const (
	OutcomeStarted     CallOutcome = "started"     // the request went out: the citizen is to approve it on their phone
	OutcomePending     CallOutcome = "pending"     // an attempt on the bill is already waiting for the citizen: no second prompt
	OutcomePaid        CallOutcome = "paid"        // the bill is already paid
	OutcomeUnavailable CallOutcome = "unavailable" // payments cannot be taken now (no method, the ledger or provider down)
)

// Fee is what a pay step charges: Amount in the minor unit of Currency
// (an ISO 4217 code), or the amount a number return AmountFrom of an
// earlier call step answered, in Currency; or, with Bill, the amount of
// the bill a bill step found, paid again on that bill.
type Fee struct {
	Amount     int64  `yaml:"amount"`
	Currency   string `yaml:"currency"`
	AmountFrom string `yaml:"amount_from"`
	Bill       string `yaml:"bill"`
	Line       int    `yaml:"-"`
}

// PayMethod is one way a deployment takes payments (M-Pesa, MTN MoMo):
// ID is what the host is told the citizen chose, Text the message ID of
// its name on the method menu.
type PayMethod struct {
	ID   string
	Text string
}

// PayRequest is a payment the host is to ask for: the submission that
// the case is filed from once paid, the fee and the method chosen.
type PayRequest struct {
	// Key is the idempotency key: the session's and the pay step's
	// visit, the same on every retry of one choice of method.
	Key     string
	Service string
	Agency  string
	Phone   string
	Lang    string
	Channel channels.Channel
	Answers []channels.Answer
	Fee     channels.Money
	Method  string
	// Reference is the agency's own number of what is paid (a bill
	// number), when the step names it: one bill per Agency and Reference,
	// so paying the same agency bill twice is told it is pending or paid.
	Reference string
	// Bill, when set, is the ledger's bill to pay again as a new attempt
	// (a fee from a bill step); Answers are then the bill's own.
	Bill string
}

// PayAnswer is what came of a PayRequest or a bill look-up.
type PayAnswer struct {
	Outcome CallOutcome    // started, pending, paid, failed or unavailable (not_found: a look-up of no bill of the caller)
	Bill    string         // the ledger's bill ID, to check the payment by
	Fee     channels.Money // what the bill is for
	Receipt string         // paid: the provider's receipt
	Ref     string         // paid: the reference of the case filed
	Reason  string         // failed, unavailable: why, for the log; never shown to a citizen
}

// Payments sends payment requests and reads bills. It never fails: what
// goes wrong is the answer's failed or unavailable outcome, with a
// Reason.
type Payments interface {
	Pay(ctx context.Context, req PayRequest) PayAnswer
	// Bill returns the bill of phone with the given ID; a bill of another
	// phone is not_found, exactly as an unknown one.
	Bill(ctx context.Context, phone, bill string) PayAnswer
}

// The names under which a pay or a bill step leaves its answer for the
// texts that follow ({{.Result.pay_amount}}): the names are the engine's,
// so no step may set them.
const (
	ResultPayBill      = "pay_bill"
	ResultPayAmount    = "pay_amount"
	ResultPayReceipt   = "pay_receipt"
	ResultPayReference = "pay_reference"
)

// feeLineMessage is the message ID of the line a confirm step followed
// by a pay step adds to its summary: the fee.
const feeLineMessage = "pay.fee.line"

// FormatMoney shows m as a citizen reads it: the currency's code and the
// amount in its major unit with the currency's minor digits ("KES
// 1500.00", "RWF 2000"), computed on integers.
func FormatMoney(m channels.Money) string {
	digits := minorDigits(m.Currency)
	a := m.Amount
	sign := ""
	if a < 0 {
		sign, a = "-", -a
	}
	s := strconv.FormatInt(a, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	return m.Currency + " " + sign + s
}

// minorDigits is how many digits of an amount of code are its minor unit
// (2 for KES, 0 for RWF), after CLDR; 2 for a code it does not know.
func minorDigits(code string) int {
	u, err := currency.ParseISO(code)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// validCurrency reports whether code is an ISO 4217 code, in upper case.
func validCurrency(code string) bool {
	u, err := currency.ParseISO(code)
	return err == nil && u.String() == code
}

// fee returns the fee step charges on st's path, and the bill it pays
// again; ok is false when the path holds no usable amount (a return
// missing or not a positive integer).
func (e *Engine) fee(svc *Service, step *Step, st State) (m channels.Money, bill string, ok bool) {
	f := step.Fee
	switch {
	case f.Bill != "":
		a, found := e.billOnTrail(svc, st, f.Bill)
		if !found || a.Bill == "" || a.Fee.Amount <= 0 {
			return channels.Money{}, "", false
		}
		return a.Fee, a.Bill, true
	case f.AmountFrom != "":
		v, found := e.value(svc, st, f.AmountFrom)
		n, err := strconv.ParseInt(v, 10, 64)
		if !found || err != nil || n <= 0 {
			return channels.Money{}, "", false
		}
		return channels.Money{Amount: n, Currency: f.Currency}, "", true
	}
	return channels.Money{Amount: f.Amount, Currency: f.Currency}, "", true
}

// billOnTrail returns the answer the bill step id left on st's path.
func (e *Engine) billOnTrail(svc *Service, st State, id string) (PayAnswer, bool) {
	for i := len(st.Trail) - 1; i >= 0; i-- {
		if st.Trail[i].Step == id {
			_, a, ok := decodePayVisit(st.Trail[i].Value)
			return a, ok && a.Bill != ""
		}
	}
	return PayAnswer{}, false
}

// encodePayVisit is the Value of the Visit of a pay step (the method
// chosen, then what the request answered) or of a bill step (no method).
func encodePayVisit(method string, a PayAnswer) string {
	b := lenprefix.AppendString(nil, method)
	for _, s := range []string{string(a.Outcome), a.Bill, strconv.FormatInt(a.Fee.Amount, 10), a.Fee.Currency, a.Receipt, a.Ref} {
		b = lenprefix.AppendString(b, s)
	}
	return string(b)
}

// decodePayVisit reads what encodePayVisit wrote; ok is false for a value
// it cannot read.
func decodePayVisit(v string) (method string, a PayAnswer, ok bool) {
	r := lenprefix.NewReader([]byte(v))
	method = r.String()
	a.Outcome = CallOutcome(r.String())
	a.Bill = r.String()
	amount := r.String()
	a.Fee.Currency = r.String()
	a.Receipt = r.String()
	a.Ref = r.String()
	if r.Bad() || r.Len() != 0 {
		return "", PayAnswer{}, false
	}
	if amount != "" {
		n, err := strconv.ParseInt(amount, 10, 64)
		if err != nil {
			return "", PayAnswer{}, false
		}
		a.Fee.Amount = n
	}
	return method, a, true
}

// addPay adds what a pay or bill visit left to rs.
func (rs results) addPay(v string) {
	_, a, ok := decodePayVisit(v)
	if !ok || a.Outcome == "" {
		return
	}
	rs.raw[ResultPayBill], rs.display[ResultPayBill] = a.Bill, a.Bill
	if a.Fee.Currency != "" {
		rs.raw[ResultPayAmount] = strconv.FormatInt(a.Fee.Amount, 10)
		rs.display[ResultPayAmount] = FormatMoney(a.Fee)
	}
	rs.raw[ResultPayReceipt], rs.display[ResultPayReceipt] = a.Receipt, a.Receipt
	rs.raw[ResultPayReference], rs.display[ResultPayReference] = a.Ref, a.Ref
}

// payMethods returns the menu of a pay step: one option per method.
func (e *Engine) payMethods() []channels.Option {
	opts := make([]channels.Option, len(e.methods))
	for i, m := range e.methods {
		opts[i] = channels.Option{Key: strconv.Itoa(i + 1), Text: channels.Msg(m.Text)}
	}
	return opts
}

// enterPay shows a pay step's method menu, with the fee; a path without
// a usable amount goes to the failed exit, and a deployment that takes
// no payments to the unavailable one.
func (e *Engine) enterPay(svc *Service, step *Step, st State, sc channels.Screen) Result {
	m, _, ok := e.fee(svc, step, st)
	switch {
	case len(e.methods) == 0:
		return e.enter(svc, step.Exits.Unavailable, st)
	case !ok:
		return e.enter(svc, step.Exits.Failed, st)
	}
	sc.Kind = channels.KindMenu
	sc.Text = e.text(svc, st, step.Text, "Amount", FormatMoney(m))
	sc.Options = e.payMethods()
	sc.Payment = &channels.ScreenPayment{Fee: m}
	return Result{State: st, Screen: sc}
}

// choosePay takes the method the citizen chose on a pay step and asks
// for the payment.
func (e *Engine) choosePay(svc *Service, step *Step, st State, text string) Result {
	opts := make([]*Option, len(e.methods))
	for i, m := range e.methods {
		opts[i] = &Option{Value: m.ID}
	}
	o := matchOption(opts, text)
	if o == nil {
		return e.retry(svc, step, st, msgPtr("error.choice"))
	}
	m, bill, ok := e.fee(svc, step, st)
	if !ok {
		return e.enter(svc, step.Exits.Failed, st)
	}
	st.Trail = append(st.Trail, Visit{Step: step.ID, Value: encodePayVisit(o.Value, PayAnswer{})})
	c := &Call{Kind: CallPay, Service: svc.ID, Agency: svc.Agency, Lang: st.Lang, Channel: st.Channel, Step: step.ID,
		Visit: len(st.Trail) - 1, Fee: m, Method: o.Value, Bill: bill}
	if bill == "" {
		c.Answers = st.answers(svc)
	}
	if step.Reference != "" {
		c.Reference, _ = e.value(svc, st, step.Reference)
	}
	return Result{State: st, Call: c}
}

// completePay goes on from a pay or a bill step by what the host
// answered; the exit's screen carries the bill and the fee.
func (e *Engine) completePay(svc *Service, step *Step, st State, a *PayAnswer) Result {
	ans := PayAnswer{Outcome: OutcomeFailed}
	if a != nil {
		ans = *a
	}
	if step.Kind == StepPay {
		method := ""
		if n := len(st.Trail); n > 0 && st.Trail[n-1].Step == step.ID {
			method, _, _ = decodePayVisit(st.Trail[n-1].Value)
			st.Trail = st.Trail[:n-1]
		}
		if ans.Outcome == OutcomeNotFound {
			ans.Outcome = OutcomeFailed
		}
		st.Trail = append(st.Trail, Visit{Step: step.ID, Value: encodePayVisit(method, ans)})
	} else {
		st.Trail = append(st.Trail, Visit{Step: step.ID, Value: encodePayVisit("", ans)})
	}
	r := e.enter(svc, step.Exits.payExit(ans.Outcome, step.Kind), st)
	if r.Call == nil && ans.Bill != "" {
		r.Screen.Payment = &channels.ScreenPayment{Bill: ans.Bill, Fee: ans.Fee, Outcome: string(ans.Outcome)}
	}
	return r
}

// payExit returns the step an outcome of a pay or bill step leads to; an
// outcome the kind does not have is failed.
func (x *Exits) payExit(o CallOutcome, kind StepKind) string {
	for _, p := range x.payExits(kind) {
		if p.Outcome == o {
			return p.Step
		}
	}
	return x.Failed
}

// payExits lists the exits of a pay or bill step with their outcomes, in
// a fixed order.
func (x *Exits) payExits(kind StepKind) []struct {
	Outcome CallOutcome
	Step    string
} {
	type exit = struct {
		Outcome CallOutcome
		Step    string
	}
	if kind == StepBill {
		return []exit{{OutcomePaid, x.Paid}, {OutcomePending, x.Pending}, {OutcomeFailed, x.Failed}, {OutcomeNotFound, x.NotFound}, {OutcomeUnavailable, x.Unavailable}}
	}
	return []exit{{OutcomeStarted, x.Started}, {OutcomePending, x.Pending}, {OutcomePaid, x.Paid}, {OutcomeFailed, x.Failed}, {OutcomeUnavailable, x.Unavailable}}
}

// stepExits lists the exits of any step that has them, in a fixed order.
func (st *Step) stepExits() []struct {
	Outcome CallOutcome
	Step    string
} {
	switch {
	case st.Exits == nil:
		return nil
	case st.Kind == StepPay || st.Kind == StepBill:
		return st.Exits.payExits(st.Kind)
	}
	return st.Exits.exits()
}

// feeLine is the line a confirm step followed by a pay step shows: the
// fee it is about to charge.
func (e *Engine) feeLine(svc *Service, step *Step, st State) (channels.Message, bool) {
	pay := svc.steps[step.Next]
	if pay == nil || pay.Kind != StepPay {
		return channels.Message{}, false
	}
	m, _, ok := e.fee(svc, pay, st)
	if !ok {
		return channels.Message{}, false
	}
	return channels.Msg(feeLineMessage, "Amount", FormatMoney(m)), true
}

// settlePay carries out the call of a pay or a bill step through h.
func (e *Engine) settlePay(ctx context.Context, h Host, phone, key string, res Result) (Result, error) {
	c := res.Call
	var a PayAnswer
	var what string
	if c.Kind == CallPay {
		req := PayRequest{Key: visitKey(key, c), Service: c.Service, Agency: c.Agency, Phone: phone, Lang: c.Lang, Channel: c.Channel,
			Answers: c.Answers, Fee: c.Fee, Method: c.Method, Reference: c.Reference, Bill: c.Bill}
		a = h.Pay(ctx, req)
		what = fmt.Sprintf("%s %s by %s (key %s)", c.Kind, FormatMoney(c.Fee), c.Method, req.Key)
	} else {
		a = h.Bill(ctx, phone, c.Ref)
		what = fmt.Sprintf("%s %s", c.Kind, c.Ref)
	}
	r, err := e.Complete(res.State, Outcome{Pay: &a})
	if err != nil {
		return Result{}, err
	}
	switch a.Outcome {
	case OutcomeFailed, OutcomeUnavailable:
		// The citizen is shown the exit's screen; the operator needs why.
		return r, &CallError{Service: c.Service, Call: what, Err: fmt.Errorf("%s: %s", a.Outcome, a.Reason)}
	case OutcomeStarted, OutcomePending, OutcomePaid, OutcomeNotFound:
		return r, nil
	}
	return r, &CallError{Service: c.Service, Call: what, Err: fmt.Errorf("unknown outcome %q: %s", a.Outcome, a.Reason)}
}

// HasFee reports whether s charges a fee: it has a pay step.
func (s *Service) HasFee() bool {
	for _, st := range s.Steps {
		if st.Kind == StepPay {
			return true
		}
	}
	return false
}

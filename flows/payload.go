package flows

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/govchannels/channels"
)

// Bounds the lint renders the screens of a payment with: the longest
// bill ID and receipt a ledger and a provider give (M-Pesa's receipts are
// 10 characters, MoMo's transaction IDs up to 20 digits).
const (
	maxBillLength    = 16
	maxReceiptLength = 20
)

// UnmarshalYAML records the line of the fee.
func (f *Fee) UnmarshalYAML(n *yaml.Node) error {
	type plain Fee
	if err := knownFields(n, plain{}, "fee"); err != nil {
		return err
	}
	// yaml.v3 would read 1.5 into an int64 as 1: money is an integer
	// of minor units, never rounded.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "amount" && v.ShortTag() != "!!int" {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: fee amount %s must be an integer, in the currency's minor unit (cents)", v.Line, v.Value)}}
		}
	}
	if err := n.Decode((*plain)(f)); err != nil {
		return err
	}
	f.Line = n.Line
	return nil
}

// checkPay validates a pay step.
func (st *Step) checkPay(s *Service) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if st.Next != "" || len(st.Branches) > 0 || len(st.Options) > 0 || st.Field != "" {
		bad("a pay step goes on by its exits: it cannot have next, branches, options or field (its options are the deployment's payment methods)")
	}
	values, _ := s.names()
	f := st.Fee
	switch {
	case f == nil:
		bad("a pay step needs a fee: {amount: <minor units>, currency: <ISO 4217>}, {amount_from: <number return>, currency: ...} or {bill: <bill step>}")
	default:
		ps = append(ps, st.checkFee(s)...)
	}
	if f != nil && f.Bill == "" && s.Agency == "" {
		bad("a pay step files a case once paid: the service needs an agency")
	}
	if st.Reference != "" && !values[st.Reference] {
		bad("reference %q is not a field of a menu or input, nor a return of a call or the field of a submit", st.Reference)
	}
	for _, name := range []string{ResultPayBill, ResultPayAmount, ResultPayReceipt, ResultPayReference} {
		if values[name] {
			bad("%q is where a pay step leaves its answer: no field or return may be named so", name)
		}
	}
	// Every way into the pay step is from a confirm step, whose summary
	// shows the fee (pay.fee.line) before the citizen agrees to it.
	for _, o := range s.Steps {
		for _, w := range s.Ways(o) {
			if w.To != st.ID {
				continue
			}
			if o.Kind != StepConfirm || o.Next != st.ID || len(o.Branches) > 0 {
				bad("a pay step must follow a confirm step, which shows the fee: %s step %q leads to it", o.Kind, o.ID)
			}
		}
	}
	if s.Start == st.ID {
		bad("a service cannot start with a pay step: put a confirm step before it, which shows the fee")
	}
	ps = append(ps, st.checkPayExits(s)...)
	return ps
}

// checkFee validates a pay step's fee.
func (st *Step) checkFee(s *Service) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	f := st.Fee
	set := 0
	for _, b := range []bool{f.Amount != 0, f.AmountFrom != "", f.Bill != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		bad("fee (line %d) needs exactly one of amount, amount_from and bill", f.Line)
		return ps
	}
	switch {
	case f.Bill != "":
		if f.Currency != "" {
			bad("fee (line %d): a fee from a bill is in the bill's currency: leave currency out", f.Line)
		}
		if b := s.steps[f.Bill]; b == nil || b.Kind != StepBill {
			bad("fee (line %d): bill %q is not a bill step", f.Line, f.Bill)
		} else if !s.leadsTo(b, st.ID) {
			bad("fee (line %d): bill step %q does not come before this step", f.Line, f.Bill)
		}
		return ps
	case f.Amount < 0:
		bad("fee (line %d): amount %d must be a positive integer, in the currency's minor unit", f.Line, f.Amount)
	case f.AmountFrom != "":
		call := s.returnedBy(f.AmountFrom)
		switch {
		case call == nil:
			bad("fee (line %d): amount_from %q is not a return of a call step", f.Line, f.AmountFrom)
		case call.Returns[f.AmountFrom].Type != ReturnNumber:
			bad("fee (line %d): amount_from %q is a %s return of step %q, not a number", f.Line, f.AmountFrom, call.Returns[f.AmountFrom].Type, call.ID)
		case call.Returns[f.AmountFrom].Min == nil || *call.Returns[f.AmountFrom].Min < 1:
			bad("fee (line %d): amount_from %q needs min: 1 or more on its return, so that an agency answering no positive amount is a failed call", f.Line, f.AmountFrom)
		case call.Returns[f.AmountFrom].Max == nil:
			bad("fee (line %d): amount_from %q needs a max on its return: the lint checks every screen with the longest amount", f.Line, f.AmountFrom)
		case !s.leadsTo(call, st.ID):
			bad("fee (line %d): amount_from %q is returned by step %q, which does not come before this step", f.Line, f.AmountFrom, call.ID)
		}
	}
	if !validCurrency(f.Currency) {
		bad("fee (line %d): currency %q is not an ISO 4217 code (KES, UGX, RWF...)", f.Line, f.Currency)
	}
	return ps
}

// returnedBy is the call step that declares the return name, or nil.
func (s *Service) returnedBy(name string) *Step {
	for _, o := range s.Steps {
		if o.Kind == StepCall && o.Returns[name] != nil {
			return o
		}
	}
	return nil
}

// leadsTo reports whether the found (or, for a bill step, any) exit of
// from leads on to the step id.
func (s *Service) leadsTo(from *Step, id string) bool {
	ways := map[string][]Way{}
	for _, o := range s.Steps {
		ways[o.ID] = s.Ways(o)
	}
	for _, w := range ways[from.ID] {
		if from.Kind == StepCall && w.Outcome != OutcomeFound {
			continue
		}
		if w.To != "" && s.closure(w.To, ways)[id] {
			return true
		}
	}
	return false
}

// checkPayExits validates the exits of a pay or a bill step.
func (st *Step) checkPayExits(s *Service) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	want := "started, pending, paid, failed and unavailable"
	if st.Kind == StepBill {
		want = "paid, pending, failed, not_found and unavailable"
	}
	x := st.Exits
	if x == nil {
		bad("a %s step needs exits: %s", st.Kind, want)
		return ps
	}
	if x.Found != "" || x.Timeout != "" || (st.Kind == StepPay && x.NotFound != "") || (st.Kind == StepBill && x.Started != "") {
		bad("a %s step's exits are %s", st.Kind, want)
	}
	for _, e := range x.payExits(st.Kind) {
		switch {
		case e.Step == "":
			bad("exit %s is missing: every outcome of a %s step needs a step", e.Outcome, st.Kind)
		case s.steps[e.Step] == nil:
			bad("exit %s: step %q does not exist", e.Outcome, e.Step)
		case st.Kind == StepPay && e.Outcome == OutcomeStarted && s.steps[e.Step].Kind != StepEnd:
			bad("exit started leads to %s step %q: it must be an end step, since a handset shows the payment prompt only once the USSD session is closed", s.steps[e.Step].Kind, e.Step)
		}
	}
	return ps
}

// checkBill validates a bill step.
func (st *Step) checkBill(s *Service, fields map[string]bool) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if st.Text != "" {
		bad("a bill step shows nothing itself: text must be empty (the exits' steps show the bill)")
	}
	if st.Next != "" || len(st.Branches) > 0 || len(st.Options) > 0 {
		bad("a bill step goes on by its exits: it cannot have next, branches or options")
	}
	if st.Field == "" || !fields[st.Field] {
		bad("a bill step needs the field that holds the bill ID")
	}
	return append(ps, st.checkPayExits(s)...)
}

// longestPay is the answer a pay or bill step leaves at its longest: the
// fee's longest amount, the longest bill ID and receipt, reference ref.
func longestPay(s *Service, st *Step, ref string) PayAnswer {
	a := PayAnswer{Outcome: OutcomePaid, Bill: strings.Repeat("W", maxBillLength), Receipt: strings.Repeat("W", maxReceiptLength), Ref: ref}
	a.Fee = channels.Money{Amount: math.MaxInt64, Currency: "KES"}
	if f := st.Fee; f != nil && f.Bill == "" {
		a.Fee = channels.Money{Amount: f.Amount, Currency: f.Currency}
		if f.AmountFrom != "" {
			if call := s.returnedBy(f.AmountFrom); call != nil {
				a.Fee.Amount, _ = strconv.ParseInt(longest(call.Returns[f.AmountFrom], ReturnNumber), 10, 64)
			}
		}
	}
	return a
}

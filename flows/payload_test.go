package flows

import (
	"errors"
	"strings"
	"testing"
)

// payService is a valid service around one pay step (line 15); fee and
// exits replace its lines, tail adds steps after the ends.
func payService(pay, tail string) string {
	return `id: s
title: s.title
agency: county
steps:
  - id: name
    kind: input
    text: name.prompt
    field: name
    type: text
    next: confirm
  - id: confirm
    kind: confirm
    text: confirm
    summary: [name]
    next: pay
  - id: pay
    kind: pay
    text: pay.how
` + pay + `  - {id: started, kind: end, text: started}
  - {id: pending, kind: end, text: pending}
  - {id: paid, kind: end, text: paid}
  - {id: failed, kind: end, text: failed}
  - {id: unavailable, kind: end, text: unavailable}
` + tail
}

const (
	okFee      = "    fee: {amount: 50000, currency: KES}\n"
	okPayExits = "    exits: {started: started, pending: pending, paid: paid, failed: failed, unavailable: unavailable}\n"
)

func TestParsePay(t *testing.T) {
	s, err := Parse("svc.yaml", []byte(payService(okFee+"    reference: name\n"+okPayExits, "")))
	if err != nil {
		t.Fatal(err)
	}
	pay := s.Step("pay")
	if pay.Fee == nil || pay.Fee.Amount != 50000 || pay.Fee.Currency != "KES" || pay.Fee.Line != 19 || pay.Reference != "name" || !s.HasFee() {
		t.Errorf("pay step = %+v, fee %+v", pay, pay.Fee)
	}
	if s.Step("name").Fee != nil || !s.results {
		t.Error("a service with a pay step keeps no results")
	}
}

func TestParsePayProblems(t *testing.T) {
	// A call step returning an amount, before the confirm (line 6).
	withCall := func(ret, fee string) string {
		return strings.Replace(payService(fee+okPayExits, ""), "    next: confirm\n", `    next: lookup
  - id: lookup
    kind: call
    operation: bill
    send: [name]
    returns:
`+ret+`    exits: {found: confirm, not_found: failed, failed: failed, timeout: failed}
`, 1)
	}
	tests := []struct {
		name string
		yaml string
		line int
		want string
	}{
		{"no fee", payService(okPayExits, ""), 16, "a pay step needs a fee"},
		{"two amounts", payService("    fee: {amount: 100, amount_from: x, currency: KES}\n"+okPayExits, ""), 16, "fee (line 19) needs exactly one of amount, amount_from and bill"},
		{"negative amount", payService("    fee: {amount: -100, currency: KES}\n"+okPayExits, ""), 16, "amount -100 must be a positive integer"},
		{"fractional amount", payService("    fee: {amount: 1.5, currency: KES}\n"+okPayExits, ""), 19, "amount 1.5 must be an integer"},
		{"no currency", payService("    fee: {amount: 100}\n"+okPayExits, ""), 16, `currency "" is not an ISO 4217 code`},
		{"unknown currency", payService("    fee: {amount: 100, currency: KSH}\n"+okPayExits, ""), 16, `currency "KSH" is not an ISO 4217 code`},
		{"lower-case currency", payService("    fee: {amount: 100, currency: kes}\n"+okPayExits, ""), 16, `currency "kes"`},
		{"unknown fee field", payService("    fee: {price: 100, currency: KES}\n"+okPayExits, ""), 19, "field price not found in fee"},
		{"amount_from unknown", payService("    fee: {amount_from: amount, currency: KES}\n"+okPayExits, ""), 16, `amount_from "amount" is not a return of a call step`},
		{"amount_from a text", withCall("      amount: {type: text, max_length: 9}\n", "    fee: {amount_from: amount, currency: KES}\n"), 23, `amount_from "amount" is a text return of step "lookup", not a number`},
		{"amount_from without min", withCall("      amount: {type: number, max: 100}\n", "    fee: {amount_from: amount, currency: KES}\n"), 23, "needs min: 1 or more"},
		{"amount_from without max", withCall("      amount: {type: number, min: 1}\n", "    fee: {amount_from: amount, currency: KES}\n"), 23, "needs a max on its return"},
		{"amount_from after the pay step", payService("    fee: {amount_from: amount, currency: KES}\n"+
			"    exits: {started: started, pending: pending, paid: paid, failed: later, unavailable: unavailable}\n",
			"  - {id: later, kind: call, operation: op, returns: {amount: {type: number, min: 1, max: 9}}, exits: {found: failed, not_found: failed, failed: failed, timeout: failed}}\n"),
			16, `returned by step "later", which does not come before this step`},
		{"bill not a bill step", payService("    fee: {bill: confirm}\n"+okPayExits, ""), 16, `bill "confirm" is not a bill step`},
		{"bill with a currency", payService("    fee: {bill: x, currency: KES}\n"+okPayExits, ""), 16, "leave currency out"},
		{"no agency", strings.Replace(payService(okFee+okPayExits, ""), "agency: county\n", "", 1), 15, "the service needs an agency"},
		{"reference unknown", payService(okFee+"    reference: ghost\n"+okPayExits, ""), 16, `reference "ghost" is not a field`},
		{"next on a pay step", payService(okFee+"    next: paid\n"+okPayExits, ""), 16, "a pay step goes on by its exits"},
		{"no exits", payService(okFee, ""), 16, "a pay step needs exits: started, pending, paid, failed and unavailable"},
		{"exit missing", payService(okFee+"    exits: {started: started, pending: pending, paid: paid, failed: failed}\n", ""), 16, "exit unavailable is missing"},
		{"exit dangling", payService(okFee+"    exits: {started: started, pending: pending, paid: paid, failed: failed, unavailable: zz}\n", ""), 16, `exit unavailable: step "zz" does not exist`},
		{"a call's exit", payService(okFee+"    exits: {started: started, pending: pending, paid: paid, failed: failed, unavailable: unavailable, timeout: failed}\n", ""), 16, "a pay step's exits are started, pending, paid, failed and unavailable"},
		{"started not an end", payService(okFee+"    exits: {started: name, pending: pending, paid: paid, failed: failed, unavailable: unavailable}\n", ""), 16, `exit started leads to input step "name": it must be an end step`},
		{"not after a confirm", strings.Replace(payService(okFee+okPayExits, ""), "    next: confirm\n", "    next: pay\n", 1), 16, `a pay step must follow a confirm step, which shows the fee: input step "name" leads to it`},
		{"pay at the start", strings.Replace(payService(okFee+okPayExits, ""), "steps:\n", "start: pay\nsteps:\n", 1), 17, "cannot start with a pay step"},
		{"fee on an input", strings.Replace(payService(okFee+okPayExits, ""), "    type: text\n", "    type: text\n    fee: {amount: 1, currency: KES}\n", 1), 5, "fee and reference apply to pay steps only"},
		{"exits on an input", strings.Replace(payService(okFee+okPayExits, ""), "    type: text\n", "    type: text\n    exits: {paid: paid}\n", 1), 5, "apply to call steps only"},
		{"pay exits on a call", withCall("      amount: {type: number, min: 1, max: 9}\n", okFee), 6, ""},
		{"bill step with a text", payService(okFee+okPayExits, "  - {id: b, kind: bill, text: x, field: name, exits: {paid: paid, pending: pending, failed: failed, not_found: failed, unavailable: unavailable}}\n"), 26, "a bill step shows nothing itself"},
		{"bill step without field", payService(okFee+okPayExits, "  - {id: b, kind: bill, exits: {paid: paid, pending: pending, failed: failed, not_found: failed, unavailable: unavailable}}\n"), 26, "needs the field that holds the bill ID"},
		{"bill step with started", payService(okFee+okPayExits, "  - {id: b, kind: bill, field: name, exits: {started: started, paid: paid, pending: pending, failed: failed, not_found: failed, unavailable: unavailable}}\n"), 26, "a bill step's exits are paid, pending, failed, not_found and unavailable"},
		{"bill step without not_found", payService(okFee+okPayExits, "  - {id: b, kind: bill, field: name, exits: {paid: paid, pending: pending, failed: failed, unavailable: unavailable}}\n"), 26, "exit not_found is missing"},
		{"unreachable bill step", payService(okFee+okPayExits, "  - {id: b, kind: bill, field: name, exits: {paid: paid, pending: pending, failed: failed, not_found: failed, unavailable: unavailable}}\n"), 26, "cannot be reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				if _, err := Parse("svc.yaml", []byte(tt.yaml)); err != nil {
					t.Fatalf("a valid service was refused: %v", err)
				}
				return
			}
			wantProblem(t, tt.yaml, tt.line, tt.want)
		})
	}
}

// FuzzParsePay checks the loader on pay and bill steps: no definition
// panics it, and a pay step it accepts has a positive fee in an ISO 4217
// currency (or a bill step's), every exit, and only confirm steps
// leading to it.
func FuzzParsePay(f *testing.F) {
	f.Add([]byte(payService(okFee+okPayExits, "")))
	f.Add([]byte(payService("    fee: {amount: 1.5, currency: kes}\n"+okPayExits, "")))
	for _, name := range []string{"permit.yaml", "bill.yaml", "check.yaml"} {
		f.Add(payCatalog[name].Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 || ps[0].File != "f.yaml" {
				t.Fatalf("error without file: %v", err)
			}
			return
		}
		for _, st := range s.Steps {
			if st.Kind != StepPay && st.Kind != StepBill {
				continue
			}
			for _, x := range st.stepExits() {
				if s.Step(x.Step) == nil {
					t.Fatalf("%s %s: exit %s leads to no step", st.Kind, st.ID, x.Outcome)
				}
			}
			if st.Kind == StepBill {
				continue
			}
			if f := st.Fee; f.Bill == "" && (!validCurrency(f.Currency) || (f.AmountFrom == "" && f.Amount <= 0)) {
				t.Fatalf("pay %s: fee %+v accepted", st.ID, f)
			}
			for _, o := range s.Steps {
				for _, w := range s.Ways(o) {
					if w.To == st.ID && o.Kind != StepConfirm {
						t.Fatalf("pay %s: reached from %s step %s", st.ID, o.Kind, o.ID)
					}
				}
			}
		}
	})
}

package payment

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/govchannels/channels"
)

// Transaction is one line of a provider's statement for a day.
type Transaction struct {
	Provider string         `json:"provider"`
	Receipt  string         `json:"receipt"` // the money's receipt; for a refund, the refund's ID at the provider
	Account  string         `json:"account"` // the bill the payer named
	Amount   channels.Money `json:"amount"`
	At       time.Time      `json:"at"`
	Kind     string         `json:"kind"` // KindPayment or KindRefund
}

// The kinds of Transaction.
const (
	KindPayment = "payment"
	KindRefund  = "refund"
)

// The classes of a reconciliation line.
const (
	Matched       = "matched"        // on both sides, alike
	MissingOurs   = "missing_ours"   // the provider has it, we do not: money to find a bill for
	MissingTheirs = "missing_theirs" // we have it, the provider's statement does not
	Duplicate     = "duplicate"      // a second payment of a paid bill, not yet wholly refunded
	Refunded      = "refunded"       // money sent back, or a payment wholly refunded
	Mismatch      = "mismatch"       // on both sides with different amounts
)

// Line is one classified item of a Report. Amounts are in minor units.
type Line struct {
	Class    string `json:"class"`
	Kind     string `json:"kind"`
	Provider string `json:"provider"`
	Receipt  string `json:"receipt"`
	Bill     string `json:"bill"`
	Payment  string `json:"payment,omitempty"`
	Currency string `json:"currency"`
	Theirs   int64  `json:"theirs"` // what the provider's statement says
	Ours     int64  `json:"ours"`   // what our records say
	Refunded int64  `json:"refunded"`
}

// Report is a day's reconciliation, in the statement's order, then what
// only our records have.
type Report struct {
	Lines []Line `json:"lines"`
}

// Reconcile classifies the provider's transactions txs against our
// payments ps (a day's, a little wider so that none straddling midnight
// is missed).
func Reconcile(txs []Transaction, ps []*channels.Payment) Report {
	type key struct{ provider, id string }
	byReceipt := map[key]*channels.Payment{}
	refunds := map[key]struct {
		p *channels.Payment
		r channels.Refund
	}{}
	for _, p := range ps {
		if p.State == channels.PaymentSuccess && p.Receipt != "" {
			byReceipt[key{p.Provider, p.Receipt}] = p
		}
		for _, r := range p.Refunds {
			if r.Ref != "" {
				refunds[key{p.Provider, r.Ref}] = struct {
					p *channels.Payment
					r channels.Refund
				}{p, r}
			}
		}
	}
	var rep Report
	seen := map[key]bool{}
	for _, tx := range txs {
		k := key{tx.Provider, tx.Receipt}
		l := Line{Kind: tx.Kind, Provider: tx.Provider, Receipt: tx.Receipt, Bill: tx.Account, Currency: tx.Amount.Currency, Theirs: tx.Amount.Amount}
		switch tx.Kind {
		case KindRefund:
			m, ok := refunds[k]
			if !ok {
				l.Class = MissingOurs
				break
			}
			seen[key{"refund:" + tx.Provider, tx.Receipt}] = true
			l.Bill, l.Payment, l.Ours, l.Refunded = m.p.Bill, m.p.ID, m.r.Amount.Amount, m.r.Amount.Amount
			l.Class = Refunded
			if m.r.Amount != tx.Amount {
				l.Class = Mismatch
			}
		default:
			p, ok := byReceipt[k]
			if !ok || seen[k] {
				l.Class = MissingOurs
				break
			}
			seen[k] = true
			l.Bill, l.Payment, l.Ours, l.Refunded = p.Bill, p.ID, p.Amount.Amount, p.Refunded
			switch {
			case p.Amount != tx.Amount:
				l.Class = Mismatch
			case p.Refunded == p.Amount.Amount:
				l.Class = Refunded
			case p.Duplicate:
				l.Class = Duplicate
			default:
				l.Class = Matched
			}
		}
		rep.Lines = append(rep.Lines, l)
	}
	for _, p := range ps {
		if p.State == channels.PaymentSuccess && p.Receipt != "" && !seen[key{p.Provider, p.Receipt}] {
			rep.Lines = append(rep.Lines, Line{Class: MissingTheirs, Kind: KindPayment, Provider: p.Provider, Receipt: p.Receipt, Bill: p.Bill,
				Payment: p.ID, Currency: p.Amount.Currency, Ours: p.Amount.Amount, Refunded: p.Refunded})
		}
		for _, r := range p.Refunds {
			if r.State == channels.RefundAccepted && r.Ref != "" && !seen[key{"refund:" + p.Provider, r.Ref}] {
				rep.Lines = append(rep.Lines, Line{Class: MissingTheirs, Kind: KindRefund, Provider: p.Provider, Receipt: r.Ref, Bill: p.Bill,
					Payment: p.ID, Currency: r.Amount.Currency, Ours: r.Amount.Amount, Refunded: r.Amount.Amount})
			}
		}
	}
	return rep
}

// Count returns how many lines of r are of class.
func (r Report) Count(class string) int {
	return len(slices.DeleteFunc(slices.Clone(r.Lines), func(l Line) bool { return l.Class != class }))
}

// WriteCSV writes r as CSV with a header row.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"class", "kind", "provider", "receipt", "bill", "payment", "currency", "theirs", "ours", "refunded"})
	for _, l := range r.Lines {
		cw.Write([]string{l.Class, l.Kind, l.Provider, l.Receipt, l.Bill, l.Payment, l.Currency,
			strconv.FormatInt(l.Theirs, 10), strconv.FormatInt(l.Ours, 10), strconv.FormatInt(l.Refunded, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes r as an indented JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Lines == nil {
		r.Lines = []Line{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

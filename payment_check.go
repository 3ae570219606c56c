package channels

import "slices"

// CheckPaymentChange reports whether a store may store after in place of
// before, and bill after in place of bill before, as one UpdatePayment:
// nil, or the ECONFLICT error to return. Both stores call it, so that they
// refuse the same changes. It also sets after.Refunded from its refunds
// (every one not failed), which is what Refunded means.
func CheckPaymentChange(before, after *Payment, billBefore, billAfter *Bill) error {
	switch {
	case after.ID != before.ID || after.Bill != before.Bill || after.Provider != before.Provider ||
		!after.CreatedAt.Equal(before.CreatedAt) || after.Unrequested != before.Unrequested || after.Amount != before.Amount:
		return Errorf(ECONFLICT, "error.conflict", "payment %s: an update may not change its ID, bill, provider, amount or creation", before.ID)
	case before.State.Finished() && after.State != before.State:
		return Errorf(ECONFLICT, "payment.finished", "payment %s is %s: a finished attempt keeps its state", before.ID, before.State)
	case before.Receipt != "" && after.Receipt != before.Receipt:
		return Errorf(ECONFLICT, "error.conflict", "payment %s: its receipt is set", before.ID)
	case len(after.Refunds) < len(before.Refunds):
		return Errorf(ECONFLICT, "error.conflict", "payment %s: refunds are append-only", before.ID)
	case billAfter.ID != billBefore.ID || billAfter.Key != billBefore.Key || !billAfter.CreatedAt.Equal(billBefore.CreatedAt) || billAfter.Fee != billBefore.Fee:
		return Errorf(ECONFLICT, "error.conflict", "bill %s: an update may not change its ID, key, fee or creation", billBefore.ID)
	case billBefore.Paid != "" && billAfter.Paid != billBefore.Paid:
		return Errorf(ECONFLICT, "payment.already_paid", "bill %s is paid by %s", billBefore.ID, billBefore.Paid)
	case billBefore.CaseRef != "" && billAfter.CaseRef != billBefore.CaseRef:
		return Errorf(ECONFLICT, "error.conflict", "bill %s is filed as %s", billBefore.ID, billBefore.CaseRef)
	}
	for i, r := range before.Refunds {
		a := after.Refunds[i]
		if a.ID != r.ID || a.Amount != r.Amount || (r.State != RefundCreated && a.State != r.State) {
			return Errorf(ECONFLICT, "error.conflict", "payment %s: refund %s may only move on from created", before.ID, r.ID)
		}
	}
	if !slices.EqualFunc(after.Refunds[:len(before.Refunds)], before.Refunds, func(a, b Refund) bool { return a.ID == b.ID }) {
		return Errorf(ECONFLICT, "error.conflict", "payment %s: refunds are append-only", before.ID)
	}
	after.Refunded = 0
	for _, r := range after.Refunds {
		if r.State != RefundFailed {
			after.Refunded += r.Amount.Amount
		}
	}
	if after.Refunded > after.Amount.Amount {
		return Errorf(ECONFLICT, "payment.refund_amount", "payment %s: refunds of %d exceed its %d", before.ID, after.Refunded, after.Amount.Amount)
	}
	return nil
}

// CheckRefund reports whether r may be added to p when the caller
// believes refundable is still refundable: nil, or the error to return.
func CheckRefund(p *Payment, refundable int64, r Refund) error {
	switch {
	case p.State != PaymentSuccess || p.SameAs != "":
		return Errorf(ECONFLICT, "payment.not_paid", "payment %s is %s: nothing to refund", p.ID, p.State)
	case refundable != p.Refundable():
		return Errorf(ECONFLICT, "payment.refund_stale", "payment %s has %d refundable, not %d", p.ID, p.Refundable(), refundable)
	case r.Amount.Amount < 1 || r.Amount.Amount > refundable || r.Amount.Currency != p.Amount.Currency:
		return Errorf(EINVALID, "payment.refund_amount", "refund of %d %s from %d %s refundable", r.Amount.Amount, r.Amount.Currency, refundable, p.Amount.Currency)
	case r.ID == "" || r.State == RefundFailed:
		return Errorf(EINVALID, "error.internal", "refund without an ID, or failed already")
	}
	for _, o := range p.Refunds {
		if o.ID == r.ID {
			return Errorf(ECONFLICT, "payment.taken", "refund %s is stored", r.ID)
		}
	}
	return nil
}

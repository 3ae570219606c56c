package momo

import (
	"errors"
	"fmt"

	"github.com/govchannels/channels/payment"
	"github.com/govchannels/channels/payment/amount"
)

// MaxNotification is the largest callback body ParseCallback reads; the
// HTTP edge cuts bodies to it.
const MaxNotification = 16 << 10

// ParseCallback reads the body MoMo sends (once, PUT or POST) to a
// request's X-Callback-Url: the request's state, as its GET says. It is a
// hint to read Status: Attempt and Ref are the externalId (our attempt
// ID), and on SUCCESSFUL Receipt, Paid and Payer are filled. Unknown
// fields are let through (MoMo's callbacks vary by market); missing or
// mistyped ones are errors.
func ParseCallback(body []byte) (payment.Hint, error) {
	if len(body) > MaxNotification {
		return payment.Hint{}, fmt.Errorf("momo: callback: a body over %d bytes", MaxNotification)
	}
	var res Result
	if err := payment.DecodeOne(body, &res, false); err != nil {
		return payment.Hint{}, fmt.Errorf("momo: callback: %w", err)
	}
	if !UUIDv4(res.ExternalID) {
		return payment.Hint{}, fmt.Errorf("momo: callback: externalId %q is not our attempt ID", res.ExternalID)
	}
	if _, err := Reason(res.Reason); err != nil {
		return payment.Hint{}, fmt.Errorf("momo: callback: %w", err)
	}
	hint := payment.Hint{Provider: "momo", Attempt: res.ExternalID, Ref: res.ExternalID}
	switch res.Status {
	case "PENDING", "FAILED":
		return hint, nil
	case "SUCCESSFUL":
	default:
		return payment.Hint{}, fmt.Errorf("momo: callback: unknown status %q", res.Status)
	}
	paid, err := amount.Parse(res.Amount, res.Currency)
	if err != nil || paid.Amount <= 0 {
		return payment.Hint{}, fmt.Errorf("momo: callback: amount %q %q is not a positive amount", res.Amount, res.Currency)
	}
	if res.FinancialTransactionID == "" {
		return payment.Hint{}, errors.New("momo: callback: a success without a financialTransactionId")
	}
	hint.Receipt, hint.Paid = res.FinancialTransactionID, paid
	if p := res.Payer; p != nil && p.PartyIDType == "MSISDN" && e164.MatchString("+"+p.PartyID) {
		hint.Payer = "+" + p.PartyID
	}
	return hint, nil
}

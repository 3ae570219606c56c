package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/govchannels/channels/payment"
	"github.com/govchannels/channels/payment/amount"
)

// MaxNotification is the largest callback, confirmation or result body
// the Parse functions read; the HTTP edge cuts bodies to it.
const MaxNotification = 16 << 10

// Code is a Daraja result code, which Daraja writes as a number in some
// bodies (the STK callback's ResultCode) and as a string in others (the
// query's ResultCode, C2B's "C2B00012"): either reads as its text.
type Code string

// UnmarshalJSON takes a JSON string or an integer.
func (c *Code) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Code(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("result code %s: neither a string nor a number", b)
	}
	if _, err := n.Int64(); err != nil {
		return fmt.Errorf("result code %s: not an integer", b)
	}
	*c = Code(n.String())
	return nil
}

// Callback is the body Daraja posts to an STK push's CallBackURL.
type Callback struct {
	Body struct {
		STKCallback *STKCallback `json:"stkCallback"`
	}
}

// STKCallback is the result of one STK push.
type STKCallback struct {
	MerchantRequestID string
	CheckoutRequestID string
	ResultCode        *Code
	ResultDesc        string
	CallbackMetadata  *struct {
		Item []Item
	} `json:",omitempty"`
}

// Item is one named value of a callback's metadata or a result's
// parameters. Value is a number or a string, or absent (Balance).
type Item struct {
	Name  string
	Value json.RawMessage `json:",omitempty"`
}

// text is an item's value as text: a string's content or a number's
// digits as written.
func (it Item) text() (string, error) {
	if len(it.Value) == 0 {
		return "", nil
	}
	if it.Value[0] == '"' {
		var s string
		err := json.Unmarshal(it.Value, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(it.Value, &n); err != nil {
		return "", fmt.Errorf("%s: %s is neither a string nor a number", it.Name, it.Value)
	}
	return n.String(), nil
}

// ParseCallback reads an STK callback into a hint to query the attempt:
// Ref is the CheckoutRequestID; on success (ResultCode 0) Receipt, Paid
// and Payer come from the metadata. Daraja signs nothing, so nothing in it
// is to be believed before Status says so. Unknown fields are let through
// (Daraja adds some without notice); missing or mistyped ones are errors.
// The caller sets Attempt from the callback's URL.
func ParseCallback(body []byte) (payment.Hint, error) {
	var cb Callback
	if err := decode(body, &cb); err != nil {
		return payment.Hint{}, fmt.Errorf("mpesa: STK callback: %w", err)
	}
	s := cb.Body.STKCallback
	if s == nil || s.CheckoutRequestID == "" || s.ResultCode == nil {
		return payment.Hint{}, errors.New("mpesa: STK callback: no Body.stkCallback with CheckoutRequestID and ResultCode")
	}
	hint := payment.Hint{Provider: "mpesa", Ref: s.CheckoutRequestID}
	if *s.ResultCode != "0" {
		return hint, nil
	}
	if s.CallbackMetadata == nil {
		return payment.Hint{}, errors.New("mpesa: STK callback: a success without CallbackMetadata")
	}
	for _, it := range s.CallbackMetadata.Item {
		v, err := it.text()
		if err != nil {
			return payment.Hint{}, fmt.Errorf("mpesa: STK callback: %w", err)
		}
		switch it.Name {
		case "Amount":
			if hint.Paid, err = amount.Parse(v, "KES"); err != nil {
				return payment.Hint{}, fmt.Errorf("mpesa: STK callback: %w", err)
			}
		case "MpesaReceiptNumber":
			hint.Receipt = v
		case "PhoneNumber":
			hint.Payer = payer(v)
		}
	}
	if !receipt.MatchString(hint.Receipt) || hint.Paid.Amount <= 0 {
		return payment.Hint{}, errors.New("mpesa: STK callback: a success without a receipt number or a positive amount")
	}
	return hint, nil
}

// receipt is an M-Pesa transaction ID: ten upper-case letters and digits.
var receipt = regexp.MustCompile(`^[0-9A-Z]{8,12}$`)

// payer is an MSISDN 2547... as E.164, "" when it is not one (C2B
// confirmations carry a hash of it since 2021).
func payer(msisdn string) string {
	if e164Kenya.MatchString("+" + msisdn) {
		return "+" + msisdn
	}
	return ""
}

// C2B is the confirmation Daraja posts for money paid to the paybill by
// the payer's own initiative (Lipa na M-Pesa, the paybill's menu), and the
// validation request before it.
type C2B struct {
	TransactionType   string
	TransID           string
	TransTime         string
	TransAmount       string
	BusinessShortCode string
	BillRefNumber     string
	InvoiceNumber     string
	OrgAccountBalance string
	ThirdPartyTransID string
	MSISDN            string
	FirstName         string
	MiddleName        string
	LastName          string
}

// ParseC2B reads a C2B confirmation into a hint of money that arrived
// without our request: Bill is the account the payer typed, Receipt the
// TransID, Paid the amount; Payer when the MSISDN is not masked. It is
// unsigned like every Daraja notification.
func ParseC2B(body []byte) (payment.Hint, error) {
	var c C2B
	if err := decode(body, &c); err != nil {
		return payment.Hint{}, fmt.Errorf("mpesa: C2B confirmation: %w", err)
	}
	if !receipt.MatchString(c.TransID) {
		return payment.Hint{}, fmt.Errorf("mpesa: C2B confirmation: TransID %q is not an M-Pesa receipt", c.TransID)
	}
	if _, err := time.ParseInLocation(TimestampLayout, c.TransTime, Nairobi); err != nil {
		return payment.Hint{}, fmt.Errorf("mpesa: C2B confirmation: TransTime %q: %w", c.TransTime, err)
	}
	paid, err := amount.Parse(c.TransAmount, "KES")
	if err != nil || paid.Amount <= 0 {
		return payment.Hint{}, fmt.Errorf("mpesa: C2B confirmation: TransAmount %q is not a positive amount", c.TransAmount)
	}
	if c.BusinessShortCode == "" {
		return payment.Hint{}, errors.New("mpesa: C2B confirmation: no BusinessShortCode")
	}
	return payment.Hint{
		Provider: "mpesa",
		Bill:     strings.TrimSpace(c.BillRefNumber),
		Receipt:  c.TransID,
		Paid:     paid,
		Payer:    payer(c.MSISDN),
	}, nil
}

// Validation result codes a C2B validation URL answers with.
const (
	C2BAccept            = "0"
	C2BInvalidAccount    = "C2B00012"
	C2BInvalidAmount     = "C2B00013"
	C2BOtherError        = "C2B00016"
	C2BInvalidShortCode  = "C2B00015"
	C2BInvalidMSISDN     = "C2B00011"
	C2BInvalidKYCDetails = "C2B00014"
)

// ValidationAnswer is the body a C2B validation URL answers: accept with
// C2BAccept, refuse with a C2B000xx code.
type ValidationAnswer struct {
	ResultCode string `json:"ResultCode"`
	ResultDesc string `json:"ResultDesc"`
}

// ReversalResult is what a reversal's ResultURL says.
type ReversalResult struct {
	// OK is a ResultCode of 0: the money went back to the payer.
	OK                       bool
	Code                     string // ResultCode
	Desc                     string // ResultDesc
	ConversationID           string // RefundAccepted.Ref
	OriginatorConversationID string
	TransactionID            string // the reversal's own M-Pesa transaction
	// Reversed is the original receipt, when the result's parameters say
	// it.
	Reversed string
}

// ParseReversalResult reads the body Daraja posts to a reversal's
// ResultURL ({"Result": {...}}). It is unsigned: the refund is not done
// until the statement or a second reading agrees.
func ParseReversalResult(body []byte) (ReversalResult, error) {
	var r struct {
		Result *struct {
			ResultType               *int
			ResultCode               *Code
			ResultDesc               string
			OriginatorConversationID string
			ConversationID           string
			TransactionID            string
			ResultParameters         *struct {
				ResultParameter json.RawMessage
			} `json:",omitempty"`
			ReferenceData json.RawMessage `json:",omitempty"`
		}
	}
	if err := decode(body, &r); err != nil {
		return ReversalResult{}, fmt.Errorf("mpesa: reversal result: %w", err)
	}
	res := r.Result
	if res == nil || res.ResultCode == nil || res.ConversationID == "" {
		return ReversalResult{}, errors.New("mpesa: reversal result: no Result with ResultCode and ConversationID")
	}
	out := ReversalResult{
		OK:                       *res.ResultCode == "0",
		Code:                     string(*res.ResultCode),
		Desc:                     res.ResultDesc,
		ConversationID:           res.ConversationID,
		OriginatorConversationID: res.OriginatorConversationID,
		TransactionID:            res.TransactionID,
	}
	if res.ResultParameters != nil && len(res.ResultParameters.ResultParameter) > 0 {
		params, err := resultParameters(res.ResultParameters.ResultParameter)
		if err != nil {
			return ReversalResult{}, fmt.Errorf("mpesa: reversal result: %w", err)
		}
		for _, p := range params {
			if p.Key == "OriginalTransactionID" {
				if out.Reversed, err = (Item{Name: p.Key, Value: p.Value}).text(); err != nil {
					return ReversalResult{}, fmt.Errorf("mpesa: reversal result: %w", err)
				}
			}
		}
	}
	return out, nil
}

type resultParameter struct {
	Key   string
	Value json.RawMessage `json:",omitempty"`
}

// resultParameters reads ResultParameter, which Daraja writes as a list,
// or as one object when there is one.
func resultParameters(raw json.RawMessage) ([]resultParameter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var one resultParameter
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("ResultParameter: %w", err)
		}
		return []resultParameter{one}, nil
	}
	var list []resultParameter
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("ResultParameter: %w", err)
	}
	return list, nil
}

// decode reads one JSON value of at most MaxNotification bytes into out.
func decode(body []byte, out any) error {
	if len(body) > MaxNotification {
		return fmt.Errorf("a body over %d bytes", MaxNotification)
	}
	return payment.DecodeOne(body, out, false)
}

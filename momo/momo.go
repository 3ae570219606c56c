// Package momo is MTN Mobile Money's Open API as a payment.Provider:
// Collection's request to pay and its status, and Disbursement's refund.
// It speaks MoMo's wire format and nothing else; docs/payment-providers.md
// says which behaviour of MoMo it relies on, with the public sources.
//
// Our attempt ID is the X-Reference-Id: MoMo answers a second request with
// the same one 409 RESOURCE_ALREADY_EXIST, so a request repeated after a
// lost answer never charges twice. Request takes a 409 as accepted; Status
// then says what became of the first.
package momo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/payment"
	"github.com/govchannels/channels/payment/amount"
)

const (
	// MaxAnswer is the largest answer read from MoMo; a larger one is an
	// error, never truncated into a wrong reading.
	MaxAnswer = 64 << 10
	// MaxMessage is the longest payerMessage and payeeNote sent.
	MaxMessage = 160
	// tokenMargin is how long before its stated expiry a token is
	// fetched again.
	tokenMargin = 60 * time.Second
)

// Product is the credentials of one MoMo product (Collection,
// Disbursement): each has its own subscription key and API user.
type Product struct {
	SubscriptionKey string // Ocp-Apim-Subscription-Key
	APIUser         string // a UUID v4
	APIKey          string
}

func (p Product) configured() bool {
	return p.SubscriptionKey != "" && p.APIUser != "" && p.APIKey != ""
}

// Config is what a Client needs of a MoMo account.
type Config struct {
	// BaseURL is MoMo's root: https://proxy.momoapi.mtn.com, or
	// https://sandbox.momodeveloper.mtn.com, or a demopay server.
	BaseURL string
	// TargetEnvironment is X-Target-Environment: "sandbox", or the
	// market's ("mtnuganda", "mtnrwanda", ...).
	TargetEnvironment string
	Collection        Product
	// Disbursement refunds; without it Refund is payment.ErrNoRefund.
	Disbursement Product
	// CallbackURL is our URL for the callback of an attempt (its host
	// must be the one registered for the API user); nil sends none and
	// relies on Status alone.
	CallbackURL func(attempt string) string
	// HTTP sends the requests; nil is a client with a 30 s time-out.
	HTTP *http.Client
	// Now is the clock of token expiry; nil is time.Now.
	Now func() time.Time
}

// Client is a MoMo client. It is safe for concurrent use.
type Client struct {
	cfg          Config
	collection   *tokens
	disbursement *tokens
}

var _ payment.Provider = (*Client)(nil)

// New returns a Client over cfg, refusing a Config that is missing what
// every request needs.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.BaseURL == "":
		return nil, errors.New("momo: no BaseURL")
	case cfg.TargetEnvironment == "":
		return nil, errors.New("momo: no TargetEnvironment")
	case !cfg.Collection.configured():
		return nil, errors.New("momo: Collection needs a subscription key, an API user and its key")
	case !UUIDv4(cfg.Collection.APIUser):
		return nil, fmt.Errorf("momo: Collection API user %q is not a UUID v4", cfg.Collection.APIUser)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg}
	c.collection = &tokens{c: c, product: cfg.Collection, path: "/collection/token/"}
	c.disbursement = &tokens{c: c, product: cfg.Disbursement, path: "/disbursement/token/"}
	return c, nil
}

// Name is "momo".
func (c *Client) Name() string { return "momo" }

var uuidV4 = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)

// UUIDv4 reports whether s is a UUID of version 4, as MoMo wants of an
// X-Reference-Id and an API user.
func UUIDv4(s string) bool { return uuidV4.MatchString(s) }

// Party is a MoMo account holder.
type Party struct {
	PartyIDType string `json:"partyIdType"`
	PartyID     string `json:"partyId"`
}

// RequestToPay is the body of a Collection request to pay.
type RequestToPay struct {
	Amount       string `json:"amount"`
	Currency     string `json:"currency"`
	ExternalID   string `json:"externalId"`
	Payer        Party  `json:"payer"`
	PayerMessage string `json:"payerMessage"`
	PayeeNote    string `json:"payeeNote"`
}

// Refund is the body of a Disbursement refund.
type Refund struct {
	Amount              string `json:"amount"`
	Currency            string `json:"currency"`
	ExternalID          string `json:"externalId"`
	PayerMessage        string `json:"payerMessage"`
	PayeeNote           string `json:"payeeNote"`
	ReferenceIDToRefund string `json:"referenceIdToRefund"`
}

// Result is MoMo's state of a request to pay (GET and callback) or of a
// refund (Payee instead of Payer).
type Result struct {
	Amount                 string          `json:"amount"`
	Currency               string          `json:"currency"`
	FinancialTransactionID string          `json:"financialTransactionId,omitempty"`
	ExternalID             string          `json:"externalId"`
	Payer                  *Party          `json:"payer,omitempty"`
	Payee                  *Party          `json:"payee,omitempty"`
	PayerMessage           string          `json:"payerMessage,omitempty"`
	PayeeNote              string          `json:"payeeNote,omitempty"`
	Status                 string          `json:"status"`
	Reason                 json.RawMessage `json:"reason,omitempty"`
}

// Fault is MoMo's error body ({"code", "message"}) with its HTTP status.
type Fault struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (f *Fault) Error() string {
	return fmt.Sprintf("momo: HTTP %d: %s %s", f.Status, f.Code, f.Message)
}

// ErrNotFound is Status's answer for an attempt MoMo does not know (404):
// its request never arrived, or not yet.
var ErrNotFound = errors.New("momo: no such request")

// Request asks the payer to approve r. A 409 (the attempt's reference
// already used) is the answer to a repeat of a request MoMo already took:
// accepted, and Status says what became of it.
func (c *Client) Request(ctx context.Context, r payment.Request) (payment.Accepted, error) {
	if !UUIDv4(r.Attempt) {
		return payment.Accepted{}, channels.Errorf(channels.EINVALID, "error.internal", "momo: attempt %q is not a UUID v4", r.Attempt)
	}
	party, err := msisdn(r.Phone)
	if err != nil {
		return payment.Accepted{}, err
	}
	text, err := positive(r.Amount)
	if err != nil {
		return payment.Accepted{}, err
	}
	body := RequestToPay{
		Amount:       text,
		Currency:     r.Amount.Currency,
		ExternalID:   r.Attempt,
		Payer:        Party{PartyIDType: "MSISDN", PartyID: party},
		PayerMessage: truncate(r.Description, MaxMessage),
		PayeeNote:    truncate("bill "+r.Bill, MaxMessage),
	}
	header := http.Header{"X-Reference-Id": {r.Attempt}}
	if c.cfg.CallbackURL != nil {
		header.Set("X-Callback-Url", c.cfg.CallbackURL(r.Attempt))
	}
	err = c.call(ctx, c.collection, http.MethodPost, "/collection/v1_0/requesttopay", header, body, http.StatusAccepted, nil)
	var fault *Fault
	if errors.As(err, &fault) && fault.Status == http.StatusConflict {
		return payment.Accepted{Ref: r.Attempt}, nil
	}
	if err != nil {
		return payment.Accepted{}, fmt.Errorf("momo: request to pay of attempt %s: %w", r.Attempt, err)
	}
	return payment.Accepted{Ref: r.Attempt}, nil
}

// Status reads the request to pay of a (its reference is our attempt ID).
func (c *Client) Status(ctx context.Context, a payment.Attempt) (channels.PaymentStatus, error) {
	if !UUIDv4(a.Attempt) {
		return channels.PaymentStatus{}, fmt.Errorf("momo: attempt %q is not a UUID v4", a.Attempt)
	}
	var res Result
	err := c.call(ctx, c.collection, http.MethodGet, "/collection/v1_0/requesttopay/"+url.PathEscape(a.Attempt), nil, nil, http.StatusOK, &res)
	var fault *Fault
	if errors.As(err, &fault) && fault.Status == http.StatusNotFound {
		return channels.PaymentStatus{}, fmt.Errorf("momo: status of %s: %w", a.Attempt, ErrNotFound)
	}
	if err != nil {
		return channels.PaymentStatus{}, fmt.Errorf("momo: status of %s: %w", a.Attempt, err)
	}
	if res.Payer == nil {
		return channels.PaymentStatus{}, fmt.Errorf("momo: status of %s: no payer", a.Attempt)
	}
	return res.status()
}

// Refund sends r.Amount of the attempt r.Attempt back to its payer by a
// Disbursement refund whose reference is r.Refund; a 409 is a repeat of a
// refund MoMo already took. RefundStatus says how it ended.
func (c *Client) Refund(ctx context.Context, r payment.RefundRequest) (payment.RefundAccepted, error) {
	if !c.cfg.Disbursement.configured() {
		return payment.RefundAccepted{}, fmt.Errorf("momo: no Disbursement product configured: %w", payment.ErrNoRefund)
	}
	if !UUIDv4(r.Refund) || !UUIDv4(r.Attempt) {
		return payment.RefundAccepted{}, channels.Errorf(channels.EINVALID, "error.internal", "momo: refund %q of attempt %q: both must be UUID v4", r.Refund, r.Attempt)
	}
	text, err := positive(r.Amount)
	if err != nil {
		return payment.RefundAccepted{}, err
	}
	body := Refund{
		Amount:              text,
		Currency:            r.Amount.Currency,
		ExternalID:          r.Refund,
		PayerMessage:        truncate(r.Reason, MaxMessage),
		PayeeNote:           truncate("refund of "+r.Attempt, MaxMessage),
		ReferenceIDToRefund: r.Attempt,
	}
	header := http.Header{"X-Reference-Id": {r.Refund}}
	err = c.call(ctx, c.disbursement, http.MethodPost, "/disbursement/v1_0/refund", header, body, http.StatusAccepted, nil)
	var fault *Fault
	if err != nil && !(errors.As(err, &fault) && fault.Status == http.StatusConflict) {
		return payment.RefundAccepted{}, fmt.Errorf("momo: refund %s of attempt %s: %w", r.Refund, r.Attempt, err)
	}
	return payment.RefundAccepted{Ref: r.Refund}, nil
}

// RefundStatus reads the refund whose reference is refund: success when
// the money went back (Receipt its financialTransactionId).
func (c *Client) RefundStatus(ctx context.Context, refund string) (channels.PaymentStatus, error) {
	if !c.cfg.Disbursement.configured() {
		return channels.PaymentStatus{}, fmt.Errorf("momo: no Disbursement product configured: %w", payment.ErrNoRefund)
	}
	if !UUIDv4(refund) {
		return channels.PaymentStatus{}, fmt.Errorf("momo: refund %q is not a UUID v4", refund)
	}
	var res Result
	err := c.call(ctx, c.disbursement, http.MethodGet, "/disbursement/v1_0/refund/"+url.PathEscape(refund), nil, nil, http.StatusOK, &res)
	var fault *Fault
	if errors.As(err, &fault) && fault.Status == http.StatusNotFound {
		return channels.PaymentStatus{}, fmt.Errorf("momo: status of refund %s: %w", refund, ErrNotFound)
	}
	if err != nil {
		return channels.PaymentStatus{}, fmt.Errorf("momo: status of refund %s: %w", refund, err)
	}
	return res.status()
}

// status is the PaymentStatus res says. PENDING is pending; SUCCESSFUL
// is success with the receipt and amount; FAILED is failed when the payer
// did not pay (refused, expired, no funds, limits, unknown payer) and
// error for a failure on MoMo's or our side. Anything else is an error.
func (res Result) status() (channels.PaymentStatus, error) {
	reason, err := Reason(res.Reason)
	if err != nil {
		return channels.PaymentStatus{}, err
	}
	switch res.Status {
	case "PENDING":
		return channels.PaymentStatus{State: channels.PaymentPending}, nil
	case "FAILED":
		state := channels.PaymentError
		if payerReasons[reason] {
			state = channels.PaymentFailed
		}
		return channels.PaymentStatus{State: state, Reason: reason}, nil
	case "SUCCESSFUL":
		paid, err := amount.Parse(res.Amount, res.Currency)
		if err != nil {
			return channels.PaymentStatus{}, fmt.Errorf("momo: a success with %w", err)
		}
		if res.FinancialTransactionID == "" {
			return channels.PaymentStatus{}, errors.New("momo: a success without a financialTransactionId")
		}
		st := channels.PaymentStatus{State: channels.PaymentSuccess, Receipt: res.FinancialTransactionID, Paid: paid}
		if p := res.party(); p != nil && p.PartyIDType == "MSISDN" && e164.MatchString("+"+p.PartyID) {
			st.Payer = "+" + p.PartyID
		}
		return st, nil
	}
	return channels.PaymentStatus{}, fmt.Errorf("momo: unknown status %q", res.Status)
}

func (res Result) party() *Party {
	if res.Payer != nil {
		return res.Payer
	}
	return res.Payee
}

// payerReasons are the failure reasons of a payer who did not pay.
var payerReasons = map[string]bool{
	"APPROVAL_REJECTED":   true,
	"EXPIRED":             true,
	"PAYER_NOT_FOUND":     true,
	"NOT_ENOUGH_FUNDS":    true,
	"PAYER_LIMIT_REACHED": true,
	"PAYER_DELAYED":       true,
}

// Reason reads a result's reason, which MoMo writes as a string
// ("APPROVAL_REJECTED") and in older versions as {"code", "message"}.
func Reason(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("momo: reason: %w", err)
		}
		return s, nil
	}
	var obj struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("momo: reason %s: neither a string nor {code, message}", truncate(string(raw), 40))
	}
	return obj.Code, nil
}

// call sends one request with the product's token and the headers MoMo
// wants, expects the status want and decodes a body into out (nil: none
// read). A refused token is fetched again once.
func (c *Client) call(ctx context.Context, t *tokens, method, path string, header http.Header, body any, want int, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
	}
	for try := 0; ; try++ {
		token, err := t.get(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Target-Environment", c.cfg.TargetEnvironment)
		req.Header.Set("Ocp-Apim-Subscription-Key", t.product.SubscriptionKey)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		err = c.do(req, want, out)
		var fault *Fault
		if try == 0 && errors.As(err, &fault) && fault.Status == http.StatusUnauthorized {
			t.forget(token)
			continue
		}
		return err
	}
}

// do sends req; a status other than want is a *Fault, and want's body is
// decoded strictly into out.
func (c *Client) do(req *http.Request, want int, out any) error {
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if len(data) > MaxAnswer {
		return fmt.Errorf("an answer over %d bytes", MaxAnswer)
	}
	if resp.StatusCode != want {
		fault := &Fault{Status: resp.StatusCode}
		if json.Unmarshal(data, fault) != nil || fault.Code == "" {
			fault.Message = truncate(strings.TrimSpace(string(data)), 200)
		}
		return fault
	}
	if out == nil {
		return nil
	}
	if err := payment.DecodeOne(data, out, true); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}

// tokens is one product's cached access token.
type tokens struct {
	c       *Client
	product Product
	path    string

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (t *tokens) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.c.cfg.Now()
	if t.token != "" && now.Before(t.expires) {
		return t.token, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.c.cfg.BaseURL+t.path, nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(t.product.APIUser, t.product.APIKey)
	req.Header.Set("Ocp-Apim-Subscription-Key", t.product.SubscriptionKey)
	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := t.c.do(req, http.StatusOK, &answer); err != nil {
		return "", fmt.Errorf("token %s: %w", t.path, err)
	}
	if answer.AccessToken == "" || answer.ExpiresIn <= 0 {
		return "", fmt.Errorf("token %s: an answer without a token or a positive expires_in", t.path)
	}
	t.token = answer.AccessToken
	t.expires = now.Add(time.Duration(answer.ExpiresIn)*time.Second - tokenMargin)
	return t.token, nil
}

func (t *tokens) forget(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == token {
		t.token = ""
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// msisdn is phone, E.164, as MoMo's partyId: digits without the +.
func msisdn(phone string) (string, error) {
	if !e164.MatchString(phone) {
		return "", channels.Errorf(channels.EINVALID, "error.internal", "momo: %s is not a phone number in E.164", channels.MaskPhone(phone))
	}
	return phone[1:], nil
}

// positive is m as MoMo's amount text, refusing zero and negatives.
func positive(m channels.Money) (string, error) {
	if m.Amount <= 0 {
		return "", channels.Errorf(channels.EINVALID, "error.internal", "momo: amount %d is not positive", m.Amount)
	}
	text, err := amount.Format(m)
	if err != nil {
		return "", channels.Errorf(channels.EINVALID, "error.internal", "momo: %v", err)
	}
	return text, nil
}

// truncate is s cut to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

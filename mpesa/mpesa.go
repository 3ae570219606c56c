// Package mpesa is Safaricom's Daraja API as a payment.Provider: M-Pesa
// Express (the STK push that prompts the payer for a PIN), its status
// query, and the reversal of a payment. It speaks Daraja's wire format and
// nothing else; docs/payment-providers.md says which behaviour of Daraja
// it relies on, with the public sources.
//
// Daraja has no idempotency key: an STK push repeated after a lost answer
// prompts the payer again (or fails with 1001 while the first prompt is
// open). The bill therefore travels as the AccountReference, and the
// per-attempt CallBackURL carries our attempt ID, so that money that
// arrives can always be matched.
package mpesa

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/payment"
)

// Daraja's limits and this client's.
const (
	// MaxAccountReference is the longest AccountReference Daraja takes.
	MaxAccountReference = 12
	// MaxTransactionDesc is the longest TransactionDesc Daraja takes.
	MaxTransactionDesc = 13
	// MaxAnswer is the largest answer read from Daraja; a larger one is
	// an error, never truncated into a wrong reading.
	MaxAnswer = 64 << 10
	// TimestampLayout is Daraja's Timestamp: yyyyMMddHHmmss, Nairobi time.
	TimestampLayout = "20060102150405"
	// tokenMargin is how long before its stated expiry a token is
	// fetched again, so that no request carries one that dies in flight.
	tokenMargin = 60 * time.Second
)

// Nairobi is the time zone of Daraja's timestamps.
var Nairobi = mustZone("Africa/Nairobi")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Config is what a Client needs of a Daraja app and its paybill.
type Config struct {
	// BaseURL is Daraja's root: https://api.safaricom.co.ke, or
	// https://sandbox.safaricom.co.ke, or a demopay server.
	BaseURL        string
	ConsumerKey    string
	ConsumerSecret string
	// ShortCode is the paybill receiving the money (BusinessShortCode and
	// PartyB).
	ShortCode string
	// Passkey is the Lipa na M-Pesa Online passkey of ShortCode.
	Passkey string
	// CallbackURL is our HTTPS URL for the STK callback of an attempt; it
	// carries the attempt ID, since Daraja's callback body does not.
	CallbackURL func(attempt string) string
	// Initiator and SecurityCredential (the initiator's password encrypted
	// with Safaricom's certificate, as the portal gives it) sign reversals.
	Initiator          string
	SecurityCredential string
	// ReversalResultURL and ReversalTimeoutURL are our URLs for a
	// reversal's asynchronous result and its queue time-out, by refund ID.
	ReversalResultURL  func(refund string) string
	ReversalTimeoutURL func(refund string) string
	// HTTP sends the requests; nil is a client with a 30 s time-out.
	HTTP *http.Client
	// Now is the clock of timestamps and token expiry; nil is time.Now.
	Now func() time.Time
}

// Client is a Daraja client. It is safe for concurrent use.
type Client struct {
	cfg Config

	mu      sync.Mutex
	token   string
	expires time.Time
}

var _ payment.Provider = (*Client)(nil)

var shortCode = regexp.MustCompile(`^[0-9]{5,7}$`)

// New returns a Client over cfg, refusing a Config that is missing what
// every request needs.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.BaseURL == "":
		return nil, errors.New("mpesa: no BaseURL")
	case cfg.ConsumerKey == "" || cfg.ConsumerSecret == "":
		return nil, errors.New("mpesa: no ConsumerKey or ConsumerSecret")
	case !shortCode.MatchString(cfg.ShortCode):
		return nil, fmt.Errorf("mpesa: ShortCode %q is not 5 to 7 digits", cfg.ShortCode)
	case cfg.Passkey == "":
		return nil, errors.New("mpesa: no Passkey")
	case cfg.CallbackURL == nil:
		return nil, errors.New("mpesa: no CallbackURL")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{cfg: cfg}, nil
}

// Name is "mpesa".
func (c *Client) Name() string { return "mpesa" }

// Password is Daraja's STK password: base64 of shortcode, passkey and
// timestamp, concatenated.
func Password(shortCode, passkey, timestamp string) string {
	return base64.StdEncoding.EncodeToString([]byte(shortCode + passkey + timestamp))
}

// STKPush is the body of an M-Pesa Express request.
type STKPush struct {
	BusinessShortCode string
	Password          string
	Timestamp         string
	TransactionType   string
	Amount            int64
	PartyA            string
	PartyB            string
	PhoneNumber       string
	CallBackURL       string
	AccountReference  string
	TransactionDesc   string
}

// STKPushAnswer is Daraja's synchronous answer to an accepted STK push.
type STKPushAnswer struct {
	MerchantRequestID   string
	CheckoutRequestID   string
	ResponseCode        string
	ResponseDescription string
	CustomerMessage     string
}

// STKQuery is the body of an STK status query.
type STKQuery struct {
	BusinessShortCode string
	Password          string
	Timestamp         string
	CheckoutRequestID string
}

// STKQueryAnswer is Daraja's answer to a query of a finished STK push.
type STKQueryAnswer struct {
	ResponseCode        string
	ResponseDescription string
	MerchantRequestID   string
	CheckoutRequestID   string
	ResultCode          Code
	ResultDesc          string
}

// Reversal is the body of a transaction reversal request.
type Reversal struct {
	Initiator              string
	SecurityCredential     string
	CommandID              string
	TransactionID          string
	Amount                 int64
	ReceiverParty          string
	RecieverIdentifierType string // sic: Daraja's spelling
	ResultURL              string
	QueueTimeOutURL        string
	Remarks                string
	Occasion               string
}

// ReversalAnswer is Daraja's synchronous answer to a reversal request:
// the result follows at ResultURL.
type ReversalAnswer struct {
	OriginatorConversationID string
	ConversationID           string
	ResponseCode             string
	ResponseDescription      string
}

// Fault is Daraja's error body ({"requestId", "errorCode",
// "errorMessage"}) with the HTTP status it came with.
type Fault struct {
	Status    int
	RequestID string `json:"requestId"`
	Code      string `json:"errorCode"`
	Message   string `json:"errorMessage"`
}

func (f *Fault) Error() string {
	return fmt.Sprintf("daraja: HTTP %d: %s %s", f.Status, f.Code, f.Message)
}

// processing reports whether f is Daraja's answer to a query of an STK
// push the payer has not settled yet: 500.001.1001, "The transaction is
// being processed" (the same code also says other things, so the message
// decides).
func (f *Fault) processing() bool {
	return f.Code == "500.001.1001" && strings.Contains(strings.ToLower(f.Message), "being processed")
}

// tokenInvalid reports whether f refuses the access token.
func (f *Fault) tokenInvalid() bool {
	return f.Status == http.StatusUnauthorized || f.Code == "404.001.03"
}

// Request sends an STK push for r: the payer's phone shows a prompt for
// the amount, to the paybill, for the bill's account. Amounts are whole
// shillings: M-Pesa takes no cents.
func (c *Client) Request(ctx context.Context, r payment.Request) (payment.Accepted, error) {
	phone, err := msisdn(r.Phone)
	if err != nil {
		return payment.Accepted{}, err
	}
	shillings, err := wholeShillings(r.Amount)
	if err != nil {
		return payment.Accepted{}, err
	}
	if r.Bill == "" || len(r.Bill) > MaxAccountReference || !printableASCII(r.Bill) {
		return payment.Accepted{}, channels.Errorf(channels.EINVALID, "error.internal", "mpesa: bill %q is not 1 to %d printable characters", r.Bill, MaxAccountReference)
	}
	if r.Attempt == "" {
		return payment.Accepted{}, channels.Errorf(channels.EINVALID, "error.internal", "mpesa: no attempt ID")
	}
	desc := truncate(r.Description, MaxTransactionDesc)
	if desc == "" {
		desc = r.Bill
	}
	ts := c.timestamp()
	body := STKPush{
		BusinessShortCode: c.cfg.ShortCode,
		Password:          Password(c.cfg.ShortCode, c.cfg.Passkey, ts),
		Timestamp:         ts,
		TransactionType:   "CustomerPayBillOnline",
		Amount:            shillings,
		PartyA:            phone,
		PartyB:            c.cfg.ShortCode,
		PhoneNumber:       phone,
		CallBackURL:       c.cfg.CallbackURL(r.Attempt),
		AccountReference:  r.Bill,
		TransactionDesc:   desc,
	}
	var answer STKPushAnswer
	if err := c.call(ctx, "/mpesa/stkpush/v1/processrequest", body, &answer); err != nil {
		return payment.Accepted{}, fmt.Errorf("mpesa: STK push of attempt %s: %w", r.Attempt, err)
	}
	if answer.ResponseCode != "0" || answer.CheckoutRequestID == "" {
		return payment.Accepted{}, fmt.Errorf("mpesa: STK push of attempt %s not accepted: %s %s", r.Attempt, answer.ResponseCode, answer.ResponseDescription)
	}
	return payment.Accepted{Ref: answer.CheckoutRequestID}, nil
}

// ErrNoCheckoutID is Status's answer for an attempt whose STK push answer
// was lost: Daraja's query needs the CheckoutRequestID, which the
// attempt's callback (its URL names the attempt) or the day's statement
// then supplies.
var ErrNoCheckoutID = errors.New("mpesa: no CheckoutRequestID to query: await the callback or the statement")

// Status queries the STK push of a. Daraja's query says whether the
// payer paid but not the receipt: a success has Receipt "" and the
// callback's hint carries it.
func (c *Client) Status(ctx context.Context, a payment.Attempt) (channels.PaymentStatus, error) {
	if a.Ref == "" {
		return channels.PaymentStatus{}, ErrNoCheckoutID
	}
	ts := c.timestamp()
	body := STKQuery{
		BusinessShortCode: c.cfg.ShortCode,
		Password:          Password(c.cfg.ShortCode, c.cfg.Passkey, ts),
		Timestamp:         ts,
		CheckoutRequestID: a.Ref,
	}
	var answer STKQueryAnswer
	err := c.call(ctx, "/mpesa/stkpushquery/v1/query", body, &answer)
	var fault *Fault
	if errors.As(err, &fault) && fault.processing() {
		return channels.PaymentStatus{State: channels.PaymentPending}, nil
	}
	if err != nil {
		return channels.PaymentStatus{}, fmt.Errorf("mpesa: query of %s: %w", a.Ref, err)
	}
	if answer.ResponseCode != "0" {
		return channels.PaymentStatus{}, fmt.Errorf("mpesa: query of %s: response %s %s", a.Ref, answer.ResponseCode, answer.ResponseDescription)
	}
	if answer.CheckoutRequestID != "" && answer.CheckoutRequestID != a.Ref {
		return channels.PaymentStatus{}, fmt.Errorf("mpesa: query of %s answered for %s", a.Ref, answer.CheckoutRequestID)
	}
	return ResultStatus(answer.ResultCode, answer.ResultDesc), nil
}

// ResultStatus is the state an STK push's result code means. 0 is paid;
// the payer's refusals (1, 1001, 1019, 1032, 1037, 2001) are failed, no
// money taken; any other code is an error on Daraja's side, no money
// taken either. Reason is "code: description".
func ResultStatus(code Code, desc string) channels.PaymentStatus {
	if code == "0" {
		return channels.PaymentStatus{State: channels.PaymentSuccess}
	}
	state := channels.PaymentError
	if _, ok := payerResults[string(code)]; ok {
		state = channels.PaymentFailed
	}
	reason := string(code)
	if desc != "" {
		reason += ": " + desc
	}
	return channels.PaymentStatus{State: state, Reason: reason}
}

// payerResults are the STK result codes of a payer who did not pay.
var payerResults = map[string]string{
	"1":    "insufficient funds",
	"1001": "a prompt is already open for this subscriber",
	"1019": "the prompt expired",
	"1032": "cancelled by the payer",
	"1037": "the phone could not be reached",
	"2001": "wrong PIN",
}

// Refund reverses the M-Pesa transaction r.Receipt for r.Amount. The
// answer is only that Daraja took the request: the result arrives at
// ReversalResultURL (ParseReversalResult). Ref is the ConversationID.
func (c *Client) Refund(ctx context.Context, r payment.RefundRequest) (payment.RefundAccepted, error) {
	if c.cfg.Initiator == "" || c.cfg.SecurityCredential == "" || c.cfg.ReversalResultURL == nil || c.cfg.ReversalTimeoutURL == nil {
		return payment.RefundAccepted{}, fmt.Errorf("mpesa: reversals are not configured (initiator, credential, result URLs): %w", payment.ErrNoRefund)
	}
	if r.Receipt == "" || r.Refund == "" {
		return payment.RefundAccepted{}, channels.Errorf(channels.EINVALID, "error.internal", "mpesa: a reversal needs the receipt and our refund ID")
	}
	shillings, err := wholeShillings(r.Amount)
	if err != nil {
		return payment.RefundAccepted{}, err
	}
	remarks := truncate(r.Reason, 100)
	if remarks == "" {
		remarks = "refund"
	}
	body := Reversal{
		Initiator:              c.cfg.Initiator,
		SecurityCredential:     c.cfg.SecurityCredential,
		CommandID:              "TransactionReversal",
		TransactionID:          r.Receipt,
		Amount:                 shillings,
		ReceiverParty:          c.cfg.ShortCode,
		RecieverIdentifierType: "11",
		ResultURL:              c.cfg.ReversalResultURL(r.Refund),
		QueueTimeOutURL:        c.cfg.ReversalTimeoutURL(r.Refund),
		Remarks:                remarks,
		Occasion:               truncate(r.Refund, 100),
	}
	var answer ReversalAnswer
	if err := c.call(ctx, "/mpesa/reversal/v1/request", body, &answer); err != nil {
		return payment.RefundAccepted{}, fmt.Errorf("mpesa: reversal of %s: %w", r.Receipt, err)
	}
	if answer.ResponseCode != "0" || answer.ConversationID == "" {
		return payment.RefundAccepted{}, fmt.Errorf("mpesa: reversal of %s not accepted: %s %s", r.Receipt, answer.ResponseCode, answer.ResponseDescription)
	}
	return payment.RefundAccepted{Ref: answer.ConversationID}, nil
}

func (c *Client) timestamp() string { return c.cfg.Now().In(Nairobi).Format(TimestampLayout) }

// call posts body to path with a valid token and decodes the answer into
// out; a refused token is fetched again once.
func (c *Client) call(ctx context.Context, path string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	for try := 0; ; try++ {
		token, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		err = c.do(req, out)
		var fault *Fault
		if try == 0 && errors.As(err, &fault) && fault.tokenInvalid() {
			c.forget(token)
			continue
		}
		return err
	}
}

// accessToken is the cached OAuth token, fetched again shortly before it
// expires.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if c.token != "" && now.Before(c.expires) {
		return c.token, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+"/oauth/v1/generate?grant_type=client_credentials", nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(c.cfg.ConsumerKey, c.cfg.ConsumerSecret)
	var answer struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
	}
	if err := c.do(req, &answer); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	secs, err := strconv.Atoi(answer.ExpiresIn)
	if err != nil || secs <= 0 || answer.AccessToken == "" {
		return "", fmt.Errorf("token: an answer without a token or a positive expires_in (%q)", answer.ExpiresIn)
	}
	c.token = answer.AccessToken
	c.expires = now.Add(time.Duration(secs)*time.Second - tokenMargin)
	return c.token, nil
}

// forget drops token if it is still the cached one.
func (c *Client) forget(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token = ""
	}
}

// do sends req and decodes a 200's body strictly into out; any other
// status is a *Fault.
func (c *Client) do(req *http.Request, out any) error {
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
	if resp.StatusCode != http.StatusOK {
		fault := &Fault{Status: resp.StatusCode}
		if json.Unmarshal(data, fault) != nil || fault.Code == "" {
			fault.Message = truncate(strings.TrimSpace(string(data)), 200)
		}
		return fault
	}
	if err := payment.DecodeOne(data, out, true); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}

var e164Kenya = regexp.MustCompile(`^\+254[17][0-9]{8}$`)

// msisdn is phone, E.164 +2547..., as Daraja writes it: 2547....
func msisdn(phone string) (string, error) {
	if !e164Kenya.MatchString(phone) {
		return "", channels.Errorf(channels.EINVALID, "error.internal", "mpesa: %s is not a Kenyan mobile number in E.164", channels.MaskPhone(phone))
	}
	return phone[1:], nil
}

// wholeShillings is m in whole shillings, refusing any other currency and
// amounts with cents: M-Pesa moves whole shillings only.
func wholeShillings(m channels.Money) (int64, error) {
	if m.Currency != "KES" {
		return 0, channels.Errorf(channels.EINVALID, "error.internal", "mpesa: currency %q: M-Pesa takes KES", m.Currency)
	}
	if m.Amount <= 0 || m.Amount%100 != 0 {
		return 0, channels.Errorf(channels.EINVALID, "error.internal", "mpesa: %d cents is not a positive whole number of shillings", m.Amount)
	}
	return m.Amount / 100, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// truncate is s cut to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

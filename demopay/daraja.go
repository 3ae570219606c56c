package demopay

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
)

const timestampLayout = "20060102150405"

var (
	nairobi      = mustZone("Africa/Nairobi")
	shortCode    = regexp.MustCompile(`^[0-9]{5,7}$`)
	kenyanMSISDN = regexp.MustCompile(`^254[17][0-9]{8}$`)
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// darajaFault answers Daraja's error shape.
func (s *Server) darajaFault(c *gin.Context, status int, code, message string) {
	s.log.Warn("demo-pay refused a Daraja call", "path", c.Request.URL.Path, "status", status, "code", code, "why", message)
	c.AbortWithStatusJSON(status, gin.H{"requestId": fmt.Sprintf("%d-%d-1", 4000+status, time.Now().UnixNano()%100000000), "errorCode": code, "errorMessage": message})
}

func (s *Server) darajaRoutes(r *gin.Engine) {
	r.GET("/oauth/v1/generate", s.darajaToken)
	authed := r.Group("/mpesa", func(c *gin.Context) {
		if !s.bearer(c.Request, "daraja") {
			s.darajaFault(c, http.StatusUnauthorized, "404.001.03", "Invalid Access Token")
			return
		}
		if mt := c.ContentType(); mt != "application/json" {
			s.darajaFault(c, http.StatusBadRequest, "400.002.05", "Invalid Request Payload: Content-Type "+mt)
			return
		}
		c.Next()
	})
	authed.POST("/stkpush/v1/processrequest", s.stkPush)
	authed.POST("/stkpushquery/v1/query", s.stkQuery)
	authed.POST("/reversal/v1/request", s.reversal)
}

func (s *Server) darajaToken(c *gin.Context) {
	if c.Query("grant_type") != "client_credentials" {
		s.darajaFault(c, http.StatusBadRequest, "400.008.02", "Invalid grant type passed")
		return
	}
	key, secret, ok := c.Request.BasicAuth()
	d := s.cfg.Daraja
	if !ok || !equal(key, d.ConsumerKey) || !equal(secret, d.ConsumerSecret) {
		s.darajaFault(c, http.StatusBadRequest, "400.008.01", "Invalid Authentication passed")
		return
	}
	c.JSON(http.StatusOK, gin.H{"access_token": s.issue("daraja"), "expires_in": strconv.Itoa(int(s.cfg.TokenTTL / time.Second))})
}

// decodeBody reads the request's JSON strictly into v: "" or why not.
func decodeBody(c *gin.Context, v any) string {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return "the body: " + err.Error()
	}
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return "the body: data after the JSON value"
	}
	return ""
}

// password checks a Daraja Timestamp and the Password made from it: ""
// or why not.
func (s *Server) password(ts, password string) string {
	at, err := time.ParseInLocation(timestampLayout, ts, nairobi)
	if err != nil || len(ts) != len(timestampLayout) {
		return "Invalid Timestamp"
	}
	if d := s.cfg.Now().Sub(at); d > TimestampSkew || d < -TimestampSkew {
		return "Invalid Timestamp: not within 5 minutes of now"
	}
	want := base64.StdEncoding.EncodeToString([]byte(s.cfg.Daraja.ShortCode + s.cfg.Daraja.Passkey + ts))
	if !equal(password, want) {
		return "Invalid Password"
	}
	return ""
}

// shillings reads a whole positive amount of shillings.
func shillings(n json.Number) (int64, bool) {
	v, err := strconv.ParseInt(n.String(), 10, 64)
	return v, err == nil && v >= 1 && v <= 250000
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func within(s string, n int) bool {
	return s != "" && utf8.RuneCountInString(s) <= n
}

func (s *Server) stkPush(c *gin.Context) {
	var b struct {
		BusinessShortCode, Password, Timestamp, TransactionType string
		Amount                                                  json.Number
		PartyA, PartyB, PhoneNumber, CallBackURL                string
		AccountReference, TransactionDesc                       string
	}
	if why := decodeBody(c, &b); why != "" {
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - "+why)
		return
	}
	d := s.cfg.Daraja
	why := ""
	amount, amountOK := shillings(b.Amount)
	switch {
	case b.BusinessShortCode != d.ShortCode:
		why = "Invalid BusinessShortCode"
	case s.password(b.Timestamp, b.Password) != "":
		why = s.password(b.Timestamp, b.Password)
	case b.TransactionType != "CustomerPayBillOnline" && b.TransactionType != "CustomerBuyGoodsOnline":
		why = "Invalid TransactionType"
	case !amountOK:
		why = "Invalid Amount"
	case !kenyanMSISDN.MatchString(b.PartyA):
		why = "Invalid PartyA"
	case b.PartyB != d.ShortCode:
		why = "Invalid PartyB"
	case !kenyanMSISDN.MatchString(b.PhoneNumber) || b.PhoneNumber != b.PartyA:
		why = "Invalid PhoneNumber"
	case !httpURL(b.CallBackURL):
		why = "Invalid CallBackURL"
	case !within(b.AccountReference, 12):
		why = "Invalid AccountReference"
	case !within(b.TransactionDesc, 13):
		why = "Invalid TransactionDesc"
	}
	if why != "" {
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - "+why)
		return
	}
	m := magicOf(b.PhoneNumber)
	s.mu.Lock()
	now := s.cfg.Now()
	n := s.next()
	p := &Payment{
		Provider:    MPesa,
		Ref:         fmt.Sprintf("ws_CO_%s%06d", now.In(nairobi).Format("02012006150405"), n),
		Merchant:    fmt.Sprintf("29115-%08d-1", n),
		Bill:        b.AccountReference,
		Phone:       b.PhoneNumber,
		Amount:      channels.Money{Amount: amount * 100, Currency: "KES"},
		Status:      "PENDING",
		CallbackURL: b.CallBackURL,
		At:          now,
	}
	open := false
	for _, q := range s.payments {
		if q.Provider == MPesa && q.Phone == p.Phone && q.Status == "PENDING" {
			open = true
		}
	}
	s.payments[p.Ref] = p
	if open {
		s.settleLocked(p, busy)
	} else {
		s.scheduleLocked(p, m)
	}
	s.mu.Unlock()
	s.log.Info("demo-pay took an STK push", "ref", p.Ref, "bill", p.Bill, "phone", channels.MaskPhone("+"+p.Phone))
	if open {
		s.deliver(p.Ref, Once)
	}
	if m.lost && !open {
		s.lose(c)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"MerchantRequestID":   p.Merchant,
		"CheckoutRequestID":   p.Ref,
		"ResponseCode":        "0",
		"ResponseDescription": "Success. Request accepted for processing",
		"CustomerMessage":     "Success. Request accepted for processing",
	})
}

// lose holds a request's answer until its caller gives up or Slow
// passes, then answers 504: the request was taken, the answer lost.
func (s *Server) lose(c *gin.Context) {
	select {
	case <-c.Request.Context().Done():
		return
	case <-s.base.Done():
		return
	case <-time.After(s.cfg.Slow):
	}
	c.AbortWithStatus(http.StatusGatewayTimeout)
}

func (s *Server) stkQuery(c *gin.Context) {
	var b struct{ BusinessShortCode, Password, Timestamp, CheckoutRequestID string }
	if why := decodeBody(c, &b); why != "" {
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - "+why)
		return
	}
	if b.BusinessShortCode != s.cfg.Daraja.ShortCode {
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid BusinessShortCode")
		return
	}
	if why := s.password(b.Timestamp, b.Password); why != "" {
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - "+why)
		return
	}
	s.mu.Lock()
	p, ok := s.payments[b.CheckoutRequestID]
	var q Payment
	if ok {
		q = *p
	}
	s.mu.Unlock()
	switch {
	case !ok || q.Provider != MPesa:
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
		return
	case q.Status == "PENDING":
		s.darajaFault(c, http.StatusInternalServerError, "500.001.1001", "The transaction is being processed")
		return
	}
	res := results[q.Outcome]
	c.JSON(http.StatusOK, gin.H{
		"ResponseCode":        "0",
		"ResponseDescription": "The service request has been accepted successsfully",
		"MerchantRequestID":   q.Merchant,
		"CheckoutRequestID":   q.Ref,
		"ResultCode":          res.code,
		"ResultDesc":          res.desc,
	})
}

// stkCallbackLocked is p's STK callback body.
func (s *Server) stkCallbackLocked(p *Payment) []byte {
	res := results[p.Outcome]
	code, _ := strconv.Atoi(res.code)
	cb := map[string]any{
		"MerchantRequestID": p.Merchant,
		"CheckoutRequestID": p.Ref,
		"ResultCode":        code,
		"ResultDesc":        res.desc,
	}
	if p.Status == "SUCCESSFUL" {
		date, _ := strconv.ParseInt(p.SettledAt.In(nairobi).Format(timestampLayout), 10, 64)
		phone, _ := strconv.ParseInt(p.Phone, 10, 64)
		cb["CallbackMetadata"] = map[string]any{"Item": []map[string]any{
			{"Name": "Amount", "Value": json.Number(strconv.FormatInt(p.Amount.Amount/100, 10) + ".00")},
			{"Name": "MpesaReceiptNumber", "Value": p.Receipt},
			{"Name": "Balance"},
			{"Name": "TransactionDate", "Value": date},
			{"Name": "PhoneNumber", "Value": phone},
		}}
	}
	body, _ := json.Marshal(map[string]any{"Body": map[string]any{"stkCallback": cb}})
	return body
}

func (s *Server) reversal(c *gin.Context) {
	var b struct {
		Initiator, SecurityCredential, CommandID, TransactionID string
		Amount                                                  json.Number
		ReceiverParty, RecieverIdentifierType                   string
		ResultURL, QueueTimeOutURL, Remarks, Occasion           string
	}
	if why := decodeBody(c, &b); why != "" {
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - "+why)
		return
	}
	d := s.cfg.Daraja
	amount, amountOK := shillings(b.Amount)
	why := ""
	switch {
	case b.Initiator != d.Initiator:
		why = "Invalid Initiator"
	case !equal(b.SecurityCredential, d.SecurityCredential):
		why = "Invalid SecurityCredential"
	case b.CommandID != "TransactionReversal":
		why = "Invalid CommandID"
	case b.TransactionID == "":
		why = "Invalid TransactionID"
	case !amountOK:
		why = "Invalid Amount"
	case b.ReceiverParty != d.ShortCode:
		why = "Invalid ReceiverParty"
	case b.RecieverIdentifierType != "11":
		why = "Invalid RecieverIdentifierType"
	case !httpURL(b.ResultURL):
		why = "Invalid ResultURL"
	case !httpURL(b.QueueTimeOutURL):
		why = "Invalid QueueTimeOutURL"
	case !within(b.Remarks, 100):
		why = "Invalid Remarks"
	case utf8.RuneCountInString(b.Occasion) > 100:
		why = "Invalid Occasion"
	}
	if why != "" {
		s.darajaFault(c, http.StatusBadRequest, "400.002.02", "Bad Request - "+why)
		return
	}
	s.mu.Lock()
	now := s.cfg.Now()
	n := s.next()
	r := &Refund{
		Provider:   MPesa,
		Ref:        fmt.Sprintf("AG_%s_%020x", now.In(nairobi).Format("20060102"), n),
		Amount:     channels.Money{Amount: amount * 100, Currency: "KES"},
		At:         now,
		originator: fmt.Sprintf("%05d-%08d-1", 10571, n),
		resultURL:  b.ResultURL,
	}
	var paid *Payment
	for _, p := range s.payments {
		if p.Provider == MPesa && p.Status == "SUCCESSFUL" && p.Receipt == b.TransactionID {
			paid = p
		}
	}
	code, desc := "0", "The service request is processed successfully."
	switch {
	case paid == nil:
		code, desc = "R000002", "The OriginalTransactionID is invalid."
	case s.reversedLocked(paid.Ref):
		code, desc = "R000001", "The transaction has already been reversed."
	case r.Amount != paid.Amount:
		code, desc = "2", "Declined: a reversal is of the whole amount."
	}
	r.Status, r.Reason = "FAILED", code
	if paid != nil {
		r.Of = paid.Ref
	}
	if code == "0" {
		r.Status, r.Reason, r.Receipt = "SUCCESSFUL", "", s.receipt()
	}
	s.refunds[r.Ref] = r
	result := reversalResult(r, code, desc, b.TransactionID, b.QueueTimeOutURL)
	s.mu.Unlock()
	s.log.Info("demo-pay took a reversal", "ref", r.Ref, "of", b.TransactionID, "result", code)
	go func() {
		if _, err := s.send(http.MethodPost, r.resultURL, result); err != nil {
			s.log.Warn("demo-pay reversal result failed", "ref", r.Ref, "err", err)
		}
	}()
	c.JSON(http.StatusOK, gin.H{
		"OriginatorConversationID": r.originator,
		"ConversationID":           r.Ref,
		"ResponseCode":             "0",
		"ResponseDescription":      "Accept the service request successfully.",
	})
}

func (s *Server) reversedLocked(ref string) bool {
	for _, r := range s.refunds {
		if r.Provider == MPesa && r.Of == ref && r.Status == "SUCCESSFUL" {
			return true
		}
	}
	return false
}

// reversalResult is the body Daraja posts to a reversal's ResultURL.
func reversalResult(r *Refund, code, desc, original, timeoutURL string) []byte {
	var resultCode any = code
	if n, err := strconv.Atoi(code); err == nil {
		resultCode = n
	}
	res := map[string]any{
		"ResultType":               0,
		"ResultCode":               resultCode,
		"ResultDesc":               desc,
		"OriginatorConversationID": r.originator,
		"ConversationID":           r.Ref,
		"TransactionID":            r.Receipt,
		"ReferenceData": map[string]any{"ReferenceItem": map[string]any{
			"Key": "QueueTimeoutURL", "Value": timeoutURL,
		}},
	}
	if code == "0" {
		res["ResultParameters"] = map[string]any{"ResultParameter": []map[string]any{
			{"Key": "DebitAccountBalance", "Value": "Utility Account|KES|0.00|0.00|0.00|0.00"},
			{"Key": "Amount", "Value": json.Number(strconv.FormatInt(r.Amount.Amount/100, 10) + ".00")},
			{"Key": "TransCompletedTime", "Value": json.Number(r.At.In(nairobi).Format(timestampLayout))},
			{"Key": "OriginalTransactionID", "Value": original},
			{"Key": "Charge", "Value": json.Number("0.00")},
			{"Key": "CreditPartyPublicName", "Value": "Demo Payer"},
			{"Key": "DebitPartyPublicName", "Value": "Demo Paybill"},
		}}
	} else {
		res["TransactionID"] = "0000000000"
	}
	body, _ := json.Marshal(map[string]any{"Result": res})
	return body
}

// equal compares secrets in constant time.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

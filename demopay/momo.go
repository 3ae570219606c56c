package demopay

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/payment/amount"
)

var (
	uuidV4    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)
	msisdnAny = regexp.MustCompile(`^[1-9][0-9]{7,14}$`)
)

// maxNote is the longest payerMessage and payeeNote taken.
const maxNote = 160

// momoFault answers MoMo's error shape.
func (s *Server) momoFault(c *gin.Context, status int, code, message string) {
	s.log.Warn("demo-pay refused a MoMo call", "path", c.Request.URL.Path, "status", status, "code", code, "why", message)
	c.AbortWithStatusJSON(status, gin.H{"code": code, "message": message})
}

func (s *Server) momoRoutes(r *gin.Engine) {
	m := s.cfg.MoMo
	r.POST("/collection/token/", s.momoToken("collection", m.Collection))
	r.POST("/disbursement/token/", s.momoToken("disbursement", m.Disbursement))
	col := r.Group("/collection/v1_0", s.momoAuth("collection", m.Collection))
	col.POST("/requesttopay", s.requestToPay)
	col.GET("/requesttopay/:ref", s.requestToPayStatus)
	dis := r.Group("/disbursement/v1_0", s.momoAuth("disbursement", m.Disbursement))
	dis.POST("/refund", s.momoRefund)
	dis.GET("/refund/:ref", s.momoRefundStatus)
}

func (s *Server) momoToken(api string, p Product) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !equal(c.GetHeader("Ocp-Apim-Subscription-Key"), p.SubscriptionKey) {
			s.momoFault(c, http.StatusUnauthorized, "ACCESS_DENIED", "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.")
			return
		}
		user, key, ok := c.Request.BasicAuth()
		if !ok || !equal(user, p.APIUser) || !equal(key, p.APIKey) {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "login_failed"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"access_token": s.issue(api), "token_type": "access_token", "expires_in": int(s.cfg.TokenTTL.Seconds())})
	}
}

// momoAuth checks what every MoMo API call carries.
func (s *Server) momoAuth(api string, p Product) gin.HandlerFunc {
	return func(c *gin.Context) {
		switch {
		case !equal(c.GetHeader("Ocp-Apim-Subscription-Key"), p.SubscriptionKey):
			s.momoFault(c, http.StatusUnauthorized, "ACCESS_DENIED", "Access denied due to invalid subscription key.")
		case !s.bearer(c.Request, api):
			s.momoFault(c, http.StatusUnauthorized, "INVALID_TOKEN", "Access token is missing, invalid or expired.")
		case c.GetHeader("X-Target-Environment") != s.cfg.MoMo.TargetEnvironment:
			s.momoFault(c, http.StatusForbidden, "NOT_ALLOWED_TARGET_ENVIRONMENT", "Access to target environment is forbidden.")
		case c.Request.Method == http.MethodPost && c.ContentType() != "application/json":
			s.momoFault(c, http.StatusBadRequest, "BAD_REQUEST", "Content-Type must be application/json")
		case c.Request.Method == http.MethodPost && !uuidV4.MatchString(c.GetHeader("X-Reference-Id")):
			s.momoFault(c, http.StatusBadRequest, "INVALID_REFERENCE_ID", "X-Reference-Id is not a UUID version 4")
		default:
			c.Next()
		}
	}
}

// money reads a MoMo amount and currency: "" or why not.
func money(text, currency string) (channels.Money, string) {
	m, err := amount.Parse(text, currency)
	if err != nil {
		return channels.Money{}, err.Error()
	}
	if m.Amount <= 0 {
		return channels.Money{}, "amount must be positive"
	}
	return m, ""
}

func note(s string) bool { return utf8.RuneCountInString(s) <= maxNote }

func (s *Server) requestToPay(c *gin.Context) {
	ref := strings.ToLower(c.GetHeader("X-Reference-Id"))
	cb := c.GetHeader("X-Callback-Url")
	if cb != "" && !httpURL(cb) {
		s.momoFault(c, http.StatusBadRequest, "INVALID_CALLBACK_URL_HOST", "X-Callback-Url is not a URL")
		return
	}
	var b struct {
		Amount     string `json:"amount"`
		Currency   string `json:"currency"`
		ExternalID string `json:"externalId"`
		Payer      struct {
			PartyIDType string `json:"partyIdType"`
			PartyID     string `json:"partyId"`
		} `json:"payer"`
		PayerMessage string `json:"payerMessage"`
		PayeeNote    string `json:"payeeNote"`
	}
	if why := decodeBody(c, &b); why != "" {
		s.momoFault(c, http.StatusBadRequest, "BAD_REQUEST", why)
		return
	}
	m, why := money(b.Amount, b.Currency)
	switch {
	case why != "":
	case b.ExternalID == "" || len(b.ExternalID) > 50:
		why = "externalId must be 1 to 50 characters"
	case b.Payer.PartyIDType != "MSISDN":
		why = "payer.partyIdType must be MSISDN"
	case !msisdnAny.MatchString(b.Payer.PartyID):
		why = "payer.partyId is not an MSISDN (digits, no +)"
	case !note(b.PayerMessage) || !note(b.PayeeNote):
		why = "payerMessage and payeeNote are at most 160 characters"
	}
	if why != "" {
		s.momoFault(c, http.StatusBadRequest, "BAD_REQUEST", why)
		return
	}
	mg := magicOf(b.Payer.PartyID)
	s.mu.Lock()
	if _, dup := s.payments[ref]; dup {
		s.mu.Unlock()
		s.momoFault(c, http.StatusConflict, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
		return
	}
	p := &Payment{
		Provider: MTN, Ref: ref, Bill: b.ExternalID, Phone: b.Payer.PartyID, Amount: m,
		Status: "PENDING", CallbackURL: cb, At: s.cfg.Now(),
		payerMessage: b.PayerMessage, payeeNote: b.PayeeNote,
	}
	s.payments[ref] = p
	s.scheduleLocked(p, mg)
	s.mu.Unlock()
	s.log.Info("demo-pay took a request to pay", "ref", ref, "phone", channels.MaskPhone("+"+p.Phone))
	if mg.lost {
		s.lose(c)
		return
	}
	c.Status(http.StatusAccepted)
}

func (s *Server) requestToPayStatus(c *gin.Context) {
	s.mu.Lock()
	p, ok := s.payments[strings.ToLower(c.Param("ref"))]
	var body []byte
	if ok && p.Provider == MTN {
		body = s.momoResultLocked(p)
	}
	s.mu.Unlock()
	if body == nil {
		s.momoFault(c, http.StatusNotFound, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
		return
	}
	c.Data(http.StatusOK, "application/json", body)
}

// momoResultLocked is p as MoMo's GET and callback write it.
func (s *Server) momoResultLocked(p *Payment) []byte {
	text, _ := amount.Format(p.Amount)
	res := map[string]any{
		"amount":       text,
		"currency":     p.Amount.Currency,
		"externalId":   p.Bill,
		"payer":        map[string]string{"partyIdType": "MSISDN", "partyId": p.Phone},
		"payerMessage": p.payerMessage,
		"payeeNote":    p.payeeNote,
		"status":       p.Status,
	}
	switch p.Status {
	case "SUCCESSFUL":
		res["financialTransactionId"] = p.Receipt
	case "FAILED":
		res["reason"] = results[p.Outcome].reason
	}
	body, _ := json.Marshal(res)
	return body
}

func (s *Server) momoRefund(c *gin.Context) {
	ref := strings.ToLower(c.GetHeader("X-Reference-Id"))
	var b struct {
		Amount              string `json:"amount"`
		Currency            string `json:"currency"`
		ExternalID          string `json:"externalId"`
		PayerMessage        string `json:"payerMessage"`
		PayeeNote           string `json:"payeeNote"`
		ReferenceIDToRefund string `json:"referenceIdToRefund"`
	}
	if why := decodeBody(c, &b); why != "" {
		s.momoFault(c, http.StatusBadRequest, "BAD_REQUEST", why)
		return
	}
	m, why := money(b.Amount, b.Currency)
	switch {
	case why != "":
	case b.ExternalID == "" || len(b.ExternalID) > 50:
		why = "externalId must be 1 to 50 characters"
	case !uuidV4.MatchString(b.ReferenceIDToRefund):
		why = "referenceIdToRefund is not a UUID version 4"
	case !note(b.PayerMessage) || !note(b.PayeeNote):
		why = "payerMessage and payeeNote are at most 160 characters"
	}
	if why != "" {
		s.momoFault(c, http.StatusBadRequest, "BAD_REQUEST", why)
		return
	}
	of := strings.ToLower(b.ReferenceIDToRefund)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.refunds[ref]; dup {
		s.momoFault(c, http.StatusConflict, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
		return
	}
	p, ok := s.payments[of]
	if !ok || p.Provider != MTN || p.Status != "SUCCESSFUL" {
		s.momoFault(c, http.StatusNotFound, "RESOURCE_NOT_FOUND", "referenceIdToRefund is not a successful request to pay")
		return
	}
	refunded := int64(0)
	for _, r := range s.refunds {
		if r.Of == of && r.Status == "SUCCESSFUL" {
			refunded += r.Amount.Amount
		}
	}
	r := &Refund{
		Provider: MTN, Ref: ref, Of: of, Amount: m, At: s.cfg.Now(), Status: "SUCCESSFUL",
		externalID: b.ExternalID, payerMessage: b.PayerMessage, payeeNote: b.PayeeNote,
	}
	switch {
	case m.Currency != p.Amount.Currency:
		r.Status, r.Reason = "FAILED", "INVALID_CURRENCY"
	case refunded+m.Amount > p.Amount.Amount:
		r.Status, r.Reason = "FAILED", "NOT_ENOUGH_FUNDS"
	default:
		r.Receipt = strconv.Itoa(300000000 + s.next())
	}
	s.refunds[ref] = r
	s.log.Info("demo-pay took a refund", "ref", ref, "of", of, "status", r.Status)
	c.Status(http.StatusAccepted)
}

func (s *Server) momoRefundStatus(c *gin.Context) {
	s.mu.Lock()
	r, ok := s.refunds[strings.ToLower(c.Param("ref"))]
	var res map[string]any
	if ok && r.Provider == MTN {
		text, _ := amount.Format(r.Amount)
		res = map[string]any{
			"amount": text, "currency": r.Amount.Currency, "externalId": r.externalID,
			"payee":        map[string]string{"partyIdType": "MSISDN", "partyId": s.payments[r.Of].Phone},
			"payerMessage": r.payerMessage, "payeeNote": r.payeeNote, "status": r.Status,
		}
		if r.Status == "SUCCESSFUL" {
			res["financialTransactionId"] = r.Receipt
		} else {
			res["reason"] = r.Reason
		}
	}
	s.mu.Unlock()
	if res == nil {
		s.momoFault(c, http.StatusNotFound, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
		return
	}
	c.JSON(http.StatusOK, res)
}

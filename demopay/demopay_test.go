package demopay_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels/demopay"
)

var start = time.Date(2026, 12, 2, 6, 40, 0, 0, time.UTC)

var cfg = demopay.Config{
	Daraja: demopay.Daraja{ConsumerKey: "ck", ConsumerSecret: "cs", ShortCode: "174379", Passkey: "pk", Initiator: "i", SecurityCredential: "sc"},
	MoMo: demopay.MoMo{
		TargetEnvironment: "sandbox",
		Collection:        demopay.Product{SubscriptionKey: "col", APIUser: "2b7c5a1e-8d3f-4c6a-9e2b-1f0d7c3a5b8e", APIKey: "colk"},
		Disbursement:      demopay.Product{SubscriptionKey: "dis", APIUser: "7e1d3c5b-9a2f-4b8e-8c6d-0a4f2e8b6c1d", APIKey: "disk"},
	},
	Now:         func() time.Time { return start },
	SettleAfter: -1,
}

func serve(t *testing.T) (*demopay.Server, string) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	s, err := demopay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL
}

func do(t *testing.T, method, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func token(t *testing.T, base, path, user, key, sub string) string {
	t.Helper()
	h := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+key))}
	method := http.MethodGet
	if sub != "" {
		h["Ocp-Apim-Subscription-Key"], method = sub, http.MethodPost
	}
	status, body := do(t, method, base+path, h, "")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token %s: %d %s", path, status, body)
	}
	return tok.AccessToken
}

// TestMoMoChecks sends what the momo client never sends.
func TestMoMoChecks(t *testing.T) {
	s, base := serve(t)
	tok := token(t, base, "/collection/token/", cfg.MoMo.Collection.APIUser, cfg.MoMo.Collection.APIKey, "col")
	good := `{"amount":"1500","currency":"UGX","externalId":"b1","payer":{"partyIdType":"MSISDN","partyId":"256772123456"},"payerMessage":"m","payeeNote":"n"}`
	headers := func(ref string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Ocp-Apim-Subscription-Key": "col", "X-Target-Environment": "sandbox",
			"X-Reference-Id": ref, "Content-Type": "application/json"}
	}
	const ref = "5f0e7c52-3b1d-4a8e-9c2f-6d4b8a1e0f37"
	tests := []struct {
		name   string
		ref    string
		body   string
		status int
	}{
		{"accepted", ref, good, http.StatusAccepted},
		{"the same reference again", ref, good, http.StatusConflict},
		{"a UUID v1 reference", "5f0e7c52-3b1d-1a8e-9c2f-6d4b8a1e0f37", good, http.StatusBadRequest},
		{"an amount as a number", "0c9a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", strings.Replace(good, `"1500"`, `1500`, 1), http.StatusBadRequest},
		{"a fraction of a shilling", "0c9a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", strings.Replace(good, `"1500"`, `"1500.5"`, 1), http.StatusBadRequest},
		{"a phone with +", "0c9a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", strings.Replace(good, `"256`, `"+256`, 1), http.StatusBadRequest},
		{"an unknown field", "0c9a1b2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", strings.Replace(good, `{"amount"`, `{"x":1,"amount"`, 1), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := do(t, http.MethodPost, base+"/collection/v1_0/requesttopay", headers(tt.ref), tt.body); status != tt.status {
				t.Fatalf("%d %s; want %d", status, body, tt.status)
			}
		})
	}
	if n := len(s.Payments()); n != 1 {
		t.Fatalf("%d payments; want 1", n)
	}
	if _, err := s.PayAgain(ref); err == nil {
		t.Fatal("PayAgain of a MoMo payment succeeded; MoMo takes no payment without a request")
	}
}

// TestDarajaChecks sends what the mpesa client never sends.
func TestDarajaChecks(t *testing.T) {
	_, base := serve(t)
	tok := token(t, base, "/oauth/v1/generate?grant_type=client_credentials", "ck", "cs", "")
	ts := start.In(time.FixedZone("EAT", 3*3600)).Format("20060102150405")
	pw := base64.StdEncoding.EncodeToString([]byte("174379pk" + ts))
	good := `{"BusinessShortCode":"174379","Password":"` + pw + `","Timestamp":"` + ts + `","TransactionType":"CustomerPayBillOnline",` +
		`"Amount":10,"PartyA":"254712345678","PartyB":"174379","PhoneNumber":"254712345678","CallBackURL":"https://example.org/cb",` +
		`"AccountReference":"B7K2QX","TransactionDesc":"fee"}`
	tests := []struct {
		name, body, want string
	}{
		{"accepted", good, `"ResponseCode":"0"`},
		{"an account reference of 13", strings.Replace(good, "B7K2QX", "B7K2QX-123456", 1), "Invalid AccountReference"},
		{"a description of 14", strings.Replace(good, `"fee"`, `"12345678901234"`, 1), "Invalid TransactionDesc"},
		{"cents", strings.Replace(good, `"Amount":10`, `"Amount":10.5`, 1), "Invalid Amount"},
		{"PartyA is not PhoneNumber", strings.Replace(good, `"PhoneNumber":"254712345678"`, `"PhoneNumber":"254722000111"`, 1), "Invalid PhoneNumber"},
		{"a timestamp in UTC", strings.ReplaceAll(good, ts, start.Format("20060102150405")), "Invalid"},
		{"no callback URL", strings.Replace(good, "https://example.org/cb", "", 1), "Invalid CallBackURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := do(t, http.MethodPost, base+"/mpesa/stkpush/v1/processrequest",
				map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, tt.body)
			if !strings.Contains(body, tt.want) {
				t.Fatalf("%s; want %q", body, tt.want)
			}
		})
	}
	if status, _ := do(t, http.MethodPost, base+"/mpesa/stkpush/v1/processrequest",
		map[string]string{"Authorization": "Bearer nope", "Content-Type": "application/json"}, good); status != http.StatusUnauthorized {
		t.Fatalf("a made-up token: %d; want 401", status)
	}
}

// TestControlAPI drives a payment over HTTP as a newcomer with curl would.
func TestControlAPI(t *testing.T) {
	s, base := serve(t)
	tok := token(t, base, "/collection/token/", cfg.MoMo.Collection.APIUser, cfg.MoMo.Collection.APIKey, "col")
	const ref = "5f0e7c52-3b1d-4a8e-9c2f-6d4b8a1e0f37"
	do(t, http.MethodPost, base+"/collection/v1_0/requesttopay", map[string]string{"Authorization": "Bearer " + tok, "Ocp-Apim-Subscription-Key": "col",
		"X-Target-Environment": "sandbox", "X-Reference-Id": ref, "Content-Type": "application/json"},
		`{"amount":"1500","currency":"UGX","externalId":"b1","payer":{"partyIdType":"MSISDN","partyId":"256772123456"},"payerMessage":"m","payeeNote":"n"}`)
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"settle", http.MethodPost, "/demo/payments/" + ref + "/settle", `{"outcome":"approve","delivery":"never"}`, http.StatusOK, `"Status":"SUCCESSFUL"`},
		{"settle again", http.MethodPost, "/demo/payments/" + ref + "/settle", `{"outcome":"cancel"}`, http.StatusConflict, "already settled"},
		{"an unknown outcome", http.MethodPost, "/demo/payments/" + ref + "/settle", `{"outcome":"maybe"}`, http.StatusConflict, "unknown outcome"},
		{"an unknown payment", http.MethodGet, "/demo/payments/nope", "", http.StatusNotFound, "no such payment"},
		{"the statement", http.MethodGet, "/demo/transactions?day=2026-12-02", "", http.StatusOK, `"Kind":"payment"`},
		{"another day", http.MethodGet, "/demo/transactions?day=2026-12-03", "", http.StatusOK, `[]`},
		{"a bad day", http.MethodGet, "/demo/transactions?day=tomorrow", "", http.StatusBadRequest, "YYYY-MM-DD"},
		{"revoke", http.MethodPost, "/demo/tokens/revoke", "", http.StatusOK, "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, tt.method, base+tt.path, nil, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("%d %s; want %d with %q", status, body, tt.status, tt.want)
			}
		})
	}
	if status, _ := do(t, http.MethodGet, base+"/collection/v1_0/requesttopay/"+ref, map[string]string{"Authorization": "Bearer " + tok,
		"Ocp-Apim-Subscription-Key": "col", "X-Target-Environment": "sandbox"}, ""); status != http.StatusUnauthorized {
		t.Fatalf("a revoked token: %d; want 401", status)
	}
	if p, _ := s.Payment(ref); p.Receipt == "" {
		t.Fatalf("settled payment without a receipt: %+v", p)
	}
}

package mpesa_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/mpesa"
	"github.com/govchannels/channels/payment"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCallback(t *testing.T) {
	tests := []struct {
		name string
		body string // a fixture's name, or a body itself
		want payment.Hint
		err  string
	}{
		{"success from Daraja's documentation", "stk_callback_success.json", payment.Hint{
			Provider: "mpesa", Ref: "ws_CO_191220191020363925", Receipt: "NLJ7RT61SV",
			Paid: channels.Money{Amount: 100, Currency: "KES"}, Payer: "+254708374149",
		}, ""},
		{"cancelled by the payer", "stk_callback_cancelled.json", payment.Hint{Provider: "mpesa", Ref: "ws_CO_191220191020363925"}, ""},
		{"result code as a string", `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"1032","ResultDesc":"x"}}}`,
			payment.Hint{Provider: "mpesa", Ref: "ws_CO_1"}, ""},
		{"an unknown field is let through", `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":1,"New":true}}}`,
			payment.Hint{Provider: "mpesa", Ref: "ws_CO_1"}, ""},
		{"no stkCallback", `{"Body":{}}`, payment.Hint{}, "no Body.stkCallback"},
		{"no result code", `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1"}}}`, payment.Hint{}, "no Body.stkCallback"},
		{"a fractional result code", `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":1.5}}}`, payment.Hint{}, "not an integer"},
		{"success without metadata", `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0}}}`, payment.Hint{}, "without CallbackMetadata"},
		{"success without a receipt", `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"Amount","Value":5}]}}}}`,
			payment.Hint{}, "without a receipt"},
		{"an amount with a third decimal", `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"Amount","Value":5.001},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"}]}}}}`,
			payment.Hint{}, "more decimals"},
		{"trailing data", `{"Body":{}} {}`, payment.Hint{}, "after the JSON value"},
		{"not JSON", `<xml/>`, payment.Hint{}, "invalid character"},
		{"too large", `{"Body":{"stkCallback":{"ResultDesc":"` + strings.Repeat("x", mpesa.MaxNotification) + `"}}}`, payment.Hint{}, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if strings.HasSuffix(tt.body, ".json") {
				body = fixture(t, tt.body)
			}
			got, err := mpesa.ParseCallback(body)
			checkParse(t, got, err, tt.want, tt.err)
		})
	}
}

func TestParseC2B(t *testing.T) {
	tests := []struct {
		name, body string
		want       payment.Hint
		err        string
	}{
		{"confirmation from Daraja's documentation", "c2b_confirmation.json", payment.Hint{
			Provider: "mpesa", Bill: "invoice008", Receipt: "RKTQDM7W6S",
			Paid: channels.Money{Amount: 1000, Currency: "KES"}, Payer: "+254708374149",
		}, ""},
		{"a masked MSISDN", "c2b_confirmation_masked.json", payment.Hint{
			Provider: "mpesa", Bill: "B7K2QX", Receipt: "SAB1CD2EF3", Paid: channels.Money{Amount: 150000, Currency: "KES"},
		}, ""},
		{"no TransID", `{"TransTime":"20191122063845","TransAmount":"10","BusinessShortCode":"600638"}`, payment.Hint{}, "TransID"},
		{"a bad TransTime", `{"TransID":"RKTQDM7W6S","TransTime":"2019-11-22","TransAmount":"10","BusinessShortCode":"600638"}`, payment.Hint{}, "TransTime"},
		{"a zero amount", `{"TransID":"RKTQDM7W6S","TransTime":"20191122063845","TransAmount":"0","BusinessShortCode":"600638"}`, payment.Hint{}, "TransAmount"},
		{"an amount as a number", `{"TransID":"RKTQDM7W6S","TransTime":"20191122063845","TransAmount":10,"BusinessShortCode":"600638"}`, payment.Hint{}, "cannot unmarshal"},
		{"no shortcode", `{"TransID":"RKTQDM7W6S","TransTime":"20191122063845","TransAmount":"10"}`, payment.Hint{}, "BusinessShortCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if strings.HasSuffix(tt.body, ".json") {
				body = fixture(t, tt.body)
			}
			got, err := mpesa.ParseC2B(body)
			checkParse(t, got, err, tt.want, tt.err)
		})
	}
}

func TestParseReversalResult(t *testing.T) {
	tests := []struct {
		name, body string
		want       mpesa.ReversalResult
		err        string
	}{
		{"success from Daraja's documentation", "reversal_result_success.json", mpesa.ReversalResult{
			OK: true, Code: "0", Desc: "The service request is processed successfully.",
			ConversationID: "AG_20191219_00004e48cf7e3533f581", OriginatorConversationID: "10571-7910404-1",
			TransactionID: "NLJ41HAY6Q", Reversed: "NLJ7RT61SV",
		}, ""},
		{"an invalid original transaction", "reversal_result_failed.json", mpesa.ReversalResult{
			Code: "R000002", Desc: "The OriginalTransactionID is invalid.",
			ConversationID: "AG_20191219_00004e48cf7e3533f581", OriginatorConversationID: "10571-7910404-1",
			TransactionID: "NLJ41HAY6Q",
		}, ""},
		{"one parameter as an object", `{"Result":{"ResultCode":0,"ConversationID":"AG_1","ResultParameters":{"ResultParameter":{"Key":"OriginalTransactionID","Value":"NLJ7RT61SV"}}}}`,
			mpesa.ReversalResult{OK: true, Code: "0", ConversationID: "AG_1", Reversed: "NLJ7RT61SV"}, ""},
		{"no Result", `{}`, mpesa.ReversalResult{}, "no Result"},
		{"no ConversationID", `{"Result":{"ResultCode":0}}`, mpesa.ReversalResult{}, "no Result"},
		{"parameters neither list nor object", `{"Result":{"ResultCode":0,"ConversationID":"AG_1","ResultParameters":{"ResultParameter":"x"}}}`, mpesa.ReversalResult{}, "ResultParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if strings.HasSuffix(tt.body, ".json") {
				body = fixture(t, tt.body)
			}
			got, err := mpesa.ParseReversalResult(body)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v; want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func checkParse(t *testing.T, got payment.Hint, err error, want payment.Hint, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v; want one saying %q", err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}

// seeds adds the fixtures to f's corpus.
func seeds(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(fixture(f, n))
	}
	f.Add([]byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"0","CallbackMetadata":{"Item":[{"Name":"Amount","Value":"5"},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"}]}}}}`))
	f.Add([]byte(`{"Result":{"ResultCode":0,"ConversationID":"AG_1","ResultParameters":{"ResultParameter":{"Key":"OriginalTransactionID","Value":1}}}}`))
	f.Add([]byte(`null`))
}

func FuzzParseCallback(f *testing.F) {
	seeds(f, "stk_callback_success.json", "stk_callback_cancelled.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := mpesa.ParseCallback(body)
		if err != nil {
			return
		}
		if h.Provider != "mpesa" || h.Ref == "" {
			t.Fatalf("accepted a callback without its request: %+v", h)
		}
		if h.Receipt != "" && (h.Paid.Amount <= 0 || h.Paid.Currency != "KES") {
			t.Fatalf("a receipt without a positive KES amount: %+v", h)
		}
	})
}

func FuzzParseC2B(f *testing.F) {
	seeds(f, "c2b_confirmation.json", "c2b_confirmation_masked.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := mpesa.ParseC2B(body)
		if err != nil {
			return
		}
		if h.Receipt == "" || h.Paid.Amount <= 0 || h.Paid.Currency != "KES" {
			t.Fatalf("accepted a confirmation without receipt or amount: %+v", h)
		}
		if h.Payer != "" && !strings.HasPrefix(h.Payer, "+254") {
			t.Fatalf("payer %q is not a Kenyan E.164 number", h.Payer)
		}
	})
}

func FuzzParseReversalResult(f *testing.F) {
	seeds(f, "reversal_result_success.json", "reversal_result_failed.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := mpesa.ParseReversalResult(body)
		if err != nil {
			return
		}
		if r.ConversationID == "" || r.Code == "" || r.OK != (r.Code == "0") {
			t.Fatalf("accepted an inconsistent result: %+v", r)
		}
	})
}

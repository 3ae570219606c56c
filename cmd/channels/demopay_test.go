package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/mpesa"
	"github.com/govchannels/channels/payment"
)

// TestDemoPayCommand runs `channels demo-pay` as someone trying fees
// would: it says it is a demonstration and prints the credentials; an
// M-Pesa client configured with them pushes to a magic phone whose payer
// cancels, receives the callback, and reads the failure; the control API
// lists the payment.
func TestDemoPayCommand(t *testing.T) {
	d := startCommand(t, "info", "demo-pay", "-addr", "127.0.0.1:0", "-settle-after", "20ms")
	for _, want := range []string{
		"channels demo-pay: DEMONSTRATION ONLY",
		"consumer key demo-consumer-key consumer secret demo-consumer-secret shortcode 174379",
		"momo collection: subscription key demo-collection-key",
	} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("the banner does not say %q:\n%s", want, d.stdout)
		}
	}
	callbacks := make(chan string, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { callbacks <- r.URL.Path }))
	defer receiver.Close()
	cred := demoPayCredentials.Daraja
	client, err := mpesa.New(mpesa.Config{
		BaseURL: d.base, ConsumerKey: cred.ConsumerKey, ConsumerSecret: cred.ConsumerSecret,
		ShortCode: cred.ShortCode, Passkey: cred.Passkey,
		CallbackURL: func(a string) string { return receiver.URL + "/stk/" + a },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acc, err := client.Request(ctx, payment.Request{Attempt: "att-1", Bill: "B7K2QX", Phone: "+254712345032",
		Amount: channels.Money{Amount: 50000, Currency: "KES"}, Description: "fee"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case path := <-callbacks:
		if path != "/stk/att-1" {
			t.Errorf("callback to %s", path)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no callback:\n%s", d.stderr)
	}
	st, err := client.Status(ctx, payment.Attempt{Attempt: "att-1", Ref: acc.Ref})
	if err != nil || st.State != channels.PaymentFailed || !strings.HasPrefix(st.Reason, "1032") {
		t.Fatalf("status = %+v, %v; want failed 1032", st, err)
	}
	res, err := http.Get(d.base + "/demo/payments/" + acc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct{ Status, Bill string }
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || p.Status != "FAILED" || p.Bill != "B7K2QX" {
		t.Fatalf("control API: %+v, %v", p, err)
	}
}

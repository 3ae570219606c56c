package later_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/later"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/sms"
)

// TestTimeoutAnsweredLater walks a real engine through a call step with
// later: true against an agency that does not answer within the step's
// deadline: the hop shows the timeout screen, the call is queued by the
// client's Later hook before that, and the outbox's background call
// texts the citizen the found screen with the answered name, in their
// language.
func TestTimeoutAnsweredLater(t *testing.T) {
	dir := os.DirFS("testdata/pin")
	cat, err := flows.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := os.OpenRoot("testdata/pin/locales")
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	bundle, err := locales.New(loc.FS())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := flows.New(flows.Config{Catalog: cat, Langs: bundle.Langs(), Region: "KE"})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "fr", "sw", "ar"} {
		t.Run(lang, func(t *testing.T) {
			r := newRig(t)
			r.bundle = bundle
			var sender *later.Sender
			client, err := agencycall.New(agencycall.Config{
				Agencies: r.db,
				Later:    func(ctx context.Context, req flows.AgencyRequest) error { return sender.Enqueue(ctx, req) },
			})
			if err != nil {
				t.Fatal(err)
			}
			sender = later.New(later.Config{Store: r.db, Caller: client, Later: engine.LaterResult, Bundle: bundle, Catalog: cat, Devices: r.db})
			r.sender = sender
			h := &host.Store{Cases: r.db, Prefs: r.db, Log: r.db, Agencies: client}

			const phone = "+254712345678"
			res, err := engine.Start(channels.ChannelUSSD, lang, "pin")
			if err != nil {
				t.Fatal(err)
			}
			if res, err = engine.Step(res.State, flows.Input{Text: "slow"}); err != nil {
				t.Fatal(err)
			}
			res, err = engine.Settle(context.Background(), h, phone, "ussd/AT1", res)
			// The timeout comes back as a CallError, for the log.
			var ce *flows.CallError
			if err != nil && !errors.As(err, &ce) {
				t.Fatal(err)
			}
			if res.Screen.Kind != channels.KindEnd || res.Screen.Text.ID != "pin.by_sms" {
				t.Fatalf("the hop showed %+v, want the timeout exit pin.by_sms", res.Screen)
			}
			calls, err := r.db.DueOutbound(context.Background(), channels.KindCall, time.Now().Add(time.Minute), 10)
			if err != nil || len(calls) != 1 {
				t.Fatalf("queued calls %v, %v; want the one that timed out", calls, err)
			}
			key := calls[0].Key[len(later.KeyCall):]

			r.run(t, func() bool { return r.final(t, later.KeyCall+key) && r.final(t, later.KeyAnswer+key) })
			want := sms.Render(bundle, lang, channels.Screen{Kind: channels.KindEnd, Service: "pin", Step: "show",
				Text: channels.Msg("pin.show", "Result", map[string]string{"name": "Amani Otieno"})}, sms.Layout{})
			got := r.message(t, later.KeyAnswer+key)
			if got.Status != channels.OutboundSent || got.To != phone || got.Text != want {
				t.Errorf("the citizen got %q (%s), want %q", got.Text, got.Status, want)
			}
			if n := r.agency.requests(key); n != 2 {
				t.Errorf("the agency took %d requests of %s, want the hop's and the background one", n, key)
			}
		})
	}
}

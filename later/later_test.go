package later_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/consolesms"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/later"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/sms"
	"github.com/govchannels/channels/store/bolt"
)

// state is the state the tests' calls wait on; screens checks that it
// comes back as it was queued.
var state = []byte("state waiting on pin_status")

// screens stands in for flows.Engine.LaterResult, a pure function of the
// state and the answer: the end screen each outcome of the tests' call
// step leads to. TestTimeoutAnsweredLater runs the real engine.
func screens(t *testing.T) later.LaterFunc {
	return func(st []byte, a flows.AgencyAnswer) (flows.Result, error) {
		if !bytes.Equal(st, state) {
			t.Errorf("the state came back as %q", st)
			return flows.Result{}, fmt.Errorf("unknown state %q", st)
		}
		return flows.Result{Screen: endScreen(a)}, nil
	}
}

// endScreen is the screen of outcome a in the tests' service.
func endScreen(a flows.AgencyAnswer) channels.Screen {
	switch a.Outcome {
	case flows.OutcomeFound:
		return channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("notice.status", "Service", a.Fields["name"], "Reference", "PIN", "Status", channels.Msg("status.approved"))}
	case flows.OutcomeNotFound:
		return channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("error.reference")}
	}
	return channels.Screen{Kind: channels.KindEnd, Text: channels.Msg("error.internal")}
}

// rig is a late-call sender over a real store and agency server, with the
// real outbox to run it.
type rig struct {
	db     *bolt.DB
	agency *revenue
	bundle *locales.Bundle
	sender *later.Sender
	// attempts is how many attempts a late call gets; 3 when zero.
	attempts int
}

func newRig(t *testing.T) *rig {
	db := channelstest.OpenStore(t)
	ag := newRevenue(t)
	if err := db.PutAgency(t.Context(), ag.agency()); err != nil {
		t.Fatal(err)
	}
	client, err := agencycall.New(agencycall.Config{Agencies: db})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	s := later.New(later.Config{Store: db, Caller: client, Later: screens(t), Bundle: bundle, Devices: db, Timeout: 5 * time.Second})
	return &rig{db: db, agency: ag, bundle: bundle, sender: s}
}

// run runs a real outbox over the store, with the late calls' route and
// an SMS gateway printing to nowhere, until done reports true of the
// store; it fails the test if that takes more than 20 s.
func (r *rig) run(t *testing.T, done func() bool) {
	t.Helper()
	box := outbox.New(outbox.Config{
		Store: r.db, Sender: consolesms.New(io.Discard), Rate: 1000, Burst: 100,
		Routes:  map[string]outbox.Route{channels.KindCall: {Sender: r.sender, Rate: 100, Burst: 10, MaxAttempts: cmp.Or(r.attempts, 3)}},
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Poll: 5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- box.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Error(err)
		}
	}()
	for give := time.Now().Add(20 * time.Second); !done(); {
		if time.Now().After(give) {
			t.Fatal("the outbox did not settle the call")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// message reads key; nil when there is none.
func (r *rig) message(t *testing.T, key string) *channels.Outbound {
	t.Helper()
	m, err := r.db.Outbound(context.Background(), key)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// final reports whether key is stored and final.
func (r *rig) final(t *testing.T, key string) bool {
	m := r.message(t, key)
	return m != nil && m.Status.Final()
}

func request(key, pin string, channel channels.Channel, lang string, changes bool) flows.AgencyRequest {
	return flows.AgencyRequest{
		Key: key, Agency: "revenue", Operation: "pin_status", Service: "tax_pin", Step: "pin_status",
		Phone: "+254712345678", Lang: lang, Channel: channel,
		Params: []channels.Answer{{Field: "pin", Value: pin}}, Returns: returns,
		Changes: changes, Deadline: 4 * time.Second, Later: state,
	}
}

// TestLateAnswer queues calls that timed out in a hop and runs the real
// outbox until each is settled: the citizen gets, once, the end screen of
// the outcome the background call had, in their language, by SMS or (on
// the app, with a device) by push with the SMS as fallback; a refusal or
// running out of attempts sends the failed exit's screen.
func TestLateAnswer(t *testing.T) {
	found := endScreen(flows.AgencyAnswer{Outcome: flows.OutcomeFound, Fields: map[string]string{"name": "Amani Otieno"}})
	tests := []struct {
		name     string
		pin      string
		channel  channels.Channel
		lang     string
		changes  bool
		screen   channels.Screen
		key      string // the call's
		device   bool   // the citizen's phone has an app device
		requests int    // the agency saw the call this many times
		call     channels.OutboundStatus
		reason   string
	}{
		{"found by SMS", "found", channels.ChannelUSSD, "en", false, found, "ussd/s1/pin_status/2", false, 1, channels.OutboundSent, ""},
		{"found in French", "found", channels.ChannelSMS, "fr", false, found, "sms/s2/pin_status/2", false, 1, channels.OutboundSent, ""},
		{"an unknown language falls back", "found", channels.ChannelKiosk, "xx", false, found, "kiosk/s3/pin_status/2", false, 1, channels.OutboundSent, ""},
		{"not found", "none", channels.ChannelUSSD, "sw", false, endScreen(flows.AgencyAnswer{Outcome: flows.OutcomeNotFound}), "ussd/s4/pin_status/2", false, 1, channels.OutboundSent, ""},
		{"refused: the failed screen at once", "refuse", channels.ChannelUSSD, "en", false, endScreen(flows.AgencyAnswer{Outcome: flows.OutcomeFailed}), "ussd/s5/pin_status/2", false, 1, channels.OutboundFailed, later.ReasonRefused},
		{"a change answered after two outages, same key each time", "flaky", channels.ChannelUSSD, "en", true, found, "ussd/s6/pin_status/2", false, 3, channels.OutboundSent, ""},
		{"attempts run out: the failed screen", "down", channels.ChannelUSSD, "ar", true, endScreen(flows.AgencyAnswer{Outcome: flows.OutcomeFailed}), "ussd/s7/pin_status/2", false, 3, channels.OutboundFailed, outbox.ReasonGaveUp},
		// No push gateway in the test: the notice fails as no_sender and
		// its SMS fallback goes.
		{"on the app: push, the SMS as fallback", "found", channels.ChannelApp, "en", false, found, "app/s8/pin_status/2", true, 1, channels.OutboundSent, ""},
		{"on the app without a device: SMS", "found", channels.ChannelApp, "en", false, found, "app/s9/pin_status/2", false, 1, channels.OutboundSent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			ctx := context.Background()
			req := request(tt.key, tt.pin, tt.channel, tt.lang, tt.changes)
			answer := "answer/" + tt.key
			if tt.device {
				answer += "/sms"
				if err := r.db.PutDevice(ctx, channels.Device{Phone: req.Phone, Token: "tok-1", Platform: "android", CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.sender.Enqueue(ctx, req); err != nil {
				t.Fatal(err)
			}
			if err := r.sender.Enqueue(ctx, req); err != nil { // a gateway's retry of the hop
				t.Fatal(err)
			}
			r.run(t, func() bool { return r.final(t, "call/"+req.Key) && r.final(t, answer) })

			call := r.message(t, "call/"+req.Key)
			if call.Kind != channels.KindCall || call.To != "revenue" || call.Status != tt.call || call.Reason != tt.reason {
				t.Errorf("the call ended %s (%q), want %s (%q)", call.Status, call.Reason, tt.call, tt.reason)
			}
			if n := r.agency.requests(req.Key); n != tt.requests {
				t.Errorf("the agency took %d requests, want %d", n, tt.requests)
			}
			lang := tt.lang
			if !r.bundle.Supports(lang) {
				lang = locales.Default
			}
			want := sms.Render(r.bundle, lang, tt.screen, sms.Layout{})
			got := r.message(t, answer)
			if got.Status != channels.OutboundSent || got.Text != want || got.To != req.Phone || got.Attempts != 1 || got.Kind != channels.KindSMS {
				t.Errorf("the citizen got %s %q (%s, %d attempts), want one SMS %q", got.Key, got.Text, got.Status, got.Attempts, want)
			}
			if tt.channel == channels.ChannelApp {
				push := r.message(t, "answer/"+req.Key)
				if push == nil {
					t.Fatal("no answer under the call's key")
				}
				if tt.device != (push.Kind == channels.KindPush) {
					t.Errorf("the answer is of kind %q, want push only with a device", push.Kind)
				}
			}
		})
	}
}

// TestEnqueueRefuses checks the calls that cannot be finished later: the
// hop then shows the failed exit, so nothing may be queued.
func TestEnqueueRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*flows.AgencyRequest)
	}{
		{"no state waiting", func(r *flows.AgencyRequest) { r.Later = nil }},
		{"a kiosk citizen without a phone", func(r *flows.AgencyRequest) { r.Phone = "" }},
		{"no key", func(r *flows.AgencyRequest) { r.Key = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			req := request("kiosk/k1/pin_status/2", "found", channels.ChannelKiosk, "en", false)
			tt.change(&req)
			if err := r.sender.Enqueue(context.Background(), req); err == nil {
				t.Fatal("queued")
			}
			if m := r.message(t, "call/"+req.Key); m != nil {
				t.Errorf("stored %+v", m)
			}
		})
	}
}

// TestLateCallCrash leaves the call in "sending", as a SIGKILL during its
// attempt would, twice: once before the agency answered, once after its
// answer was queued. Each restart makes the call again with the same
// Idempotency-Key, and the citizen is answered once.
func TestLateCallCrash(t *testing.T) {
	r := newRig(t)
	r.attempts = 5
	ctx := context.Background()
	req := request("ussd/crash/pin_status/3", "found", channels.ChannelUSSD, "en", true)
	if err := r.sender.Enqueue(ctx, req); err != nil {
		t.Fatal(err)
	}
	crash := func() {
		t.Helper()
		m := r.message(t, "call/"+req.Key)
		m.Status, m.Attempts = channels.OutboundSending, m.Attempts+1
		if err := r.db.UpdateOutbound(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	crash() // killed while the first attempt was in flight
	r.run(t, func() bool { return r.final(t, "call/"+req.Key) && r.final(t, "answer/"+req.Key) })
	first := r.message(t, "answer/"+req.Key)

	crash() // killed after the answer was queued, before the call was marked sent
	r.run(t, func() bool { return r.final(t, "call/"+req.Key) })

	if n := r.agency.requests(req.Key); n != 2 {
		t.Errorf("the agency took %d requests of the key, want 2 (one per restart)", n)
	}
	got := r.message(t, "answer/"+req.Key)
	if got.Status != channels.OutboundSent || got.Attempts != 1 || !got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("answer %+v, want the first one, sent once", got)
	}
	if call := r.message(t, "call/"+req.Key); call.Status != channels.OutboundSent {
		t.Errorf("call %s (%s), want sent", call.Status, call.Reason)
	}
}

package outbox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/store/bolt"
)

// TestRoutes checks that each kind of message goes to its own sender, and
// that a message that fails for good has its fallback sent instead, by
// the fallback's own route and under its own rules.
func TestRoutes(t *testing.T) {
	const phone = "+254712345678"
	notice := func(key string) *channels.Outbound {
		return &channels.Outbound{
			Key: key, Kind: channels.KindPush, To: phone, Title: "Update", Text: "Approved", Purpose: channels.PurposeNotice,
			Fallback: &channels.Outbound{To: phone, Text: "Your application is approved", Purpose: channels.PurposeNotice},
		}
	}
	refuse := func(*channels.Outbound, int) (string, error) {
		return "", Permanent("unregistered", errors.New("every token is dead"))
	}
	down := func(*channels.Outbound, int) (string, error) { return "", errors.New("503") }
	tests := []struct {
		name     string
		push     func(*channels.Outbound, int) (string, error) // nil: no push route
		optedOut bool
		steps    int
		// want is the final status and reason of the notice and of its
		// fallback ("" when there must be none), and the calls each
		// sender got.
		noticeStatus, noticeReason     string
		fallbackStatus, fallbackReason string
		pushCalls, smsCalls            int
	}{
		{name: "push taken", push: func(*channels.Outbound, int) (string, error) { return "projects/p/messages/1", nil }, steps: 2,
			noticeStatus: "sent", pushCalls: 1},
		{name: "push refused for good: the SMS goes", push: refuse, steps: 2,
			noticeStatus: "failed", noticeReason: "unregistered", fallbackStatus: "sent", pushCalls: 1, smsCalls: 1},
		{name: "push off: the SMS goes", steps: 2,
			noticeStatus: "failed", noticeReason: ReasonNoSender, fallbackStatus: "sent", smsCalls: 1},
		{name: "push failing until it gives up: the SMS goes", push: down, steps: 5,
			noticeStatus: "failed", noticeReason: ReasonGaveUp, fallbackStatus: "sent", pushCalls: 3, smsCalls: 1},
		{name: "an opt-out stops the SMS, not the push", push: func(*channels.Outbound, int) (string, error) { return "projects/p/messages/1", nil }, optedOut: true, steps: 2,
			noticeStatus: "sent", pushCalls: 1},
		{name: "an opt-out stops the fallback SMS", push: refuse, optedOut: true, steps: 2,
			noticeStatus: "failed", noticeReason: "unregistered", fallbackStatus: "failed", fallbackReason: ReasonOptedOut, pushCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sms := &fakeSender{name: "sms"}
			push := &fakeSender{name: "fcm", script: tt.push}
			f := newFixture(t, sms, func(c *Config) {
				if tt.push != nil {
					c.Routes = map[string]Route{channels.KindPush: {Sender: push, Rate: 1e6, Burst: 10, MaxAttempts: 3}}
				}
			})
			if tt.optedOut {
				if _, err := f.store.UpdatePrefs(t.Context(), phone, func(p *channels.Prefs) { p.OptedOut = true }); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.box.Send(t.Context(), notice("notice/1")); err != nil {
				t.Fatal(err)
			}
			for range tt.steps {
				f.step(t)
				f.clock.Add(f.box.cfg.MaxBackoff)
			}
			m := f.get(t, "notice/1")
			if string(m.Status) != tt.noticeStatus || m.Reason != tt.noticeReason {
				t.Errorf("notice %s (%s), want %s (%s)", m.Status, m.Reason, tt.noticeStatus, tt.noticeReason)
			}
			fb, err := f.store.Outbound(t.Context(), "notice/1/fallback")
			switch {
			case tt.fallbackStatus == "" && err == nil:
				t.Errorf("a fallback was queued (%s) for a notice that did not fail", fb.Status)
			case tt.fallbackStatus != "" && err != nil:
				t.Fatalf("no fallback: %v", err)
			case tt.fallbackStatus != "":
				if string(fb.Status) != tt.fallbackStatus || fb.Reason != tt.fallbackReason || fb.Kind != channels.KindSMS || fb.Text != "Your application is approved" {
					t.Errorf("fallback %+v, want a %s (%s) SMS with the fallback text", fb, tt.fallbackStatus, tt.fallbackReason)
				}
			}
			if push.total() != tt.pushCalls || sms.total() != tt.smsCalls {
				t.Errorf("push sender called %d times, SMS sender %d; want %d and %d", push.total(), sms.total(), tt.pushCalls, tt.smsCalls)
			}
			for _, c := range sms.calls {
				if c.Kind != channels.KindSMS {
					t.Errorf("the SMS sender got a %q message", c.Kind)
				}
			}
		})
	}
}

// TestFallbackOnce checks that a fallback is queued once however often its
// message is failed again (a crash between queueing the fallback and
// recording the failure repeats both).
func TestFallbackOnce(t *testing.T) {
	sms := &fakeSender{name: "sms"}
	f := newFixture(t, sms, nil)
	m := &channels.Outbound{Key: "n", Kind: channels.KindPush, To: "+254712345678", Text: "x", Fallback: &channels.Outbound{To: "+254712345678", Text: "y"}}
	for range 2 {
		if err := f.box.fallback(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	f.step(t)
	f.step(t)
	if n := sms.count("n/fallback"); n != 1 {
		t.Errorf("fallback sent %d times, want once", n)
	}
}

// TestNoSMSGateway checks that an Outbox with only other routes fails an
// SMS as having no sender instead of leaving it queued.
func TestNoSMSGateway(t *testing.T) {
	hook := &fakeSender{name: "webhook"}
	f := newFixture(t, nil, func(c *Config) {
		c.Sender = nil
		c.Routes = map[string]Route{channels.KindWebhook: {Sender: hook, Rate: 1e6}}
	})
	if err := f.box.Send(t.Context(),
		&channels.Outbound{Key: "sms", To: "+254712345678", Text: "x"},
		&channels.Outbound{Key: "hook", Kind: channels.KindWebhook, To: "civil_registry", Text: "{}"},
	); err != nil {
		t.Fatal(err)
	}
	f.step(t)
	if m := f.get(t, "sms"); m.Status != channels.OutboundFailed || m.Reason != ReasonNoSender {
		t.Errorf("SMS without a gateway: %s (%s), want failed (%s)", m.Status, m.Reason, ReasonNoSender)
	}
	if m := f.get(t, "hook"); m.Status != channels.OutboundSent || hook.count("hook") != 1 {
		t.Errorf("webhook: %s after %d calls, want sent once", m.Status, hook.count("hook"))
	}
}

// flakyEnqueue is the bolt store with Enqueue failing while fails is
// above zero, as a full disk or a store error would.
type flakyEnqueue struct {
	*bolt.DB
	fails int
}

func (s *flakyEnqueue) Enqueue(ctx context.Context, ms ...*channels.Outbound) error {
	if s.fails > 0 {
		s.fails--
		return errors.New("disk full")
	}
	return s.DB.Enqueue(ctx, ms...)
}

// TestFallbackNotLostOnLastAttempt fails the enqueueing of a notice's
// fallback when the notice fails for good on its last attempt: the notice
// must not be recorded as failed before its fallback is queued, and the
// SMS must go once the store works again.
func TestFallbackNotLostOnLastAttempt(t *testing.T) {
	const phone = "+254712345678"
	tests := []struct {
		name string
		push func(*channels.Outbound, int) (string, error)
	}{
		{"the last attempt fails", func(*channels.Outbound, int) (string, error) { return "", errors.New("503") }},
		{"the last attempt is refused for good", func(*channels.Outbound, int) (string, error) {
			return "", Permanent("unregistered", errors.New("every token is dead"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sms := &fakeSender{name: "sms"}
			push := &fakeSender{name: "fcm", script: tt.push}
			var store *flakyEnqueue
			f := newFixture(t, sms, func(c *Config) {
				store = &flakyEnqueue{DB: c.Store.(*bolt.DB)}
				c.Store = store
				c.Routes = map[string]Route{channels.KindPush: {Sender: push, Rate: 1e6, Burst: 10, MaxAttempts: 1}}
			})
			if err := f.box.Send(t.Context(), &channels.Outbound{
				Key: "notice/1", Kind: channels.KindPush, To: phone, Text: "Approved", Purpose: channels.PurposeNotice,
				Fallback: &channels.Outbound{To: phone, Text: "Your application is approved", Purpose: channels.PurposeNotice},
			}); err != nil {
				t.Fatal(err)
			}
			store.fails = 1
			f.step(t) // the push's one attempt; its fallback cannot be stored
			if m := f.get(t, "notice/1"); m.Status.Final() {
				t.Fatalf("notice %s (%s) although its fallback was never queued", m.Status, m.Reason)
			}
			for range 3 {
				f.clock.Add(f.box.cfg.MaxBackoff)
				f.step(t)
			}
			if m := f.get(t, "notice/1"); m.Status != channels.OutboundFailed {
				t.Errorf("notice %s (%s), want failed", m.Status, m.Reason)
			}
			if fb := f.get(t, "notice/1/fallback"); fb.Status != channels.OutboundSent || sms.count("notice/1/fallback") != 1 {
				t.Errorf("fallback %s after %d calls, want sent once", fb.Status, sms.count("notice/1/fallback"))
			}
			if n := push.total(); n != 1 && tt.name == "the last attempt fails" {
				t.Errorf("push sent %d times, want its one attempt", n)
			}
		})
	}
}

// TestKindsDoNotWaitForEachOther queues a backlog of SMS paced at one a
// second, then a push notice and a webhook, and checks that both go out
// while the SMS backlog is still there: each kind has its own workers and
// its own window of due messages.
func TestKindsDoNotWaitForEachOther(t *testing.T) {
	db := channelstest.OpenStore(t)
	sms := &fakeSender{name: "sms"}
	push := &fakeSender{name: "fcm", called: make(chan string, 1)}
	hook := &fakeSender{name: "webhook", called: make(chan string, 1)}
	box := New(Config{
		Store: db, Sender: sms, Rate: 1, Burst: 1,
		Routes: map[string]Route{
			channels.KindPush:    {Sender: push, Rate: 100, Burst: 10},
			channels.KindWebhook: {Sender: hook, Rate: 100, Burst: 10},
		},
		Poll: 10 * time.Millisecond,
	})
	var backlog []*channels.Outbound
	for i := range 200 {
		backlog = append(backlog, &channels.Outbound{Key: fmt.Sprintf("sms-%03d", i), To: "+254712345678", Text: "notice"})
	}
	if err := box.Send(t.Context(), backlog...); err != nil {
		t.Fatal(err)
	}
	stop := run(t, box)
	defer stop()
	if err := box.Send(t.Context(),
		&channels.Outbound{Key: "push-1", Kind: channels.KindPush, To: "+254712345678", Text: "approved"},
		&channels.Outbound{Key: "hook-1", Kind: channels.KindWebhook, To: "civil_registry", Text: "{}"},
	); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*fakeSender{push, hook} {
		select {
		case <-s.called:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s never sent while %d SMS of the backlog went", s.name, sms.total())
		}
	}
	if n := sms.total(); n >= 100 {
		t.Errorf("the push notice and the webhook waited for %d SMS of the backlog", n)
	}
}

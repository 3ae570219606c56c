package notify_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/host"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/notify"
	"github.com/govchannels/channels/outbox"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/store/bolt"
	"github.com/govchannels/channels/webhook"
)

const phone = "+254712345678"

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// idle is a sender the outbox needs to be built; the tests never run the
// outbox, they read what the notifier queued in the store.
type idle struct{}

func (idle) Name() string { return "idle" }
func (idle) Send(context.Context, *channels.Outbound) (string, error) {
	return "", nil
}

type fixture struct {
	db   *bolt.DB
	host *host.Store
	n    *notify.Notifier
}

func newFixture(t *testing.T, push bool) *fixture {
	t.Helper()
	db := channelstest.OpenStore(t)
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	n := notify.New(notify.Config{
		Store: db, Outbox: outbox.New(outbox.Config{Store: db, Sender: idle{}}), Bundle: bundle, Catalog: cat,
		Webhook: webhook.Message, Push: push, Now: func() time.Time { return t0 },
	})
	for _, a := range []channels.Agency{
		{ID: "civil_registry", Name: "Civil Registry", WebhookURL: "https://cr.example/hook", WebhookSecret: []byte("s"), CreatedAt: t0},
		{ID: "county_works", Name: "County Works", CreatedAt: t0}, // no webhook
	} {
		if err := db.PutAgency(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{db: db, n: n, host: &host.Store{Cases: db, Prefs: db, Log: db, Now: func() time.Time { return t0 }}}
}

func (f *fixture) submit(t *testing.T, service, agency, lang string) string {
	t.Helper()
	ref, err := f.host.Submit(t.Context(), flows.Submission{Key: "ussd/" + service, Service: service, Agency: agency, Phone: phone, Lang: lang, Channel: channels.ChannelUSSD})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (f *fixture) move(t *testing.T, ref string, to channels.Status, note string) {
	t.Helper()
	if _, err := f.db.UpdateCase(t.Context(), ref, func(c *channels.Case) error {
		return c.Transition(to, t0, "agency:civil_registry/key:k1", note)
	}); err != nil {
		t.Fatal(err)
	}
}

// pass runs one pass and returns how many events it handled.
func (f *fixture) pass(t *testing.T) int {
	t.Helper()
	n, err := f.n.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// queued returns the message under key, nil when none was queued.
func (f *fixture) queued(t *testing.T, key string) *channels.Outbound {
	t.Helper()
	m, err := f.db.Outbound(t.Context(), key)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNotices(t *testing.T) {
	f := newFixture(t, false)
	ref := f.submit(t, "birth_certificate", "civil_registry", "en")
	if _, err := f.db.UpdatePrefs(t.Context(), phone, func(p *channels.Prefs) { p.Lang = "sw" }); err != nil {
		t.Fatal(err)
	}
	f.move(t, ref, channels.StatusInReview, "assigned to desk 4")
	f.move(t, ref, channels.StatusMoreInfo, "Send the mother's ID number.")
	if _, err := f.host.Submit(t.Context(), flows.Submission{Phone: phone, Action: flows.ActionAnswerInfo, Ref: ref, Answers: []channels.Answer{{Field: "answer", Value: "12345678"}}}); err != nil {
		t.Fatal(err)
	}
	road := f.submit(t, "report_problem", "county_works", "en")
	f.move(t, road, channels.StatusRejected, "Reported twice; see 1234.")

	if n := f.pass(t); n != 6 {
		t.Fatalf("handled %d events, want 6", n)
	}
	tests := []struct {
		name string
		key  string
		want string // "" when nothing may be queued; else the start of the SMS or webhook body
	}{
		{"new case: the agency's webhook", "evt_1_" + ref, `{"id":"evt_1_` + ref + `","type":"case.created"`},
		{"new case: no notice, the citizen saw the reference", "notice/1", ""},
		{"in review: notice in the language chosen last, without the agency's own note", "notice/2", "Cheti cha kuzaliwa " + ref + ": Linakaguliwa."},
		{"more information: the question is in the notice", "notice/3", "Cheti cha kuzaliwa " + ref + ": taarifa zaidi zinahitajika: Send the mother's ID number."},
		{"the citizen's answer: the agency hears of it", "evt_4_" + ref, `{"id":"evt_4_` + ref + `","type":"case.status_changed"`},
		{"the citizen's answer: no notice of their own act", "notice/4", ""},
		{"an agency without a webhook URL gets none", "evt_5_" + road, ""},
		{"rejected: the reason is in the notice", "notice/6", "Ripoti tatizo " + road + ": Limekataliwa. Reported twice; see 1234."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := f.queued(t, tt.key)
			switch {
			case tt.want == "" && m != nil:
				t.Fatalf("queued %+v, want nothing", m)
			case tt.want == "":
				return
			case m == nil:
				t.Fatalf("nothing queued under %s", tt.key)
			}
			if !strings.HasPrefix(m.Text, tt.want) {
				t.Errorf("text %q, want it to start %q", m.Text, tt.want)
			}
			if strings.HasPrefix(tt.key, "evt_") {
				if m.Kind != channels.KindWebhook || m.To != "civil_registry" || m.Purpose != channels.PurposeEvent {
					t.Errorf("webhook %+v, want a webhook event to civil_registry", m)
				}
				return
			}
			if m.Kind != channels.KindSMS || m.To != phone || m.Purpose != channels.PurposeNotice || !m.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
				t.Errorf("notice %+v, want an SMS notice to the case's phone, expiring in a week", m)
			}
		})
	}

	t.Run("the cursor is kept: nothing is handled twice", func(t *testing.T) {
		if n := f.pass(t); n != 0 {
			t.Errorf("second pass handled %d events", n)
		}
		if err := f.db.PutCursor(t.Context(), notify.CursorName, 0); err != nil {
			t.Fatal(err)
		}
		if n := f.pass(t); n != 6 {
			t.Fatalf("pass from the start handled %d", n)
		}
		var due []*channels.Outbound
		for _, kind := range []string{channels.KindSMS, channels.KindPush, channels.KindWebhook} {
			ms, err := f.db.DueOutbound(t.Context(), kind, time.Now().Add(time.Hour), 100)
			if err != nil {
				t.Fatal(err)
			}
			due = append(due, ms...)
		}
		keys := []string{}
		for _, m := range due {
			keys = append(keys, m.Key)
		}
		slices.Sort(keys)
		want := []string{"evt_1_" + ref, "evt_2_" + ref, "evt_3_" + ref, "evt_4_" + ref, "notice/2", "notice/3", "notice/6"}
		if !slices.Equal(keys, want) {
			t.Errorf("queued after handling everything twice: %q, want each once: %q", keys, want)
		}
	})
}

// TestPushNotices checks that a citizen with a registered device is told
// by push, with the same text kept as the SMS fallback, and one without
// by SMS.
func TestPushNotices(t *testing.T) {
	f := newFixture(t, true)
	ref := f.submit(t, "birth_certificate", "civil_registry", "fr")
	f.move(t, ref, channels.StatusInReview, "")
	f.pass(t)
	if err := f.db.PutDevice(t.Context(), channels.Device{Phone: phone, Token: "tok-1", Platform: "android", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	f.move(t, ref, channels.StatusApproved, "")
	f.pass(t)

	if m := f.queued(t, "notice/2"); m == nil || m.Kind != channels.KindSMS || m.Fallback != nil {
		t.Errorf("notice before any device: %+v, want an SMS", m)
	}
	m := f.queued(t, "notice/3")
	if m == nil || m.Kind != channels.KindPush {
		t.Fatalf("notice with a device: %+v, want a push notice", m)
	}
	wantText := "Acte de naissance " + ref + ": Approuvée."
	if m.Title != "Acte de naissance" || m.Text != wantText || m.To != phone {
		t.Errorf("push %q / %q to %s, want the service's title and %q", m.Title, m.Text, m.To, wantText)
	}
	if m.Data["reference"] != ref || m.Data["status"] != "approved" || m.Data["link"] != "channels://cases/"+ref {
		t.Errorf("push data %v", m.Data)
	}
	if fb := m.Fallback; fb == nil || fb.Key != "notice/3/sms" || fb.Kind != channels.KindSMS || fb.Text != wantText || fb.To != phone {
		t.Errorf("fallback %+v, want the same text by SMS under notice/3/sms", fb)
	}
}

// TestCaseWithoutPhone checks that a case made at a kiosk for a citizen
// without a phone, whom no notice can reach, neither stops the notifier
// nor costs its agency the webhook, for push on and off.
func TestCaseWithoutPhone(t *testing.T) {
	for _, push := range []bool{false, true} {
		t.Run(map[bool]string{false: "push off", true: "push on"}[push], func(t *testing.T) {
			f := newFixture(t, push)
			ref, err := f.host.Submit(t.Context(), flows.Submission{
				Key: "kiosk/1", Service: "birth_certificate", Agency: "civil_registry", Lang: "en",
				Channel: channels.ChannelKiosk, NationalID: "12345678",
				Assisted: &channels.Assistance{Operator: "amina", Kiosk: "Kisumu Huduma Centre", Consent: channels.ConsentIDDocument},
			})
			if err != nil {
				t.Fatal(err)
			}
			f.move(t, ref, channels.StatusInReview, "")
			other := f.submit(t, "birth_certificate", "civil_registry", "en")
			f.move(t, other, channels.StatusInReview, "")

			n, err := f.n.Pass(t.Context())
			if err != nil || n != 4 {
				t.Fatalf("pass handled %d events, err %v; want all 4 handled", n, err)
			}
			tests := []struct {
				name string
				key  string
				want bool
			}{
				{"the agency hears of the new case", "evt_1_" + ref, true},
				{"the agency hears of the change", "evt_2_" + ref, true},
				{"no notice to nobody", "notice/2", false},
				{"the next citizen is still told", "notice/4", true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if m := f.queued(t, tt.key); (m != nil) != tt.want {
						t.Errorf("queued under %s: %+v, want queued %v", tt.key, m, tt.want)
					}
				})
			}
		})
	}
}

package later_test

import (
	"context"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/agencycall"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/later"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/outbox"
)

// TestReminders schedules, replaces and cancels reminders on a real
// store, one step after another, and checks what the outbox holds and
// when it is due.
func TestReminders(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	rs := r.sender.Reminders()
	const phone, appPhone = "+254712345678", "+254722000111"
	if err := r.db.PutDevice(ctx, channels.Device{Phone: appPhone, Token: "tok-2", Platform: "android", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tomorrow := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	later2 := tomorrow.Add(48 * time.Hour)
	text := func(ref string) channels.Message {
		return channels.Msg("notice.status", "Service", "Registry", "Reference", ref, "Status", channels.Msg("status.ready"))
	}
	steps := []struct {
		name     string
		r        flows.Reminder
		key      string // the message to check
		status   channels.OutboundStatus
		reason   string
		kind     string
		at       time.Time
		lang     string
		ref      string
		fallback bool
	}{
		{"schedule", flows.Reminder{Key: "civil_registry/R1", Phone: phone, Lang: "fr", Channel: channels.ChannelUSSD, At: tomorrow, Text: text("R1")},
			"remind/civil_registry/R1", channels.OutboundQueued, "", channels.KindSMS, tomorrow, "fr", "R1", false},
		{"a move replaces it", flows.Reminder{Key: "civil_registry/R1", Phone: phone, Lang: "sw", Channel: channels.ChannelSMS, At: later2, Text: text("R1b")},
			"remind/civil_registry/R1", channels.OutboundQueued, "", channels.KindSMS, later2, "sw", "R1b", false},
		{"on the app: push with the SMS as fallback", flows.Reminder{Key: "civil_registry/R2", Phone: appPhone, Lang: "en", Channel: channels.ChannelApp, At: tomorrow, Text: text("R2")},
			"remind/civil_registry/R2", channels.OutboundQueued, "", channels.KindPush, tomorrow, "en", "R2", true},
		{"cancel", flows.Reminder{Key: "civil_registry/R1", Cancel: true},
			"remind/civil_registry/R1", channels.OutboundFailed, later.ReasonCancelled, channels.KindSMS, later2, "sw", "R1b", false},
		{"cancel again changes nothing", flows.Reminder{Key: "civil_registry/R1", Cancel: true},
			"remind/civil_registry/R1", channels.OutboundFailed, later.ReasonCancelled, channels.KindSMS, later2, "sw", "R1b", false},
		{"booked again after a cancel", flows.Reminder{Key: "civil_registry/R1", Phone: phone, Lang: "ar", Channel: channels.ChannelUSSD, At: tomorrow, Text: text("R1c")},
			"remind/civil_registry/R1", channels.OutboundQueued, "", channels.KindSMS, tomorrow, "ar", "R1c", false},
	}
	var created time.Time
	for _, st := range steps {
		if err := rs.Remind(ctx, st.r); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		m := r.message(t, st.key)
		if m == nil {
			t.Fatalf("%s: no reminder", st.name)
		}
		want := r.bundle.Text(st.lang, text(st.ref))
		if m.Status != st.status || m.Reason != st.reason || m.Kind != st.kind || !m.NextAttempt.Equal(st.at) || m.Text != want || m.Purpose != channels.PurposeNotice || m.Attempts != 0 {
			t.Errorf("%s: stored %s %q kind %q due %s %q, want %s %q kind %q due %s %q", st.name, m.Status, m.Reason, m.Kind, m.NextAttempt, m.Text, st.status, st.reason, st.kind, st.at, want)
		}
		if title := r.bundle.Text(st.lang, channels.Msg(later.MsgReminderTitle)); st.kind == channels.KindPush && m.Title != title {
			t.Errorf("%s: the push notice is titled %q, want %q", st.name, m.Title, title)
		}
		if st.fallback != (m.Fallback != nil) || (m.Fallback != nil && (m.Fallback.Text != want || m.Fallback.To != appPhone)) {
			t.Errorf("%s: fallback %+v, want one: %v", st.name, m.Fallback, st.fallback)
		}
		if st.key == "remind/civil_registry/R1" {
			if created.IsZero() {
				created = m.CreatedAt
			} else if !m.CreatedAt.Equal(created) {
				t.Errorf("%s: replaced as a new message (created %s, first %s)", st.name, m.CreatedAt, created)
			}
		}
	}

	// Due at its time, not before; a cancelled one never.
	due := func(at time.Time) map[string]bool {
		ms, err := r.db.DueOutbound(ctx, channels.KindSMS, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for _, m := range ms {
			keys[m.Key] = true
		}
		return keys
	}
	if got := due(tomorrow.Add(-time.Second)); len(got) != 0 {
		t.Errorf("due before its time: %v", got)
	}
	if got := due(tomorrow); !got["remind/civil_registry/R1"] {
		t.Errorf("not due at its time: %v", got)
	}
	if err := rs.Remind(ctx, flows.Reminder{Key: "civil_registry/R1", Cancel: true}); err != nil {
		t.Fatal(err)
	}
	if got := due(later2); got["remind/civil_registry/R1"] {
		t.Errorf("a cancelled reminder is due: %v", got)
	}

	for _, bad := range []flows.Reminder{
		{Key: "", Phone: phone, At: tomorrow, Text: text("x")},
		{Key: "civil_registry/R9", At: tomorrow, Text: text("x")},
	} {
		if err := rs.Remind(ctx, bad); err == nil {
			t.Errorf("reminder %+v accepted", bad)
		}
	}
	if err := rs.Remind(ctx, flows.Reminder{Key: "registry_appointment/none", Cancel: true}); err != nil {
		t.Errorf("cancelling a reminder never made: %v", err)
	}
}

// TestLateAnswerReminds finishes a late booking whose step asks for a
// reminder: the reminder is kept for the citizen's phone as well as the
// answer sent.
func TestLateAnswerReminds(t *testing.T) {
	r := newRig(t)
	at := time.Date(2026, 12, 7, 8, 30, 0, 0, time.UTC)
	msg := channels.Msg("notice.status", "Service", "Registry", "Reference", "R7", "Status", channels.Msg("status.ready"))
	withReminder := func(st []byte, a flows.AgencyAnswer) (flows.Result, error) {
		res := flows.Result{Screen: endScreen(a)}
		if a.Outcome == flows.OutcomeFound {
			res.Reminder = &flows.Reminder{Key: "civil_registry/R7", Lang: "sw", Channel: channels.ChannelUSSD, At: at, Text: msg}
		}
		return res, nil
	}
	client, err := agencycall.New(agencycall.Config{Agencies: r.db})
	if err != nil {
		t.Fatal(err)
	}
	r.sender = later.New(later.Config{Store: r.db, Caller: client, Later: withReminder, Bundle: r.bundle})
	req := request("ussd/s10/book/4", "found", channels.ChannelUSSD, "sw", true)
	if err := r.sender.Enqueue(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { return r.final(t, "call/"+req.Key) && r.final(t, "answer/"+req.Key) })
	m := r.message(t, "remind/civil_registry/R7")
	if m == nil || m.To != req.Phone || !m.NextAttempt.Equal(at) || m.Text != r.bundle.Text("sw", msg) || m.Status != channels.OutboundQueued {
		t.Errorf("reminder %+v, want one for %s due %s in Swahili", m, req.Phone, at)
	}
}

// TestNoticeTitles checks that the titles of the push notices of late
// answers and reminders are shipped in every language, so that no notice
// is titled with a message ID.
func TestNoticeTitles(t *testing.T) {
	bundle, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range bundle.Langs() {
		for _, id := range []string{later.MsgAnswerTitle, later.MsgReminderTitle} {
			t.Run(lang+"/"+id, func(t *testing.T) {
				if !bundle.Has(lang, id) {
					t.Fatalf("%s is missing in %s", id, lang)
				}
				if got := bundle.Text(lang, channels.Msg(id, "Service", "Tax PIN")); got == "" || got == id {
					t.Errorf("%s in %s is %q", id, lang, got)
				}
			})
		}
	}
}

// TestReminderWaitsForAnAttempt holds the outbox's lock on a reminder, as
// an attempt at it does on whichever instance: a cancel waits for it, and
// then lands.
func TestReminderWaitsForAnAttempt(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	client, err := agencycall.New(agencycall.Config{Agencies: r.db})
	if err != nil {
		t.Fatal(err)
	}
	s := later.New(later.Config{Store: r.db, Caller: client, Later: screens(t), Bundle: r.bundle, Locks: r.db})
	rs := s.Reminders()
	at := time.Now().Add(time.Hour)
	if err := rs.Remind(ctx, flows.Reminder{Key: "civil_registry/R1", Phone: "+254712345678", Lang: "en", Channel: channels.ChannelUSSD, At: at,
		Text: channels.Msg("notice.status", "Service", "Registry", "Reference", "R1", "Status", channels.Msg("status.ready"))}); err != nil {
		t.Fatal(err)
	}
	unlock, err := r.db.LockKey(ctx, outbox.LockName("remind/civil_registry/R1"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rs.Remind(ctx, flows.Reminder{Key: "civil_registry/R1", Cancel: true}) }()
	select {
	case err := <-done:
		unlock()
		t.Fatalf("the cancel did not wait for the attempt's lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m, err := r.db.Outbound(ctx, "remind/civil_registry/R1")
	if err != nil || m.Status != channels.OutboundFailed || m.Reason != later.ReasonCancelled {
		t.Errorf("after the attempt: %+v, %v; want cancelled", m, err)
	}
}

// Package storetest is the contract every channels.Store must meet. Each
// backend's tests call Run with a function that opens a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// Run checks the store returned by open against the contract.
func Run(t *testing.T, open func(t *testing.T) channels.Store) {
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("SessionExpiry", func(t *testing.T) { testSessionExpiry(t, open(t)) })
	t.Run("Cases", func(t *testing.T) { testCases(t, open(t)) })
	t.Run("CasesByPhone", func(t *testing.T) { testCasesByPhone(t, open(t)) })
	t.Run("ConcurrentCases", func(t *testing.T) { testConcurrentCases(t, open(t)) })
	t.Run("Prefs", func(t *testing.T) { testPrefs(t, open(t)) })
	t.Run("UpdatePrefs", func(t *testing.T) { testUpdatePrefs(t, open(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open(t)) })
	t.Run("OutboxDue", func(t *testing.T) { testOutboxDue(t, open(t)) })
	t.Run("OutboxKinds", func(t *testing.T) { testOutboxKinds(t, open(t)) })
	t.Run("OutboxBacklog", func(t *testing.T) { testOutboxBacklog(t, open(t)) })
	t.Run("OutboxSkip", func(t *testing.T) { testOutboxSkip(t, open(t)) })
	t.Run("OutboxFailed", func(t *testing.T) { testOutboxFailed(t, open(t)) })
	t.Run("OutboxRequeue", func(t *testing.T) { testOutboxRequeue(t, open(t)) })
	t.Run("Secrets", func(t *testing.T) { testSecrets(t, open(t)) })
	t.Run("CaseLog", func(t *testing.T) { testCaseLog(t, open(t)) })
	t.Run("ListCases", func(t *testing.T) { testListCases(t, open(t)) })
	t.Run("Devices", func(t *testing.T) { testDevices(t, open(t)) })
	t.Run("Agencies", func(t *testing.T) { testAgencies(t, open(t)) })
	t.Run("Operators", func(t *testing.T) { testOperators(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("NationalIDCases", func(t *testing.T) { testNationalIDCases(t, open(t)) })
	t.Run("CreateCases", func(t *testing.T) { testCreateCases(t, open(t)) })
	runRetention(t, open)
	runPayments(t, open)
}

// base is the store tests' clock: stores keep microseconds at least.
var base = time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)

func testSessions(t *testing.T, s channels.Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		sess channels.Session
	}{
		{"with state and edge", channels.Session{ID: "ussd/a", Phone: "+254712345678", Channel: channels.ChannelUSSD, State: []byte{1, 0, 255, 7}, Edge: []byte("CON hello*1"), UpdatedAt: base}},
		{"empty state and edge", channels.Session{ID: "app/b", Phone: "+254712345679", Channel: channels.ChannelApp, UpdatedAt: base}},
		{"id with odd bytes", channels.Session{ID: "ussd/é\x00*", Phone: "+2547", Channel: channels.ChannelUSSD, State: bytes.Repeat([]byte{9}, 600), UpdatedAt: base}},
		{"never updated", channels.Session{ID: "app/z", Phone: "+254712345670", Channel: channels.ChannelApp, State: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.sess
			in.ExpiresAt = base.Add(time.Minute)
			if err := s.PutSession(ctx, &in); err != nil {
				t.Fatal(err)
			}
			got, err := s.Session(ctx, in.ID, base)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != in.ID || got.Phone != in.Phone || got.Channel != in.Channel ||
				!bytes.Equal(got.State, in.State) || !bytes.Equal(got.Edge, in.Edge) ||
				!got.UpdatedAt.Equal(in.UpdatedAt) || !got.ExpiresAt.Equal(in.ExpiresAt) {
				t.Errorf("got %+v, want %+v", got, in)
			}
		})
	}

	t.Run("sessions are copied in and out", func(t *testing.T) {
		want := bytes.Repeat([]byte("state"), 100)
		in := bytes.Clone(want)
		if err := s.PutSession(ctx, &channels.Session{ID: "keep", State: in, Edge: in, UpdatedAt: base, ExpiresAt: base.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		in[0] = 'X'
		got, err := s.Session(ctx, "keep", base)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.State, want) {
			t.Fatalf("the store kept the caller's slice: state %.10q", got.State)
		}
		// Enough writes to make an embedded store grow its file and remap it.
		for i := range 300 {
			big := &channels.Session{ID: fmt.Sprintf("fill/%d", i), State: bytes.Repeat([]byte{byte(i)}, 2000), UpdatedAt: base, ExpiresAt: base.Add(time.Minute)}
			if err := s.PutSession(ctx, big); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got.State, want) || !bytes.Equal(got.Edge, want) {
			t.Errorf("a session read earlier changed under the caller")
		}
	})

	t.Run("replace", func(t *testing.T) {
		a := channels.Session{ID: "r", Phone: "+1", State: []byte("one"), UpdatedAt: base, ExpiresAt: base.Add(time.Minute)}
		b := a
		b.State = []byte("two")
		for _, sess := range []*channels.Session{&a, &b} {
			if err := s.PutSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Session(ctx, "r", base)
		if err != nil || string(got.State) != "two" {
			t.Fatalf("got %v %v, want state two", got, err)
		}
	})
	t.Run("several in one write", func(t *testing.T) {
		a := &channels.Session{ID: "m/a", Phone: "+1", State: []byte("a"), UpdatedAt: base, ExpiresAt: base.Add(time.Minute)}
		b := &channels.Session{ID: "m/b", Phone: "+2", State: []byte("b"), UpdatedAt: base, ExpiresAt: base.Add(time.Hour)}
		if err := s.PutSession(ctx, a, b); err != nil {
			t.Fatal(err)
		}
		for _, want := range []*channels.Session{a, b} {
			got, err := s.Session(ctx, want.ID, base)
			if err != nil || !bytes.Equal(got.State, want.State) || !got.ExpiresAt.Equal(want.ExpiresAt) {
				t.Errorf("session %s = %+v, %v", want.ID, got, err)
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := s.Session(ctx, "nope", base); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("err = %v, want not found", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		sess := channels.Session{ID: "d", UpdatedAt: base, ExpiresAt: base.Add(time.Minute)}
		if err := s.PutSession(ctx, &sess); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSession(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, "d", base); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("after delete: %v", err)
		}
		if err := s.DeleteSession(ctx, "d"); err != nil {
			t.Errorf("deleting a missing session: %v", err)
		}
	})
}

func testSessionExpiry(t *testing.T, s channels.Store) {
	ctx := context.Background()
	put := func(id string, ttl time.Duration) {
		t.Helper()
		if err := s.PutSession(ctx, &channels.Session{ID: id, UpdatedAt: base, ExpiresAt: base.Add(ttl)}); err != nil {
			t.Fatal(err)
		}
	}
	put("soon", time.Second)
	put("later", time.Hour)
	put("exact", time.Minute)
	put("extended", time.Second)
	put("extended", time.Hour) // replaced with a later expiry: its old one must not purge it
	put("shortened", time.Hour)
	put("shortened", time.Second)
	// A session without an expiry has always expired.
	if err := s.PutSession(ctx, &channels.Session{ID: "no expiry", UpdatedAt: base}); err != nil {
		t.Fatal(err)
	}

	reads := []struct {
		name, id string
		at       time.Time
		want     string
	}{
		{"before expiry", "exact", base.Add(time.Minute - time.Microsecond), ""},
		{"at expiry", "exact", base.Add(time.Minute), channels.ENOTFOUND},
		{"after expiry", "soon", base.Add(time.Minute), channels.ENOTFOUND},
		{"without expiry", "no expiry", base, channels.ENOTFOUND},
		{"replaced with a later expiry", "extended", base.Add(time.Minute), ""},
		{"replaced with an earlier expiry", "shortened", base.Add(time.Minute), channels.ENOTFOUND},
	}
	for _, tt := range reads {
		if _, err := s.Session(ctx, tt.id, tt.at); channels.ErrorCode(err) != tt.want {
			t.Errorf("%s: session %s at %v: err = %v, want code %q", tt.name, tt.id, tt.at, err, tt.want)
		}
	}
	n, err := s.PurgeSessions(ctx, base.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("purged %d, want 4 (soon, exact, shortened, no expiry)", n)
	}
	for id, want := range map[string]string{"soon": channels.ENOTFOUND, "exact": channels.ENOTFOUND, "shortened": channels.ENOTFOUND,
		"no expiry": channels.ENOTFOUND, "later": "", "extended": ""} {
		if _, err := s.Session(ctx, id, base); channels.ErrorCode(err) != want {
			t.Errorf("after purge, session %s: err %v, want code %q", id, err, want)
		}
	}
	if n, err := s.PurgeSessions(ctx, base.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0", n, err)
	}
}

func newCase(ref, phone, key string, at time.Time) *channels.Case {
	return &channels.Case{
		Ref: ref, Service: "birth_certificate", Phone: phone, Channel: channels.ChannelUSSD, Lang: "sw",
		Answers:        []channels.Answer{{Field: "z_last", Value: "first"}, {Field: "a_first", Value: "Zoë Wanjiru"}},
		Status:         channels.StatusSubmitted,
		History:        []channels.StatusChange{{Status: channels.StatusSubmitted, At: at, Actor: "citizen", Note: "via *384#"}},
		IdempotencyKey: key,
		CreatedAt:      at,
	}
}

func sameCase(t *testing.T, got, want *channels.Case) {
	t.Helper()
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) || len(g.History) != len(w.History) {
		t.Fatalf("got %+v, want %+v", g, w)
	}
	for i := range g.History {
		if !g.History[i].At.Equal(w.History[i].At) {
			t.Fatalf("history %d at %v, want %v", i, g.History[i].At, w.History[i].At)
		}
		g.History[i].At = w.History[i].At
	}
	g.CreatedAt = w.CreatedAt
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %+v, want %+v", g, w)
	}
}

func testCases(t *testing.T, s channels.Store) {
	ctx := context.Background()
	first := newCase("4821773057", "+254712345678", "ussd/s1", base)
	got, err := s.CreateCase(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	sameCase(t, got, first)
	read, err := s.Case(ctx, first.Ref)
	if err != nil {
		t.Fatal(err)
	}
	sameCase(t, read, first)

	t.Run("same idempotency key returns the first case", func(t *testing.T) {
		again := newCase("5555555555", "+254700000000", "ussd/s1", base.Add(time.Second))
		got, err := s.CreateCase(ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		sameCase(t, got, first)
		if _, err := s.Case(ctx, again.Ref); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("the retry stored a second case: %v", err)
		}
	})
	t.Run("taken reference conflicts", func(t *testing.T) {
		_, err := s.CreateCase(ctx, newCase(first.Ref, "+254700000000", "ussd/other", base))
		if channels.ErrorCode(err) != channels.ECONFLICT {
			t.Errorf("err = %v, want conflict", err)
		}
		read, err := s.Case(ctx, first.Ref)
		if err != nil {
			t.Fatal(err)
		}
		sameCase(t, read, first)
		// The conflicting attempt must not have claimed its idempotency key.
		retry := newCase("6666666666", "+254700000000", "ussd/other", base)
		got, err := s.CreateCase(ctx, retry)
		if err != nil {
			t.Fatal(err)
		}
		sameCase(t, got, retry)
	})
	t.Run("without idempotency key", func(t *testing.T) {
		for _, ref := range []string{"1000000001", "1000000002"} {
			if _, err := s.CreateCase(ctx, newCase(ref, "+254700000001", "", base)); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("unknown reference", func(t *testing.T) {
		if _, err := s.Case(ctx, "9999999999"); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("err = %v, want not found", err)
		}
	})
}

func testCasesByPhone(t *testing.T, s channels.Store) {
	ctx := context.Background()
	phone := "+254712345678"
	// Created out of order, with a tie, and with phones that share a prefix.
	for i, c := range []*channels.Case{
		newCase("1000000003", phone, "k3", base.Add(3*time.Minute)),
		newCase("1000000001", phone, "k1", base.Add(1*time.Minute)),
		newCase("1000000002", phone, "k2", base.Add(3*time.Minute)),
		newCase("1000000004", phone+"9", "k4", base.Add(4*time.Minute)),
		newCase("1000000005", "+25471234567", "k5", base.Add(5*time.Minute)),
		newCase("1000000006", "+254733333333", "k6", time.Time{}),
		newCase("1000000007", "+254733333333", "k7", base),
	} {
		if _, err := s.CreateCase(ctx, c); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
	}
	refs := func(cs []*channels.Case) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Ref)
		}
		return out
	}
	tests := []struct {
		name  string
		phone string
		limit int
		want  []string
	}{
		{"newest first, ties by reference descending", phone, 10, []string{"1000000003", "1000000002", "1000000001"}},
		{"limit", phone, 2, []string{"1000000003", "1000000002"}},
		{"zero limit", phone, 0, []string{}},
		{"zero creation time is oldest", "+254733333333", 10, []string{"1000000007", "1000000006"}},
		{"longer phone with same prefix", phone + "9", 10, []string{"1000000004"}},
		{"shorter phone with same prefix", "+25471234567", 10, []string{"1000000005"}},
		{"unknown phone", "+254799999999", 10, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CasesByPhone(ctx, tt.phone, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !reflect.DeepEqual(refs(got), tt.want) {
				t.Errorf("got %v, want %v", refs(got), tt.want)
			}
		})
	}
}

func testConcurrentCases(t *testing.T, s channels.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	shared := make([]string, 50)
	errs := make(chan error, 100)
	for i := range 50 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c, err := s.CreateCase(ctx, newCase(fmt.Sprintf("2%09d", i), "+254711111111", "shared-key", base))
			if err != nil {
				errs <- err
				return
			}
			shared[i] = c.Ref
		}()
		go func() {
			defer wg.Done()
			if _, err := s.CreateCase(ctx, newCase(fmt.Sprintf("3%09d", i), "+254722222222", fmt.Sprintf("own-%d", i), base)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, ref := range shared {
		if ref != shared[0] {
			t.Fatalf("one idempotency key gave references %s and %s", shared[0], ref)
		}
	}
	if got, err := s.CasesByPhone(ctx, "+254711111111", 100); err != nil || len(got) != 1 {
		t.Errorf("cases under the shared key: %d (%v), want 1", len(got), err)
	}
	if got, err := s.CasesByPhone(ctx, "+254722222222", 100); err != nil || len(got) != 50 {
		t.Errorf("distinct cases: %d (%v), want 50", len(got), err)
	}
	for i := range 50 {
		ref := fmt.Sprintf("3%09d", i)
		if c, err := s.Case(ctx, ref); err != nil || c.IdempotencyKey != fmt.Sprintf("own-%d", i) {
			t.Errorf("case %s: %+v, %v", ref, c, err)
		}
	}
}

func testPrefs(t *testing.T, s channels.Store) {
	ctx := context.Background()
	if p, err := s.Prefs(ctx, "+254712345678"); err != nil || p != (channels.Prefs{}) {
		t.Fatalf("unknown phone: %+v %v", p, err)
	}
	for _, lang := range []string{"fr", "sw"} {
		if err := s.PutPrefs(ctx, "+254712345678", channels.Prefs{Lang: lang}); err != nil {
			t.Fatal(err)
		}
		if p, err := s.Prefs(ctx, "+254712345678"); err != nil || p.Lang != lang {
			t.Errorf("prefs = %+v %v, want %s", p, err, lang)
		}
	}
	if p, _ := s.Prefs(ctx, "+254712345679"); p.Lang != "" {
		t.Errorf("another phone got %+v", p)
	}
	opted := channels.Prefs{Lang: "sw", OptedOut: true}
	if err := s.PutPrefs(ctx, "+254712345678", opted); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Prefs(ctx, "+254712345678"); err != nil || p != opted {
		t.Errorf("prefs = %+v %v, want %+v", p, err, opted)
	}
}

func outbound(key string, next time.Time) *channels.Outbound {
	return &channels.Outbound{
		Key: key, To: "+254712345678", Text: "Code 123456 é€", Purpose: channels.PurposeOTP, AtMostOnce: true,
		Status: channels.OutboundQueued, NextAttempt: next, CreatedAt: base, UpdatedAt: base,
	}
}

func testOutbox(t *testing.T, s channels.Store) {
	ctx := context.Background()
	m := outbound("otp/1", base)
	if err := s.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outbound(ctx, "otp/1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(m)) {
		t.Errorf("read back %+v, want %+v", got, m)
	}

	t.Run("a second enqueue of a key changes nothing", func(t *testing.T) {
		again := outbound("otp/1", base)
		again.Text = "Code 999999"
		if err := s.Enqueue(ctx, again); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Outbound(ctx, "otp/1"); got.Text != m.Text {
			t.Errorf("text = %q, want the first %q", got.Text, m.Text)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		if _, err := s.Outbound(ctx, "nope"); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("err = %v, want not found", err)
		}
		if err := s.UpdateOutbound(ctx, outbound("nope", base)); channels.ErrorCode(err) != channels.ENOTFOUND {
			t.Errorf("update err = %v, want not found", err)
		}
	})
	t.Run("empty key", func(t *testing.T) {
		if err := s.Enqueue(ctx, outbound("", base)); channels.ErrorCode(err) != channels.EINVALID {
			t.Errorf("err = %v, want invalid", err)
		}
	})
	t.Run("update replaces", func(t *testing.T) {
		u := *m
		u.Status, u.Attempts, u.Sender, u.ProviderID, u.UpdatedAt = channels.OutboundSent, 1, "twilio", "SM1", base.Add(time.Second)
		if err := s.UpdateOutbound(ctx, &u); err != nil {
			t.Fatal(err)
		}
		got, err := s.Outbound(ctx, "otp/1")
		if err != nil || !reflect.DeepEqual(normalize(got), normalize(&u)) {
			t.Errorf("got %+v %v, want %+v", got, err, u)
		}
	})
}

// normalize drops the monotonic clock and location so stored times compare.
func normalize(m *channels.Outbound) channels.Outbound {
	c := *m
	c.NextAttempt, c.CreatedAt, c.UpdatedAt = c.NextAttempt.UTC().Round(0), c.CreatedAt.UTC().Round(0), c.UpdatedAt.UTC().Round(0)
	return c
}

func keys(ms []*channels.Outbound) []string {
	var ks []string
	for _, m := range ms {
		ks = append(ks, m.Key)
	}
	return ks
}

func testOutboxDue(t *testing.T, s channels.Store) {
	ctx := context.Background()
	late, early, future := outbound("late", base.Add(2*time.Second)), outbound("early", base), outbound("future", base.Add(time.Hour))
	if err := s.Enqueue(ctx, late, early, future); err != nil {
		t.Fatal(err)
	}
	due := func(now time.Time, limit int) []string {
		t.Helper()
		ms, err := s.DueOutbound(ctx, channels.KindSMS, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		return keys(ms)
	}
	steps := []struct {
		name   string
		change func()
		now    time.Time
		limit  int
		want   []string
	}{
		{"earliest first, future ones wait", nil, base.Add(time.Minute), 10, []string{"early", "late"}},
		{"limit", nil, base.Add(time.Minute), 1, []string{"early"}},
		{"due at exactly now", nil, base, 10, []string{"early"}},
		{"sending comes first whatever the time", func() {
			f := *future
			f.Status = channels.OutboundSending
			if err := s.UpdateOutbound(ctx, &f); err != nil {
				t.Fatal(err)
			}
		}, base.Add(time.Minute), 10, []string{"future", "early", "late"}},
		{"rescheduled moves in the index", func() {
			e := *early
			e.NextAttempt = base.Add(30 * time.Second)
			if err := s.UpdateOutbound(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}, base.Add(10 * time.Second), 10, []string{"future", "late"}},
		{"final ones leave both indexes", func() {
			for _, k := range []string{"future", "late", "early"} {
				m, err := s.Outbound(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				m.Status = channels.OutboundFailed
				if k == "late" {
					m.Status = channels.OutboundDelivered
				}
				if err := s.UpdateOutbound(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
		}, base.Add(time.Hour), 10, nil},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change()
		}
		if got := due(st.now, st.limit); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: due = %v, want %v", st.name, got, st.want)
		}
	}
}

// testOutboxKinds checks that each kind of message is read on its own: a
// backlog of one never hides another, sending ones included.
func testOutboxKinds(t *testing.T, s channels.Store) {
	ctx := context.Background()
	var ms []*channels.Outbound
	for i := range 5 {
		ms = append(ms, outbound(fmt.Sprintf("sms-%d", i), base.Add(time.Duration(i)*time.Second)))
	}
	push, hook := outbound("push-1", base.Add(time.Minute)), outbound("hook-1", base.Add(2*time.Minute))
	push.Kind, hook.Kind = channels.KindPush, channels.KindWebhook
	if err := s.Enqueue(ctx, append(ms, push, hook)...); err != nil {
		t.Fatal(err)
	}
	sendingHook := *outbound("hook-0", base.Add(time.Hour))
	sendingHook.Kind = channels.KindWebhook
	if err := s.Enqueue(ctx, &sendingHook); err != nil {
		t.Fatal(err)
	}
	sendingHook.Status = channels.OutboundSending
	if err := s.UpdateOutbound(ctx, &sendingHook); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		kind  string
		limit int
		want  []string
	}{
		{"SMS fill their own window", channels.KindSMS, 3, []string{"sms-0", "sms-1", "sms-2"}},
		{"push is not behind them", channels.KindPush, 3, []string{"push-1"}},
		{"webhooks: sending first, then due", channels.KindWebhook, 3, []string{"hook-0", "hook-1"}},
		{"a kind with nothing", "fax", 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DueOutbound(ctx, tt.kind, base.Add(time.Hour), tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(keys(got), tt.want) {
				t.Errorf("due = %v, want %v", keys(got), tt.want)
			}
		})
	}
}

// testOutboxBacklog checks the counts a metrics scrape reads: queued
// messages due or not, those sending, the oldest due per kind, and
// nothing of final messages.
func testOutboxBacklog(t *testing.T, s channels.Store) {
	ctx := context.Background()
	at := func(t *testing.T, now time.Time, want []channels.Backlog) {
		t.Helper()
		got, err := s.OutboxBacklog(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i].OldestDue = got[i].OldestDue.UTC()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("backlog at %v = %+v, want %+v", now, got, want)
		}
	}
	t.Run("empty", func(t *testing.T) { at(t, base, []channels.Backlog{}) })
	var ms []*channels.Outbound
	for i := range 3 {
		ms = append(ms, outbound(fmt.Sprintf("sms-%d", i), base.Add(time.Duration(i)*time.Minute)))
	}
	later, hook, sent := outbound("push-later", base.Add(24*time.Hour)), outbound("hook-1", base.Add(time.Second)), outbound("sms-sent", base)
	later.Kind, hook.Kind = channels.KindPush, channels.KindWebhook
	if err := s.Enqueue(ctx, append(ms, later, hook, sent)...); err != nil {
		t.Fatal(err)
	}
	sent.Status = channels.OutboundSent
	if err := s.UpdateOutbound(ctx, sent); err != nil {
		t.Fatal(err)
	}
	hook.Status = channels.OutboundSending
	if err := s.UpdateOutbound(ctx, hook); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		now  time.Time
		want []channels.Backlog
	}{
		{"before any is due", base.Add(-time.Second), []channels.Backlog{
			{Kind: channels.KindSMS, Queued: 3},
			{Kind: channels.KindPush, Queued: 1},
			{Kind: channels.KindWebhook, Sending: 1},
		}},
		{"two SMS due", base.Add(90 * time.Second), []channels.Backlog{
			{Kind: channels.KindSMS, Queued: 3, Due: 2, OldestDue: base.UTC()},
			{Kind: channels.KindPush, Queued: 1},
			{Kind: channels.KindWebhook, Sending: 1},
		}},
		{"everything due", base.Add(48 * time.Hour), []channels.Backlog{
			{Kind: channels.KindSMS, Queued: 3, Due: 3, OldestDue: base.UTC()},
			{Kind: channels.KindPush, Queued: 1, Due: 1, OldestDue: base.Add(24 * time.Hour).UTC()},
			{Kind: channels.KindWebhook, Sending: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { at(t, tt.now, tt.want) })
	}
}

func testSecrets(t *testing.T, s channels.Store) {
	ctx := context.Background()
	a, err := s.Secret(ctx, "token", 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || bytes.Equal(a, make([]byte, 32)) {
		t.Fatalf("secret = %x, want 32 random bytes", a)
	}
	if again, err := s.Secret(ctx, "token", 32); err != nil || !bytes.Equal(again, a) {
		t.Errorf("second read = %x %v, want the first %x", again, err, a)
	}
	if other, _ := s.Secret(ctx, "other", 32); bytes.Equal(other, a) {
		t.Error("two names share a secret")
	}
}

// testUpdatePrefs changes two preferences of one phone concurrently, as a
// USSD language choice and an SMS STOP may: neither change is lost.
func testUpdatePrefs(t *testing.T, s channels.Store) {
	ctx := context.Background()
	const phone = "+254712345678"
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := s.UpdatePrefs(ctx, phone, func(p *channels.Prefs) { p.Lang = []string{"fr", "sw"}[i%2] }); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := s.UpdatePrefs(ctx, phone, func(p *channels.Prefs) { p.OptedOut = true }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	p, err := s.Prefs(ctx, phone)
	if err != nil || !p.OptedOut || p.Lang == "" {
		t.Errorf("prefs = %+v %v, want opted out with a language", p, err)
	}
	got, err := s.UpdatePrefs(ctx, phone, func(p *channels.Prefs) { p.OptedOut = false })
	if err != nil || got.OptedOut || got.Lang != p.Lang {
		t.Errorf("update returned %+v %v, want the stored prefs with the change", got, err)
	}
}

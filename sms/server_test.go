package sms

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/services"
)

// TestTranscripts completes every shipped service by SMS alone, one reply
// per step, and keeps the whole dialogue as a golden transcript.
func TestTranscripts(t *testing.T) {
	tests := []struct {
		name string
		msgs []string
		// cases is how many cases the phone has at the end.
		cases int
	}{
		{"birth_certificate_keyword", []string{"BIRTH", "Amani Wanjiru", "01/11/2026", "female", "Nakuru", "mother", "Grace Wanjiru", "0712345678", "1", "1"}, 1},
		{"birth_certificate_menu_guardian", []string{"menu", "1", "Amani Wanjiru", "01/11/2026", "2", "Nakuru", "3", "12345674", "Grace Wanjiru", "+254712345678", "By post", "P.O. Box 12, Nakuru", "1"}, 1},
		{"naissance_in_french", []string{"naissance", "Amani Wanjiru", "01/11/2026", "feminin", "Nakuru", "La Mère", "Grace Wanjiru", "0712345678", "Retrait au bureau", "1"}, 1},
		{"report_problem", []string{"Hello", "3", "1", "Kisumu, near the bus park", "Broken water pipe", "confirm"}, 1},
		{"check_status_mine", []string{"STATUS", "2"}, 0},
		{"back_and_menu", []string{"BIRTH", "Amani Wanjiru", "0", "Amani W", "back", "MENU", "2"}, 0},
		{"invalid_answers", []string{"BIRTH", "A", "Amani Wanjiru", "31/02/2026", "tomorrow", "01/11/2026"}, 0},
		{"help_stop_start", []string{"help", "STOP", "MENU", "start", "menu"}, 0},
		{"confirm_cancel", []string{"PROBLEM", "1", "Kisumu", "Broken water pipe", "cancel"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			channelstest.Golden(t, filepath.Join("testdata", "transcripts", tt.name+".golden"), f.transcript(t, tt.msgs...), *update)
			if got := len(f.cases(t)); got != tt.cases {
				t.Errorf("%d cases, want %d", got, tt.cases)
			}
		})
	}
}

// TestSameCaseOnEveryChannel checks that SMS creates the case the other
// channels would: same service, answers, channel and language.
func TestSameCaseOnEveryChannel(t *testing.T) {
	f := newFixture(t)
	r := f.transcript(t, "naissance", "Amani Wanjiru", "01/11/2026", "1", "Nakuru", "1", "Grace Wanjiru", "0712345678", "1", "1")
	cs := f.cases(t)
	if len(cs) != 1 {
		t.Fatalf("%d cases, want 1:\n%s", len(cs), r)
	}
	c := cs[0]
	if c.Service != "birth_certificate" || c.Channel != channels.ChannelSMS || c.Lang != "fr" || c.Phone != phone {
		t.Errorf("case = %+v", c)
	}
	if !strings.Contains(r, c.Ref[:4]) && !strings.Contains(r, "$REF") {
		t.Errorf("reference not shown:\n%s", r)
	}
	want := map[string]string{"child_name": "Amani Wanjiru", "child_dob": "2026-11-01", "relation": "mother", "delivery": "office"}
	for _, a := range c.Answers {
		if w, ok := want[a.Field]; ok && a.Value != w {
			t.Errorf("answer %s = %q, want %q", a.Field, a.Value, w)
		}
		delete(want, a.Field)
	}
	if len(want) > 0 {
		t.Errorf("answers missing: %v (got %+v)", want, c.Answers)
	}
}

func TestOptOut(t *testing.T) {
	f := newFixture(t)
	f.send(t, "BIRTH")
	r := f.send(t, "Stop")
	if r.Purpose != channels.PurposeOptOut || !strings.Contains(r.Text, "START") {
		t.Errorf("STOP reply = %+v, want the opt-out confirmation naming START", r)
	}
	if !f.prefs(t).OptedOut {
		t.Fatal("opt-out not stored")
	}
	for _, msg := range []string{"MENU", "BIRTH", "1", "HELP", "hello"} {
		if r := f.send(t, msg); r.Text != "" {
			t.Errorf("%q after STOP got %q, want nothing", msg, r.Text)
		}
	}
	r = f.send(t, "START")
	if f.prefs(t).OptedOut || !strings.Contains(r.Text, "MENU") {
		t.Errorf("after START: prefs %+v, reply %q", f.prefs(t), r.Text)
	}
	if r := f.send(t, "1"); !strings.Contains(r.Text, "Birth certificate") {
		t.Errorf("the dialogue before STOP should be gone: a new one shows the menu, got %q", r.Text)
	}
}

func TestStopInTheDialogueLanguage(t *testing.T) {
	f := newFixture(t)
	f.send(t, "NAISSANCE")
	if r := f.send(t, "STOP"); !strings.Contains(r.Text, "Vous ne recevrez plus") {
		t.Errorf("STOP in a French dialogue confirmed as %q", r.Text)
	}
}

func TestOptOutKeepsLanguage(t *testing.T) {
	f := newFixture(t)
	f.send(t, "NAISSANCE") // French, remembered only when chosen: set it
	if err := f.db.PutPrefs(context.Background(), phone, channels.Prefs{Lang: "sw"}); err != nil {
		t.Fatal(err)
	}
	r := f.send(t, "SITISHA")
	if p := f.prefs(t); !p.OptedOut || p.Lang != "sw" {
		t.Errorf("prefs = %+v, want opted out and still Swahili", p)
	}
	if !strings.Contains(r.Text, "Hutapokea") {
		t.Errorf("confirmation not in Swahili: %q", r.Text)
	}
}

func TestDuplicateDelivery(t *testing.T) {
	f := newFixture(t)
	for _, m := range []string{"PROBLEM", "1", "Kisumu", "Broken water pipe"} {
		f.send(t, m)
	}
	confirm := Inbound{Gateway: "test", ID: "confirm-1", From: phone, To: "22141", Text: "1"}
	var wg sync.WaitGroup
	replies := make([]Reply, 4)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = f.deliver(t, confirm)
		}()
	}
	wg.Wait()
	dups := 0
	for _, r := range replies {
		if r.Text != replies[0].Text && !strings.Contains(r.Text, "reference") {
			t.Errorf("replies differ: %q and %q", replies[0].Text, r.Text)
		}
		if r.Duplicate {
			dups++
		}
	}
	if dups != len(replies)-1 {
		t.Errorf("%d deliveries marked duplicate, want %d", dups, len(replies)-1)
	}
	if n := len(f.cases(t)); n != 1 {
		t.Errorf("%d cases after four deliveries of one confirmation, want 1", n)
	}
	// The same ID from another gateway is another message.
	other := confirm
	other.Gateway = "other"
	if r := f.deliver(t, other); r.Duplicate {
		t.Error("another gateway's message taken as a duplicate")
	}
}

func TestIdleWindow(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration
		want  string
	}{
		{"within the window", 11 * time.Hour, "Date of birth"},
		{"past the window", 13 * time.Hour, "ended after a long pause"},
		{"long gone", 30 * 24 * time.Hour, "Government services"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.send(t, "BIRTH")
			f.clk.Add(tt.after)
			if _, err := f.db.PurgeSessions(context.Background(), f.clk.Now()); err != nil {
				t.Fatal(err)
			}
			r := f.send(t, "Amani Wanjiru")
			if !strings.Contains(strings.ToLower(r.Text), strings.ToLower(tt.want)) {
				t.Errorf("reply = %q, want it to contain %q", r.Text, tt.want)
			}
			if tt.name == "past the window" {
				if r := f.send(t, "1"); !strings.Contains(r.Text, "Government services") {
					t.Errorf("after the polite end, a message starts afresh: %q", r.Text)
				}
			}
		})
	}
}

func TestOptionText(t *testing.T) {
	tests := []struct {
		name, lang, reply string
		want              string // a word of the next screen
	}{
		{"number", "en", "2", "Check by"},
		{"english text", "en", "birth certificate", "full name"},
		{"case and spaces", "en", "  BIRTH   certificate ", "full name"},
		{"french with accents", "fr", "Signaler un probleme", "Eau"},
		{"french exact", "fr", "Signaler un problème", "Eau"},
		{"unknown text", "en", "passport", "Choose one of the numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if err := f.db.PutPrefs(context.Background(), phone, channels.Prefs{Lang: tt.lang}); err != nil {
				t.Fatal(err)
			}
			f.send(t, "MENU")
			r := f.send(t, tt.reply)
			if !strings.Contains(strings.ToLower(r.Text), strings.ToLower(tt.want)) {
				t.Errorf("reply = %q, want it to contain %q", r.Text, tt.want)
			}
		})
	}
}

func TestKeywordLanguage(t *testing.T) {
	tests := []struct {
		msg, lang string
		shows     string // the message ID the reply starts with
	}{
		{"NAISSANCE", "fr", "birth.child_name"},
		{"kuzaliwa", "sw", "birth.child_name"},
		{"BIRTH", "en", "birth.child_name"},
		{"MENU", "en", "home.title"}, // shared by several languages: the default
		{"Aide", "fr", "sms.keyword.help"},
		{"msaada", "sw", "sms.keyword.help"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			f := newFixture(t)
			r := f.send(t, tt.msg)
			want := f.bundle.Text(tt.lang, channels.Msg(tt.shows))
			if tt.shows == "sms.keyword.help" {
				want = f.bundle.Text(tt.lang, channels.Msg("sms.keyword.back"))
			}
			if !strings.Contains(r.Text, want) {
				t.Errorf("%q answered %q, want it in %s (with %q)", tt.msg, r.Text, tt.lang, want)
			}
		})
	}
}

func TestKeywordsAreUnambiguous(t *testing.T) {
	f := newFixture(t)
	if ps := CheckKeywords(f.srv.cfg.Engine.Catalog(), f.bundle); len(ps) > 0 {
		t.Errorf("shipped keywords clash: %v", ps)
	}
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	cat.Services[1].Keyword = cat.Services[0].Keyword
	ps := CheckKeywords(cat, f.bundle)
	if len(ps) == 0 || !strings.Contains(strings.Join(ps, "\n"), "two meanings") {
		t.Errorf("two services with one keyword not reported: %v", ps)
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"stop", "STOP"},
		{" Arrêt! ", "ARRET"},
		{"Mère", "MERE"},
		{"birth   certificate", "BIRTH CERTIFICATE"},
		{"P.O. Box", "P O BOX"},
		{"", ""},
		{"...", ""},
		{"١٢", "١٢"},
	}
	for _, tt := range tests {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStoreFailure(t *testing.T) {
	f := newFixture(t)
	f.db.Close()
	r, err := f.srv.Handle(context.Background(), Inbound{Gateway: "test", ID: "x", From: phone, Text: "MENU"})
	if err == nil || r.Text == "" || strings.Contains(r.Text, "bolt") {
		t.Errorf("reply %q, err %v: want a polite reply without internals and the error", r.Text, err)
	}
}

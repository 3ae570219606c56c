package sms

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/govchannels/channels"
)

// checkParsed holds for whatever a gateway parser accepts: a bounded ID,
// an E.164 sender and UTF-8 text within bounds; and what it refuses is a
// *channels.Error a citizen-facing message can be made of.
func checkParsed(t *testing.T, in Inbound, err error) {
	if err != nil {
		if channels.ErrorCode(err) != channels.EINVALID || channels.ErrorMessage(err) == "error.internal" {
			t.Fatalf("refusal %v is not a localized invalid-input error", err)
		}
		return
	}
	if in.ID == "" || len(in.ID) > maxID {
		t.Fatalf("id %q accepted", in.ID)
	}
	if !strings.HasPrefix(in.From, "+") || len(in.From) < 8 || len(in.From) > 16 {
		t.Fatalf("sender %q is not E.164", in.From)
	}
	if !utf8.ValidString(in.Text) || len(in.Text) > maxText {
		t.Fatalf("text %q accepted", in.Text)
	}
}

func FuzzParseTwilio(f *testing.F) {
	f.Add("MessageSid=SM1&From=%2B254712345678&To=%2B15005550006&Body=MENU")
	f.Add("SmsSid=SM2&From=254712345678&Body=Naissance+%C3%A9")
	f.Add("MessageSid=SM3&From=0712345678&Body=")
	f.Add("MessageSid=&From=&Body=%FF")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return // the handler refuses it before parsing
		}
		in, err := ParseTwilio(form, "KE")
		checkParsed(t, in, err)
		if err == nil && in.Gateway != "twilio" {
			t.Fatalf("gateway %q", in.Gateway)
		}
	})
}

// FuzzDialogue sends arbitrary replies through a whole dialogue: every one
// gets an answer and none fails, whatever the citizen types.
func FuzzDialogue(f *testing.F) {
	for _, s := range []string{"MENU", "1", "0", "BACK", "Arrêt", "naissance", "01/11/2026", "٣", "STOP", "START", strings.Repeat("x", 500), "\x00", "*#", "Mère"} {
		f.Add(s, "1")
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		if !utf8.ValidString(first) || !utf8.ValidString(second) {
			return // the gateway parsers refuse these
		}
		fx := newFixture(t)
		for _, text := range []string{"MENU", first, second, first} {
			r := fx.send(t, text)
			stop := fold(text) == "STOP" || fold(text) == "ARRET" || fold(text) == "SITISHA"
			if r.Text == "" && !fx.prefs(t).OptedOut && !stop {
				t.Fatalf("no reply to %q", text)
			}
		}
	})
}

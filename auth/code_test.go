package auth

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/ratelimit"
)

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		n    uint32
		want string
		ok   bool
	}{
		{"zero", 0, "000000", true},
		{"leading zeros", 42, "000042", true},
		{"wraps at a million", 1_000_007, "000007", true},
		{"last kept", codeLimit - 1, "999999", true},
		{"first drawn again", codeLimit, "", false},
		{"largest drawn again", math.MaxUint32, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := codeOf(tt.n); got != tt.want || ok != tt.ok {
				t.Errorf("codeOf(%d) = %q, %v; want %q, %v", tt.n, got, ok, tt.want, tt.ok)
			}
		})
	}
	// Every code has exactly codeLimit/codeSpace values of n, so none is
	// likelier than another.
	if codeLimit%codeSpace != 0 || uint64(codeLimit)+codeSpace <= math.MaxUint32 {
		t.Errorf("codeLimit %d is not the largest multiple of %d in a uint32", codeLimit, codeSpace)
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c := newCode()
		if _, ok := cleanCode(c); !ok || len(c) != codeDigits {
			t.Fatalf("newCode() = %q", c)
		}
		seen[c] = true
	}
	// 200 draws of a million codes repeat with a probability of about 2%;
	// fewer than 190 distinct ones means the draw is broken.
	if len(seen) < 190 {
		t.Errorf("%d distinct codes in 200 draws", len(seen))
	}
}

func TestCleanCode(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"digits", "012345", "012345", true},
		{"spaces and dashes", " 012-345 ", "012345", true},
		{"five digits", "01234", "01234", false},
		{"seven digits", "0123456", "0123456", false},
		{"letter", "01234a", "", false},
		{"non-ASCII digit", "01234٥", "", false},
		{"empty", "", "", false},
		{"very long", "0 1 2 3 4 5 6 7 8 9 0 1 2 3", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cleanCode(tt.in)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("cleanCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestPending checks the stored form of a code: it reads back, matches
// only its code for its phone, and refuses any other encoding.
func TestPending(t *testing.T) {
	a := newEnv(t).a
	p := a.newPending(phone, "123456")
	p.attempts = 3
	b := p.encode()
	got, ok := decodePending(b)
	if !ok || *got != *p {
		t.Fatalf("decodePending(encode) = %+v, %v; want %+v", got, ok, p)
	}
	matches := []struct {
		name, phone, code string
		want              bool
	}{
		{"its code", phone, "123456", true},
		{"another code", phone, "123457", false},
		{"another phone", stranger, "123456", false},
	}
	for _, tt := range matches {
		t.Run(tt.name, func(t *testing.T) {
			if a.matches(got, tt.phone, tt.code) != tt.want {
				t.Errorf("matches = %v", !tt.want)
			}
		})
	}
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(b, 0), append([]byte{2}, b[1:]...)} {
		if _, ok := decodePending(bad); ok {
			t.Errorf("decodePending(%x) accepted", bad)
		}
	}
	if q := a.newPending(phone, "123456"); q.salt == p.salt || q.challenge == p.challenge || q.mac == p.mac {
		t.Error("two pendings of the same code share a salt, challenge or hash")
	}
}

// TestCodePurposes checks that a code is found only under the purpose it
// was sent for: a code sent for another purpose never signs in to the
// app, a sign-in code never passes another purpose's check, and a code of
// one purpose leaves the other's pending code alone.
func TestCodePurposes(t *testing.T) {
	const consent = "consent/0123abcd"
	send := func(t *testing.T, e *env, purpose string) string {
		t.Helper()
		if _, err := e.a.SendCode(t.Context(), CodeRequest{Phone: phone, Purpose: purpose}); err != nil {
			t.Fatalf("send a %s code: %v", purpose, err)
		}
		return e.outbox.lastCode(phone)
	}
	tests := []struct {
		name       string
		sentFor    string
		checkedFor string
		want       string // the message ID of CheckCode's error; "" for none
	}{
		{"a consent code checked for its purpose", consent, consent, ""},
		{"a sign-in code checked for its purpose", SignIn, SignIn, ""},
		{"a consent code cannot sign in", consent, SignIn, "error.code_expired"},
		{"a sign-in code cannot consent", SignIn, consent, "error.code_expired"},
		{"a consent code of another session", consent, "consent/ffff0000", "error.code_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			code := send(t, e, tt.sentFor)
			err := e.a.CheckCode(t.Context(), phone, tt.checkedFor, code)
			if got := errorMessage(err); got != tt.want {
				t.Errorf("CheckCode = %v, want %q", err, tt.want)
			}
		})
	}

	t.Run("over the app endpoint too", func(t *testing.T) {
		e := newEnv(t)
		code := send(t, e, consent)
		if r := e.verify(phone, code); r.status != http.StatusNotFound {
			t.Errorf("a consent code at /v1/auth/verify: %d %s", r.status, r.raw)
		}
		if err := e.a.CheckCode(t.Context(), phone, consent, code); err != nil {
			t.Errorf("the consent code after the refused sign-in: %v", err)
		}
	})

	t.Run("each purpose keeps its own pending code", func(t *testing.T) {
		e := newEnv(t)
		signIn := send(t, e, SignIn)
		other := send(t, e, consent)
		if err := e.a.CheckCode(t.Context(), phone, SignIn, signIn); err != nil {
			t.Errorf("the sign-in code after a consent code was sent: %v", err)
		}
		if err := e.a.CheckCode(t.Context(), phone, consent, other); err != nil {
			t.Errorf("the consent code: %v", err)
		}
	})
}

// errorMessage is the message ID of err; "" for nil.
func errorMessage(err error) string {
	if err == nil {
		return ""
	}
	return channels.ErrorMessage(err)
}

// TestSendCode checks what a CodeRequest shapes: the validity, the
// channel of the pending code, the text and its language, the per-client
// limit under the name given, and the refusals.
func TestSendCode(t *testing.T) {
	t.Run("validity, channel, text and language", func(t *testing.T) {
		e := newEnv(t)
		var gotLang string
		ttl, err := e.a.SendCode(t.Context(), CodeRequest{
			Phone: "0712345678", Purpose: "consent/x", Channel: channels.ChannelKiosk, Lang: "sw", TTL: 10 * time.Minute,
			Text: func(lang, code string) string { gotLang = lang; return "kiosk code " + code },
		})
		if err != nil || ttl != 10*time.Minute {
			t.Fatalf("SendCode = %v, %v", ttl, err)
		}
		s, err := e.db.Session(t.Context(), "consent/x/"+phone, now)
		if err != nil {
			t.Fatal(err)
		}
		sent := e.outbox.all()
		if len(sent) != 1 || sent[0].To != phone || !strings.HasPrefix(sent[0].Text, "kiosk code ") || gotLang != "sw" ||
			!sent[0].ExpiresAt.Equal(now.Add(10*time.Minute)) || s.Channel != channels.ChannelKiosk || !s.ExpiresAt.Equal(sent[0].ExpiresAt) {
			t.Errorf("sent %+v in %q, session %+v", sent, gotLang, s)
		}
		e.clock.Add(10*time.Minute - time.Second)
		if err := e.a.CheckCode(t.Context(), phone, "consent/x", e.outbox.lastCode(phone)); err != nil {
			t.Errorf("a second before its expiry: %v", err)
		}
	})

	t.Run("the phone's language wins over Lang", func(t *testing.T) {
		e := newEnv(t)
		if err := e.db.PutPrefs(t.Context(), phone, channels.Prefs{Lang: "fr"}); err != nil {
			t.Fatal(err)
		}
		var gotLang string
		if _, err := e.a.SendCode(t.Context(), CodeRequest{Phone: phone, Purpose: "consent/x", Lang: "sw",
			Text: func(lang, code string) string { gotLang = lang; return code }}); err != nil || gotLang != "fr" {
			t.Errorf("SendCode: %v, language %q", err, gotLang)
		}
	})

	t.Run("the per-client limit under the name given", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.PerClient = ratelimit.Limit{Every: time.Minute, Burst: 1} })
		ask := func(p, client string) error {
			_, err := e.a.SendCode(t.Context(), CodeRequest{Phone: p, Purpose: "consent/x", Client: client})
			return err
		}
		if err := ask(phone, "operator:amina"); err != nil {
			t.Fatal(err)
		}
		err := ask(stranger, "operator:amina")
		if wait, ok := RetryAfter(err); !ok || wait != time.Minute || channels.ErrorCode(err) != channels.ERATELIMITED {
			t.Errorf("the second code of one operator: %v (retry after %v, %v)", err, wait, ok)
		}
		if err := ask(stranger, "operator:baraka"); err != nil {
			t.Errorf("another operator: %v", err)
		}
		if n := len(e.outbox.all()); n != 2 {
			t.Errorf("%d SMS sent, want 2", n)
		}
	})

	refusals := []struct {
		name    string
		req     CodeRequest
		code    string
		message string
	}{
		{"invalid phone", CodeRequest{Phone: "12345", Purpose: SignIn}, channels.EINVALID, "error.phone"},
		{"opted-out phone", CodeRequest{Phone: stranger, Purpose: SignIn}, channels.EFORBIDDEN, "error.opted_out"},
		{"no purpose", CodeRequest{Phone: phone}, channels.EINTERNAL, "error.internal"},
		{"a purpose with a space", CodeRequest{Phone: phone, Purpose: "consent x"}, channels.EINTERNAL, "error.internal"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if err := e.db.PutPrefs(t.Context(), stranger, channels.Prefs{OptedOut: true}); err != nil {
				t.Fatal(err)
			}
			_, err := e.a.SendCode(t.Context(), tt.req)
			if channels.ErrorCode(err) != tt.code || channels.ErrorMessage(err) != tt.message {
				t.Errorf("SendCode = %v, want %s %s", err, tt.code, tt.message)
			}
			if n := len(e.outbox.all()); n != 0 {
				t.Errorf("%d SMS sent", n)
			}
		})
	}
}

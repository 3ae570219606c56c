package auth

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tokenAuth is an Auth that can only issue and parse tokens, signed with
// testKey as the tests' servers sign them.
func tokenAuth() *Auth { return &Auth{tokenKey: derive(testKey, tokenPurpose)} }

// issueV1 returns the token of phone valid until exp as version 1 spelt
// it, without an issue time.
func (a *Auth) issueV1(phone string, exp time.Time) string {
	b := binary.BigEndian.AppendUint64([]byte{1}, uint64(exp.Unix()))
	b = append(b, phone...)
	return tokenEncoding.EncodeToString(a.tokenTag(b, b))
}

// fuzzNow is the clock of FuzzParseToken; the seed corpus holds tokens
// valid then and tokens expired then.
var fuzzNow = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func TestTokenRoundTrip(t *testing.T) {
	a := tokenAuth()
	tests := []struct {
		name  string
		phone string
		exp   time.Time
	}{
		{"Kenyan", phone, now.Add(DefaultTokenTTL)},
		{"shortest E.164", "+1", now.Add(time.Second)},
		{"longest E.164", "+123456789012345", now.Add(100 * 365 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iat := now.Add(1234567 * time.Nanosecond)
			tok := a.issue(tt.phone, iat, tt.exp)
			if len(tok) > maxTokenLen {
				t.Errorf("token of %d bytes, over maxTokenLen %d", len(tok), maxTokenLen)
			}
			p, gotIat, exp, err := a.parseToken(tok, now)
			if err != nil || p != tt.phone || !exp.Equal(tt.exp.Truncate(time.Second)) || !gotIat.Equal(iat.Truncate(time.Microsecond)) {
				t.Errorf("parseToken = %q, %v, %v, %v", p, gotIat, exp, err)
			}
			if _, _, _, err := a.parseToken(tok, tt.exp); !errors.Is(err, errExpiredToken) {
				t.Errorf("at expiry: %v, want expired", err)
			}
			p, gotIat, _, err = a.parseToken(a.issueV1(tt.phone, tt.exp), now)
			if err != nil || p != tt.phone || !gotIat.IsZero() {
				t.Errorf("version 1: parseToken = %q, %v, %v; want the phone, no issue time", p, gotIat, err)
			}
		})
	}
	if _, _, _, err := a.parseToken(a.issue("0712345678", now, now.Add(time.Hour)), now); !errors.Is(err, errBadToken) {
		t.Errorf("a signed token of a phone that is not E.164: %v, want refused", err)
	}
	if _, _, _, err := a.parseToken(strings.Repeat("A", maxTokenLen+4), now); !errors.Is(err, errBadToken) {
		t.Errorf("an overlong token: %v", err)
	}
}

// FuzzParseToken checks the token parser on any input: it never panics,
// fails only as errBadToken or errExpiredToken, and what it accepts is a
// token this key issued, spelt the one way issue (or version 1) spells it.
func FuzzParseToken(f *testing.F) {
	a := tokenAuth()
	f.Add(a.issue(phone, fuzzNow.Add(-time.Minute), fuzzNow.Add(time.Hour)))
	f.Add(a.issue(phone, fuzzNow.Add(-2*time.Hour), fuzzNow.Add(-time.Hour)))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		p, iat, exp, err := a.parseToken(tok, fuzzNow)
		if err != nil {
			if !errors.Is(err, errBadToken) && !errors.Is(err, errExpiredToken) {
				t.Fatalf("parseToken(%q): unexpected error %v", tok, err)
			}
			if p != "" || !exp.IsZero() || !iat.IsZero() {
				t.Fatalf("parseToken(%q) failed but returned %q, %v, %v", tok, p, iat, exp)
			}
			return
		}
		if !isE164(p) || !fuzzNow.Before(exp) {
			t.Fatalf("parseToken(%q) = %q, %v", tok, p, exp)
		}
		again := a.issueV1(p, exp)
		if !iat.IsZero() {
			again = a.issue(p, iat, exp)
		}
		if again != tok {
			t.Fatalf("parseToken accepted %q, which issue spells %q", tok, again)
		}
	})
}

// TestSeedCorpus checks that the seed corpus's valid token still parses
// (so the fuzzer starts from the accepting path too) and its expired one
// is refused as expired: a change of the format or of the key derivation
// must regenerate them.
func TestSeedCorpus(t *testing.T) {
	a := tokenAuth()
	tests := []struct {
		file  string
		phone string
		err   error
	}{
		{"valid", phone, nil},
		{"expired", "", errExpiredToken},
		{"tampered_expiry", "", errBadToken},
		{"tampered_phone", "", errBadToken},
		{"tampered_signature", "", errBadToken},
		{"with_newline", "", errBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParseToken", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, quoted, _ := strings.Cut(strings.TrimSpace(string(b)), "string(")
			tok, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if p, _, _, err := a.parseToken(tok, fuzzNow); p != tt.phone || !errors.Is(err, tt.err) {
				t.Errorf("parseToken(%q) = %q, %v; want %q, %v", tok, p, err, tt.phone, tt.err)
			}
		})
	}
}

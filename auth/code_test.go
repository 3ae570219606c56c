package auth

import (
	"math"
	"testing"
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

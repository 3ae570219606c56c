package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// codeDigits is the length of a code.
const codeDigits = 6

// codeSpace is the number of codes, 10^codeDigits.
const codeSpace = 1_000_000

// newCode returns a code of codeDigits digits, every one of the codeSpace
// codes equally likely (see codeOf).
func newCode() string {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
		if code, ok := codeOf(binary.BigEndian.Uint32(b[:])); ok {
			return code
		}
	}
}

// codeLimit is the largest multiple of codeSpace a uint32 holds.
const codeLimit = (1 << 32) / codeSpace * codeSpace

// codeOf returns the code of the uniform random n, false when n is at or
// above codeLimit and must be drawn again: reducing it too would favour
// the low codes (modulo bias).
func codeOf(n uint32) (string, bool) {
	if n >= codeLimit {
		return "", false
	}
	return formatCode(n % codeSpace), true
}

// formatCode writes n as codeDigits digits, zeros first.
func formatCode(n uint32) string {
	var b [codeDigits]byte
	for i := codeDigits - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

// cleanCode returns the code a citizen typed without the spaces and dashes
// an SMS app may keep when copying it, and reports whether it is then
// codeDigits ASCII digits.
func cleanCode(s string) (string, bool) {
	if len(s) > 2*codeDigits+8 {
		return "", false
	}
	b := make([]byte, 0, codeDigits)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '-':
		default:
			return "", false
		}
	}
	return string(b), len(b) == codeDigits
}

// pending is a code waiting for its guess, as kept in the Edge of the
// Session "otp/<phone>" (whose ExpiresAt is the code's expiry):
//
//	version (1 byte, 1) || attempts (1) || challenge (16) || salt (16) || HMAC-SHA256(code key, salt || challenge || phone || code) (32)
//
// The hash binds the code to its phone and challenge, and the key makes a
// stolen store useless for recovering codes: a plain hash of six digits
// is undone by trying the million of them.
type pending struct {
	attempts  int // wrong guesses so far
	challenge [16]byte
	salt      [16]byte
	mac       [sha256.Size]byte
}

const (
	pendingVersion = 1
	pendingSize    = 1 + 1 + 16 + 16 + sha256.Size
)

// newPending returns the pending form of code for phone, with a fresh
// challenge and salt.
func (a *Auth) newPending(phone, code string) *pending {
	p := &pending{}
	_, _ = rand.Read(p.challenge[:])
	_, _ = rand.Read(p.salt[:])
	copy(p.mac[:], a.codeMAC(p, phone, code))
	return p
}

// codeMAC is the keyed hash of code for phone under p's salt and challenge.
func (a *Auth) codeMAC(p *pending, phone, code string) []byte {
	m := hmac.New(sha256.New, a.codeKey)
	m.Write(p.salt[:])
	m.Write(p.challenge[:])
	m.Write([]byte(phone))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// matches reports in constant time whether code is p's code for phone.
func (a *Auth) matches(p *pending, phone, code string) bool {
	return hmac.Equal(a.codeMAC(p, phone, code), p.mac[:])
}

// challengeID names the code in the outbox key; it says nothing of the code.
func (p *pending) challengeID() string { return hex.EncodeToString(p.challenge[:]) }

func (p *pending) encode() []byte {
	b := make([]byte, 0, pendingSize)
	b = append(b, pendingVersion, byte(min(p.attempts, 255)))
	b = append(b, p.challenge[:]...)
	b = append(b, p.salt[:]...)
	return append(b, p.mac[:]...)
}

// decodePending reads an Edge written by encode; false for any other.
func decodePending(b []byte) (*pending, bool) {
	if len(b) != pendingSize || b[0] != pendingVersion {
		return nil, false
	}
	p := &pending{attempts: int(b[1])}
	b = b[2:]
	b = b[copy(p.challenge[:], b):]
	b = b[copy(p.salt[:], b):]
	copy(p.mac[:], b)
	return p, true
}

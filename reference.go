package channels

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// ReferenceLen is the length of a case reference: nine random digits and a
// check digit. Digits only, because a feature-phone keypad types them in one
// press each and they read aloud without ambiguity.
const ReferenceLen = 10

// dammTable is the quasigroup of the Damm check-digit algorithm, which
// catches every single-digit error and every swap of adjacent digits.
var dammTable = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

func dammDigit(digits string) byte {
	var interim byte
	for i := 0; i < len(digits); i++ {
		interim = dammTable[interim][digits[i]-'0']
	}
	return interim
}

// NewReference returns a fresh random case reference. Uniqueness is the
// store's to enforce: CreateCase reports ECONFLICT on a clash.
func NewReference() string { return newChecked(ReferenceLen) }

// ParseReference normalizes what a citizen typed (spaces, dashes and dots
// are dropped) and reports whether it is a well-formed reference whose check
// digit matches.
func ParseReference(s string) (string, bool) { return parseChecked(s, ReferenceLen) }

// newChecked returns n-1 random digits and their Damm check digit. The
// first digit is never 0, so the number keeps its length when a
// spreadsheet or an agency system reads it as a number.
func newChecked(n int) string {
	low := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n-2)), nil)
	span := new(big.Int).Mul(low, big.NewInt(9))
	r, err := rand.Int(rand.Reader, span)
	if err != nil {
		panic("channels: crypto/rand failed: " + err.Error())
	}
	body := r.Add(r, low).String()
	return body + string('0'+dammDigit(body))
}

// parseChecked normalizes s (spaces, dashes and dots dropped) and reports
// whether it is n digits, not starting with 0, whose check digit matches.
func parseChecked(s string, n int) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.':
		default:
			return "", false
		}
	}
	id := b.String()
	if len(id) != n || id[0] == '0' || dammDigit(id) != 0 {
		return "", false
	}
	return id, true
}

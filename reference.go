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
func NewReference() string {
	// The first digit is never 0, so a reference keeps its length when a
	// spreadsheet or an agency system reads it as a number.
	n, err := rand.Int(rand.Reader, big.NewInt(900_000_000))
	if err != nil {
		panic("channels: crypto/rand failed: " + err.Error())
	}
	body := new(big.Int).Add(n, big.NewInt(100_000_000)).String()
	return body + string('0'+dammDigit(body))
}

// ParseReference normalizes what a citizen typed (spaces, dashes and dots
// are dropped) and reports whether it is a well-formed reference whose check
// digit matches.
func ParseReference(s string) (string, bool) {
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
	ref := b.String()
	if len(ref) != ReferenceLen || ref[0] == '0' || dammDigit(ref) != 0 {
		return "", false
	}
	return ref, true
}

// Package password hashes operators' passwords with argon2id (RFC 9106)
// and checks them, storing the parameters with each hash in the PHC string
// format ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>") so that the cost
// can be raised later without invalidating the hashes already stored.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The cost of new hashes: OWASP's recommended argon2id settings (19 MiB,
// 2 passes, 1 lane), about 30 ms on one core, so that a stolen data file
// costs an attacker that much per guess and per account.
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	saltSize  = 16
	keySize   = 32
)

// MinLength is the shortest password Hash accepts, in characters.
const MinLength = 10

// ErrTooShort is the error of a password shorter than MinLength.
var ErrTooShort = fmt.Errorf("a password needs at least %d characters", MinLength)

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of pw under a fresh random salt.
func Hash(pw string) (string, error) {
	if len([]rune(pw)) < MinLength {
		return "", ErrTooShort
	}
	salt := make([]byte, saltSize)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keySize)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes, lanes, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Check reports whether pw is the password of hash, comparing in constant
// time. A hash that is not a well-formed argon2id PHC string is an error,
// never a match.
func Check(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("password: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("password: unsupported argon2 version %q", parts[2])
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m < 8*uint32(p) || t < 1 || p < 1 || m > 1<<22 || t > 100 {
		return false, fmt.Errorf("password: bad argon2 parameters %q", parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errors.New("password: bad salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 {
		return false, errors.New("password: bad hash")
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Generate returns a random password of 16 characters from an alphabet
// without look-alikes (no 0/O, 1/l/I), for an administrator to hand over
// once: about 90 bits.
func Generate() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	return pick(alphabet, 16)
}

// pick draws n characters uniformly from alphabet.
func pick(alphabet string, n int) string {
	out := make([]byte, n)
	max := 256 - 256%len(alphabet)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf)
		if int(buf[0]) >= max {
			continue // reject to keep the draw uniform
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out)
}

package agency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/govchannels/channels"
)

// The parts of a key: "chk_" (channels key, so that a leaked key is easy to
// recognize and scan for), 16 base32 characters naming the key, "_", then
// 43 base64url characters of secret.
const (
	keyPrefix    = "chk_"
	keyIDLen     = 16
	secretBytes  = 32
	secretLen    = 43 // base64url of 32 bytes, unpadded
	plaintextLen = len(keyPrefix) + keyIDLen + 1 + secretLen
)

// idEncoding spells key IDs in lowercase base32 without padding: 10 random
// bytes make exactly 16 characters, easy to read out and safe in URLs.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKey returns a fresh key of the agency agencyID, created at now: the
// plaintext to show once, and the record to store, which holds only the
// SHA-256 of the secret. A fast hash is right here, unlike for passwords:
// the secret is 256 random bits, so no guess of it is cheaper than brute
// force of the whole space, however fast each try is.
func NewKey(agencyID string, now time.Time) (plaintext string, key channels.AgencyKey, err error) {
	var id [10]byte
	var secret [secretBytes]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", channels.AgencyKey{}, fmt.Errorf("agency key: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", channels.AgencyKey{}, fmt.Errorf("agency key: %w", err)
	}
	key = channels.AgencyKey{
		ID:        idEncoding.EncodeToString(id[:]),
		Agency:    agencyID,
		Hash:      hashSecret(secret[:]),
		CreatedAt: now.UTC(),
	}
	return keyPrefix + key.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:]), key, nil
}

// ValidKeyID reports whether id has the shape of a key ID NewKey makes.
func ValidKeyID(id string) bool {
	if len(id) != keyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if (id[i] < 'a' || id[i] > 'z') && (id[i] < '2' || id[i] > '7') {
			return false
		}
	}
	return true
}

// parseKey splits a plaintext key into its ID and secret. The secret may
// itself hold "_" (base64url), so the parts are cut by position.
func parseKey(plaintext string) (id string, secret []byte, ok bool) {
	if len(plaintext) != plaintextLen || !strings.HasPrefix(plaintext, keyPrefix) || plaintext[len(keyPrefix)+keyIDLen] != '_' {
		return "", nil, false
	}
	id = plaintext[len(keyPrefix) : len(keyPrefix)+keyIDLen]
	secret, err := base64.RawURLEncoding.Strict().DecodeString(plaintext[len(keyPrefix)+keyIDLen+1:])
	if !ValidKeyID(id) || err != nil || len(secret) != secretBytes {
		return "", nil, false
	}
	return id, secret, true
}

func hashSecret(secret []byte) []byte {
	h := sha256.Sum256(secret)
	return h[:]
}

// KeyStore reads agency keys; channels.AgencyStore is one.
type KeyStore interface {
	AgencyKey(ctx context.Context, id string) (*channels.AgencyKey, error)
}

// Authenticate returns the stored key that plaintext is, read afresh from
// keys so that a revocation holds from the next request on. A malformed,
// unknown, forged (right ID, wrong secret) or revoked key is EUNAUTHORIZED
// with error.agency_key; the detail names the key ID at most, never the
// secret. Other store failures are returned wrapped.
func Authenticate(ctx context.Context, keys KeyStore, plaintext string) (*channels.AgencyKey, error) {
	id, secret, ok := parseKey(plaintext)
	if !ok {
		return nil, channels.Errorf(channels.EUNAUTHORIZED, "error.agency_key", "malformed agency key of %d bytes", len(plaintext))
	}
	k, err := keys.AgencyKey(ctx, id)
	if channels.ErrorCode(err) == channels.ENOTFOUND {
		return nil, channels.Errorf(channels.EUNAUTHORIZED, "error.agency_key", "unknown agency key %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read agency key %s: %w", id, err)
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), k.Hash) != 1 {
		return nil, channels.Errorf(channels.EUNAUTHORIZED, "error.agency_key", "wrong secret for agency key %s", id)
	}
	if k.Revoked() {
		return nil, channels.Errorf(channels.EUNAUTHORIZED, "error.agency_key", "agency key %s was revoked at %s", id, k.RevokedAt.Format(time.RFC3339))
	}
	return k, nil
}

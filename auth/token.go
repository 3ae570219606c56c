package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/govchannels/channels"
)

// tokenVersion is the first byte of the payload of the tokens issued; a
// new format gets a new version, and tokens of an unknown version are
// refused. Version 1 tokens, which carry no issue time, are still read:
// any sign-out of their phone voids them.
const tokenVersion = 2

// The bounds of a token: version, expiry, issue time (since version 2),
// an E.164 phone ("+" and at most 15 digits), tag.
const (
	minPayload  = 1 + 8 + 2
	maxPayload  = 1 + 8 + 8 + 16
	maxTokenLen = ((maxPayload+sha256.Size)*8 + 5) / 6 // base64 of the longest token, no padding
)

var (
	errBadToken       = errors.New("malformed or forged token")
	errExpiredToken   = errors.New("expired token")
	errSignedOutToken = errors.New("token issued before its phone signed out")
)

// tokenEncoding is base64url without padding, refusing encodings whose
// unused bits are not zero, so that each token has one spelling.
var tokenEncoding = base64.RawURLEncoding.Strict()

// issue returns the token of phone issued at iat (to the microsecond),
// valid until exp (to the second).
func (a *Auth) issue(phone string, iat, exp time.Time) string {
	b := make([]byte, 0, 1+8+8+len(phone)+sha256.Size)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(exp.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(iat.UnixMicro()))
	b = append(b, phone...)
	return tokenEncoding.EncodeToString(a.tokenTag(b, b))
}

// tokenTag appends to dst the tag of payload.
func (a *Auth) tokenTag(dst, payload []byte) []byte {
	m := hmac.New(sha256.New, a.tokenKey)
	m.Write(payload)
	return m.Sum(dst)
}

// parseToken returns the phone of tok, when it was issued (the zero time
// for a version 1 token) and its expiry when the token was signed with
// this key and has not expired at now: errBadToken for anything else than
// a token of ours (checked first, in constant time), errExpiredToken for
// one of ours past its expiry.
func (a *Auth) parseToken(tok string, now time.Time) (phone string, iat, exp time.Time, err error) {
	// The decoder skips '\r' and '\n'; refusing every byte outside the
	// alphabet keeps one spelling per token.
	if len(tok) > maxTokenLen {
		return "", time.Time{}, time.Time{}, errBadToken
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", time.Time{}, time.Time{}, errBadToken
		}
	}
	b, err := tokenEncoding.DecodeString(tok)
	if err != nil || len(b) < minPayload+sha256.Size {
		return "", time.Time{}, time.Time{}, errBadToken
	}
	payload, tag := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if !hmac.Equal(a.tokenTag(nil, payload), tag) {
		return "", time.Time{}, time.Time{}, errBadToken
	}
	// Signed by us: the rest is as issue wrote it, unless the format
	// changed, which the version tells.
	rest := payload[9:]
	switch {
	case payload[0] == 1:
	case payload[0] == tokenVersion && len(rest) > 8:
		iat, rest = time.UnixMicro(int64(binary.BigEndian.Uint64(rest))), rest[8:]
	default:
		return "", time.Time{}, time.Time{}, errBadToken
	}
	if len(payload) > maxPayload || !isE164(string(rest)) {
		return "", time.Time{}, time.Time{}, errBadToken
	}
	secs := binary.BigEndian.Uint64(payload[1:9])
	if secs > 1<<62 {
		return "", time.Time{}, time.Time{}, errBadToken
	}
	exp = time.Unix(int64(secs), 0)
	if !now.Before(exp) {
		return "", time.Time{}, time.Time{}, errExpiredToken
	}
	return string(rest), iat, exp, nil
}

// checkToken returns the phone of tok when parseToken accepts it and its
// phone has not signed out since it was issued: errSignedOutToken for a
// token issued at or before the phone's latest sign-out, and any error of
// the store.
func (a *Auth) checkToken(ctx context.Context, tok string, now time.Time) (string, error) {
	phone, iat, _, err := a.parseToken(tok, now)
	if err != nil {
		return "", err
	}
	out, err := a.cfg.SignOuts.SignedOut(ctx, phone)
	if err != nil {
		return "", fmt.Errorf("read the sign-out of %s: %w", channels.MaskPhone(phone), err)
	}
	if !out.IsZero() && !iat.After(out) {
		return "", errSignedOutToken
	}
	return phone, nil
}

// isE164 reports whether p has the shape of an E.164 number: "+" and 1 to
// 15 digits, the first not 0.
func isE164(p string) bool {
	if len(p) < 2 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of every webhook request besides Content-Type.
const (
	// HeaderID carries the event's ID, the same on every attempt.
	HeaderID = "Channels-Webhook-Id"
	// HeaderTimestamp carries the Unix time of the attempt, in seconds,
	// as decimal digits; it is part of the signed content.
	HeaderTimestamp = "Channels-Webhook-Timestamp"
	// HeaderSignature carries "v1=" and the hex HMAC-SHA256, keyed with
	// the agency's secret, of the timestamp, a ".", and the raw body.
	// Several signatures may be sent, separated by commas.
	HeaderSignature = "Channels-Webhook-Signature"
)

// DefaultTolerance is how far a timestamp may be from the receiver's clock
// when Verify is given no tolerance: enough for clock skew and a slow
// network, short enough that a captured request cannot be replayed later.
const DefaultTolerance = 5 * time.Minute

// The errors of Verify, wrapped with detail; test with errors.Is.
var (
	// ErrMalformed: a header is missing or not in the documented form, or
	// the secret is empty.
	ErrMalformed = errors.New("webhook: malformed signature")
	// ErrStale: the timestamp is further from now than the tolerance,
	// in the past (a replay) or in the future.
	ErrStale = errors.New("webhook: timestamp outside the tolerance")
	// ErrMismatch: no v1 signature is the HMAC of this timestamp and body
	// under the secret.
	ErrMismatch = errors.New("webhook: signature mismatch")
)

// Sign returns the value of the Channels-Webhook-Signature header for body
// sent at timestamp (the Channels-Webhook-Timestamp header, as sent):
// "v1=" and the hex HMAC-SHA256 of timestamp + "." + body keyed with
// secret. Receivers' tests can use it to sign sample deliveries.
func Sign(secret []byte, timestamp string, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery as its receiver: timestamp and signature are
// the values of the Channels-Webhook-Timestamp and -Signature headers and
// body the raw request body, before any JSON decoding. It returns nil when
// the timestamp is within tolerance of now (DefaultTolerance when
// tolerance is not positive) and one of the signature's comma-separated
// "v1=" values is the HMAC of timestamp + "." + body under secret; values
// of other schemes are ignored, so that a new scheme can be added beside
// v1. The comparison takes the same time wherever the values differ.
//
// To accept both the old and the new secret while one is being rotated,
// call Verify with each.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", ErrMalformed)
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %s from now, more than %s", ErrStale, timestamp, skew.Abs().Round(time.Second), tolerance)
	}
	want := mac(secret, timestamp, body)
	found := false
	for part := range strings.SplitSeq(signature, ",") {
		scheme, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || scheme != "v1" {
			continue
		}
		found = true
		got, err := hex.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return fmt.Errorf("%w: no v1= value in the signature header", ErrMalformed)
	}
	return ErrMismatch
}

// parseTimestamp reads Unix seconds written as 1 to 18 decimal digits,
// nothing else: no sign, no spaces, no fraction.
func parseTimestamp(s string) (int64, error) {
	if len(s) == 0 || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrMalformed, s)
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: timestamp %q: %v", ErrMalformed, s, err)
	}
	return ts, nil
}

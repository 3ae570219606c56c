package webhook

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerify checks Verify against signatures computed by openssl, not by
// Sign: fresh and stale timestamps, wrong secrets, tampering with the body
// or the timestamp, lists of signatures and malformed headers.
func TestVerify(t *testing.T) {
	secret := []byte("current-secret")
	oldSecret := []byte("previous-secret")
	body := []byte(`{"id":"evt_42_1234567897","type":"case.status_changed"}`)
	now := time.Unix(1740906900, 0)
	// sig is the openssl signature of body sent at now+offset, and ts
	// that timestamp.
	ts := func(offset time.Duration) string { return strconv.FormatInt(now.Add(offset).Unix(), 10) }
	sig := func(key []byte, offset time.Duration, body []byte) string {
		return "v1=" + externalHMAC(t, key, []byte(ts(offset)+"."+string(body)))
	}
	good := sig(secret, 0, body)

	tests := []struct {
		name      string
		secret    []byte
		timestamp string
		signature string
		body      []byte
		tolerance time.Duration
		want      error // nil: accepted
	}{
		{"good", secret, ts(0), good, body, time.Minute, nil},
		{"a little late", secret, ts(-59 * time.Second), sig(secret, -59*time.Second, body), body, time.Minute, nil},
		{"at the edge of the tolerance", secret, ts(-time.Minute), sig(secret, -time.Minute, body), body, time.Minute, nil},
		{"default tolerance when zero", secret, ts(-4 * time.Minute), sig(secret, -4*time.Minute, body), body, 0, nil},
		{"stale", secret, ts(-61 * time.Second), sig(secret, -61*time.Second, body), body, time.Minute, ErrStale},
		{"stale under the default tolerance", secret, ts(-6 * time.Minute), sig(secret, -6*time.Minute, body), body, 0, ErrStale},
		{"future", secret, ts(61 * time.Second), sig(secret, 61*time.Second, body), body, time.Minute, ErrStale},
		{"replayed a day later", secret, ts(-24 * time.Hour), sig(secret, -24*time.Hour, body), body, time.Minute, ErrStale},
		{"wrong secret", secret, ts(0), sig([]byte("someone-else"), 0, body), body, time.Minute, ErrMismatch},
		{"body tampered", secret, ts(0), good, append([]byte(nil), strings.Replace(string(body), "42", "43", 1)...), time.Minute, ErrMismatch},
		{"body with a trailing newline", secret, ts(0), good, append(append([]byte(nil), body...), '\n'), time.Minute, ErrMismatch},
		{"timestamp tampered", secret, ts(time.Second), good, body, time.Minute, ErrMismatch},
		{"rotated: old then new", secret, ts(0), sig(oldSecret, 0, body) + "," + good, body, time.Minute, nil},
		{"rotated: new then old, with a space", secret, ts(0), good + ", " + sig(oldSecret, 0, body), body, time.Minute, nil},
		{"old secret only", secret, ts(0), sig(oldSecret, 0, body), body, time.Minute, ErrMismatch},
		{"another scheme beside v1", secret, ts(0), "v2=" + strings.Repeat("ab", 32) + "," + good, body, time.Minute, nil},
		{"another scheme only", secret, ts(0), "v2" + strings.TrimPrefix(good, "v1"), body, time.Minute, ErrMalformed},
		{"sha256= instead of v1=", secret, ts(0), "sha256" + strings.TrimPrefix(good, "v1"), body, time.Minute, ErrMalformed},
		{"no signature", secret, ts(0), "", body, time.Minute, ErrMalformed},
		{"bare hex", secret, ts(0), strings.TrimPrefix(good, "v1="), body, time.Minute, ErrMalformed},
		{"v1 without a value", secret, ts(0), "v1", body, time.Minute, ErrMalformed},
		{"v1 not hex", secret, ts(0), "v1=not-hex", body, time.Minute, ErrMismatch},
		{"v1 truncated", secret, ts(0), good[:40], body, time.Minute, ErrMismatch},
		{"no timestamp", secret, "", good, body, time.Minute, ErrMalformed},
		{"timestamp not a number", secret, "yesterday", good, body, time.Minute, ErrMalformed},
		{"negative timestamp", secret, "-" + ts(0), good, body, time.Minute, ErrMalformed},
		{"timestamp with a fraction", secret, ts(0) + ".5", good, body, time.Minute, ErrMalformed},
		{"timestamp with a space", secret, " " + ts(0), good, body, time.Minute, ErrMalformed},
		{"timestamp out of range", secret, strings.Repeat("9", 30), good, body, time.Minute, ErrMalformed},
		{"empty secret", nil, ts(0), good, body, time.Minute, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.timestamp, tt.signature, tt.body, now, tt.tolerance)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("Verify = %v; want it accepted", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("Verify = %v; want %v", err, tt.want)
			}
		})
	}
}

// TestSignMatchesOpenSSL checks the one function both sides rely on
// against an independent implementation, including a binary secret.
func TestSignMatchesOpenSSL(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		ts     string
		body   []byte
	}{
		{"printable secret", []byte("printable secret"), "1740906900", []byte(`{"id":"evt_1_1234567897"}`)},
		{"binary secret", []byte{0, 1, 2, 0xff, '.', '\n'}, "1", []byte("{}")},
		{"empty body", []byte("k"), "1740906900", nil},
		{"unicode body", []byte("k"), "1740906900", []byte(`{"value":"Émilie тест 😀"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := "v1=" + externalHMAC(t, tt.secret, append([]byte(tt.ts+"."), tt.body...))
			if got := Sign(tt.secret, tt.ts, tt.body); got != want {
				t.Errorf("Sign = %s; openssl says %s", got, want)
			}
		})
	}
}

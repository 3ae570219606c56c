package webhook_test

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/govchannels/channels/webhook"
)

// An agency's receiver in Go, as docs/webhooks.md shows it: verify the raw
// body before anything else, then acknowledge with a 2xx.
func ExampleVerify() {
	// The secret as `channels agency` prints it: hex, which decodes to the key.
	secret, err := hex.DecodeString("8d5f0c3e1a9b7d2f4e6a8c0b1d3f5e7a9c1b3d5f7e9a0c2b4d6f8e0a1c3b5d7f")
	if err != nil {
		panic(err)
	}
	handle := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		err = webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp),
			r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// Decode the body and record its "id" (signed, unlike the
		// webhook.HeaderID header) and the event in one transaction,
		// skipping an ID already recorded; then:
		w.WriteHeader(http.StatusNoContent)
	}

	// A request signed as the Sender signs it, and the same one tampered with.
	body := `{"id":"evt_42_1234567897","type":"case.status_changed"}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	for _, got := range []string{body, strings.Replace(body, "42", "43", 1)} {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(got))
		r.Header.Set(webhook.HeaderTimestamp, ts)
		r.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, []byte(body)))
		w := httptest.NewRecorder()
		handle(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// 204
	// 401
}

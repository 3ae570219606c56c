package agencycall

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/govchannels/channels/webhook"
)

// Limits an agency applies to the calls it receives (docs/agency-calls.md).
const (
	// MaxRequestBody is the largest request body an agency need take.
	MaxRequestBody = 64 << 10
	// SignatureTolerance is how far a call's signed timestamp may be from
	// the agency's clock.
	SignatureTolerance = 5 * time.Minute
)

// Refusal is why a received call is refused, with the HTTP status the
// contract answers it with.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d: %s", r.Status, r.Reason) }

func refused(status int, format string, args ...any) *Refusal {
	return &Refusal{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// Receive reads and checks one call to operation as an agency must before
// acting on it: a POST (405) of JSON (415), a body of at most
// MaxRequestBody bytes (413), signed with secret within SignatureTolerance
// of now (401), read strictly by ParseRequest with every field of the
// contract present, for this operation, and carrying its id in the
// Idempotency-Key and webhook ID headers (400). The demo agency and the
// test agencies use it; an error is always a *Refusal.
func Receive(w http.ResponseWriter, r *http.Request, secret []byte, operation string, now time.Time) (Request, error) {
	if r.Method != http.MethodPost {
		return Request{}, refused(http.StatusMethodNotAllowed, "method %s; calls are POST", r.Method)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return Request{}, refused(http.StatusUnsupportedMediaType, "Content-Type %q; calls are application/json", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return Request{}, refused(http.StatusRequestEntityTooLarge, "body over %d bytes", MaxRequestBody)
	case err != nil:
		return Request{}, refused(http.StatusBadRequest, "read the body: %v", err)
	}
	if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, now, SignatureTolerance); err != nil {
		return Request{}, refused(http.StatusUnauthorized, "%v", err)
	}
	req, err := ParseRequest(body)
	if err != nil {
		return Request{}, refused(http.StatusBadRequest, "%v", err)
	}
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"id", req.ID != ""}, {"operation", req.Operation != ""}, {"service", req.Service != ""},
		{"citizen.channel", req.Citizen.Channel != ""}, {"citizen.lang", req.Citizen.Lang != ""},
		{"sent_at", !req.SentAt.IsZero()},
	} {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Request{}, refused(http.StatusBadRequest, "body: missing %s", strings.Join(missing, ", "))
	}
	if req.Operation != operation {
		return Request{}, refused(http.StatusBadRequest, "body operation %q is not the path's %q", req.Operation, operation)
	}
	if key := r.Header.Get(HeaderIdempotencyKey); key != req.ID {
		return Request{}, refused(http.StatusBadRequest, "%s %q is not the body's id %q", HeaderIdempotencyKey, key, req.ID)
	}
	if id := r.Header.Get(webhook.HeaderID); id != req.ID {
		return Request{}, refused(http.StatusBadRequest, "%s %q is not the body's id %q", webhook.HeaderID, id, req.ID)
	}
	return req, nil
}

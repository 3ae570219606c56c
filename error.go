package channels

import (
	"errors"
	"fmt"
)

// Error codes. They are stable: the app API returns them to clients and the
// HTTP edges map them to statuses.
const (
	EINVALID   = "invalid"   // the input or request is malformed
	ENOTFOUND  = "not_found" // the thing asked for does not exist (or expired)
	ECONFLICT  = "conflict"  // the request clashes with existing state
	ETOOLARGE  = "too_large" // the request body is over its limit
	EINTERNAL  = "internal"  // something failed on our side
	EFORBIDDEN = "forbidden" // the caller may not do this
	// EUNAUTHORIZED: the caller is not signed in (or no longer): sign in
	// again. Distinct from EFORBIDDEN, which signing in would not change.
	EUNAUTHORIZED = "unauthorized"
	// ERATELIMITED: too many requests; retry later (the HTTP edges say
	// when, in Retry-After).
	ERATELIMITED = "rate_limited"
	// EUNAVAILABLE: something the request needs is not there now (no SMS
	// gateway is configured, say); retrying later may work.
	EUNAVAILABLE = "unavailable"
)

// Error is an error that carries a stable code and a message ID. The message
// ID is what a citizen sees once localized; it never holds internal detail.
type Error struct {
	Code    string
	Message string // a message ID in the locales, e.g. "error.session_unknown"
	Detail  string // for logs only; never shown to a citizen
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and message ID; the formatted
// detail is kept for logs.
func Errorf(code, messageID, format string, args ...any) *Error {
	return &Error{Code: code, Message: messageID, Detail: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message ID of the first *Error in err's chain, or
// "error.internal" for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "error.internal"
}

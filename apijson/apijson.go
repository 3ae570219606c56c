// Package apijson holds the app API's JSON conventions, shared by package
// app and the sign-in endpoints of package auth: request bodies are exactly
// one JSON object with no unknown field, and every error is answered as
// {"error": {"code", "message"}}, the code stable and the message
// localized.
package apijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
)

// ErrorBody is the JSON of every error the API answers. Code is one of the
// stable codes of package channels; Message is localized for the citizen
// and never carries internal detail. Fields is set on 422 only: for each
// refused field of a whole form, why in the citizen's language.
type ErrorBody struct {
	Error  ErrorDetail       `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// ErrorDetail is the code and message of an ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statuses maps the stable error codes to HTTP statuses.
var statuses = map[string]int{
	channels.EINVALID:      http.StatusBadRequest,
	channels.EUNAUTHORIZED: http.StatusUnauthorized,
	channels.EFORBIDDEN:    http.StatusForbidden,
	channels.ENOTFOUND:     http.StatusNotFound,
	channels.ECONFLICT:     http.StatusConflict,
	channels.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	channels.ERATELIMITED:  http.StatusTooManyRequests,
	channels.EINTERNAL:     http.StatusInternalServerError,
	channels.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// Decode decodes body as exactly one JSON object into v. Unknown fields
// and trailing data are refused, so a misspelt field is an error the app's
// developer sees at once rather than a silently ignored answer.
func Decode(body []byte, v any) error {
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "json: body is not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "json: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "json: data after the object")
	}
	return nil
}

// ReadBody reads the request body, at most max bytes: a longer body is
// ETOOLARGE, so that no client can make the server buffer more. A request
// without a body reads as empty.
func ReadBody(c *gin.Context, max int64) ([]byte, error) {
	if c.Request.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, max))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, channels.Errorf(channels.ETOOLARGE, "error.too_large", "body over %d bytes", tooLarge.Limit)
	}
	if err != nil {
		return nil, channels.Errorf(channels.EINVALID, "error.bad_request", "read body: %v", err)
	}
	return body, nil
}

// DecodeBody reads the request body, at most max bytes (ReadBody), as
// exactly one JSON object into v (Decode).
func DecodeBody(c *gin.Context, max int64, v any) error {
	body, err := ReadBody(c, max)
	if err != nil {
		return err
	}
	return Decode(body, v)
}

// WriteError answers err with its code's status and its message in lang.
// An error without a known code is internal: it is logged with its detail,
// which the client never sees, and answered with a generic message.
func WriteError(c *gin.Context, b *locales.Bundle, lang string, log *slog.Logger, err error) {
	code := channels.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		code, status = channels.EINTERNAL, http.StatusInternalServerError
	}
	msg := channels.ErrorMessage(err)
	if code == channels.EINTERNAL {
		msg = "error.internal"
		log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", c.FullPath(), "id", c.Param("id"), "err", err)
	}
	if msg == "error.unavailable" {
		// The store cannot answer just now (a database restarting, a
		// full disk): tell the app when trying again is worth it.
		c.Header("Retry-After", strconv.Itoa(retryAfter))
	}
	c.JSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: b.Text(lang, channels.Msg(msg))}})
}

// retryAfter is the seconds a 503 for an outage asks the app to wait.
const retryAfter = 30

package app

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// statuses maps the stable error codes to HTTP statuses.
var statuses = map[string]int{
	channels.EINVALID:     http.StatusBadRequest,
	channels.ENOTFOUND:    http.StatusNotFound,
	channels.ECONFLICT:    http.StatusConflict,
	channels.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	channels.EFORBIDDEN:   http.StatusForbidden,
	channels.EINTERNAL:    http.StatusInternalServerError,
	channels.EUNAVAILABLE: http.StatusServiceUnavailable,
}

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

// formError is a whole form refused field by field: 422 with the fields.
type formError struct {
	service string
	fields  []flows.FieldError
}

func (e *formError) Error() string {
	return "form for " + e.service + " refused: " + e.fields[0].Field + " is " + e.fields[0].Message.ID
}

// renderErrors is the middleware that answers the last error a handler
// recorded: its code and localized message, in the language of the request
// when the handler got as far as choosing it. Internal errors are logged
// with their detail, which the client never sees.
func (a *API) renderErrors(c *gin.Context) {
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	lang := c.GetString(langKey)
	if lang == "" {
		lang = a.cfg.Bundle.Match(c.GetHeader("Accept-Language"))
	}

	var fe *formError
	if errors.As(err, &fe) {
		body := ErrorBody{
			Error:  ErrorDetail{Code: channels.EINVALID, Message: a.cfg.Bundle.Text(lang, channels.Msg("error.form"))},
			Fields: make(map[string]string, len(fe.fields)),
		}
		for _, f := range fe.fields {
			body.Fields[f.Field] = a.cfg.Bundle.Text(lang, f.Message)
		}
		c.JSON(http.StatusUnprocessableEntity, body)
		return
	}

	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = channels.Errorf(channels.ETOOLARGE, "error.too_large", "body over %d bytes: %v", tooLarge.Limit, err)
	}
	code := channels.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		code, status = channels.EINTERNAL, http.StatusInternalServerError
	}
	msg := channels.ErrorMessage(err)
	if code == channels.EINTERNAL {
		msg = "error.internal"
		a.log.ErrorContext(c.Request.Context(), "app: request failed",
			"method", c.Request.Method, "route", c.FullPath(), "id", c.Param("id"), "err", err)
	}
	c.JSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: a.cfg.Bundle.Text(lang, channels.Msg(msg))}})
}

package app

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/flows"
)

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
// with their detail, which the client never sees. Until a handler chooses
// the language, Content-Language is the match of Accept-Language, the
// language of a refusal the sign-in middleware answers itself.
func (a *API) renderErrors(c *gin.Context) {
	c.Header("Content-Language", a.cfg.Bundle.Match(c.GetHeader("Accept-Language")))
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	lang := c.GetString(langKey)
	if lang == "" {
		lang = a.cfg.Bundle.Match(c.GetHeader("Accept-Language"))
		setLang(c, lang)
	}

	var fe *formError
	if errors.As(err, &fe) {
		body := apijson.ErrorBody{
			Error:  apijson.ErrorDetail{Code: channels.EINVALID, Message: a.cfg.Bundle.Text(lang, channels.Msg("error.form"))},
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
	apijson.WriteError(c, a.cfg.Bundle, lang, a.log, err)
}

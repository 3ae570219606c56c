// Package app is the mobile-app JSON API, versioned under /v1: the same
// services, screens, validation and texts as every other channel, as JSON a
// native app renders with its own widgets.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// Config wires an API.
type Config struct {
	Engine     *flows.Engine
	Host       flows.Host
	Store      channels.Store
	Bundle     *locales.Bundle
	Log        *slog.Logger
	Region     string           // default country of national phone numbers
	SessionTTL time.Duration    // an app session lives this long after its last request; 30 min when 0
	MaxBody    int64            // request body limit; 64 KiB when 0
	Now        func() time.Time // time.Now when nil
}

// API serves the app endpoints.
type API struct {
	cfg Config
}

// New returns the API for cfg.
func New(cfg Config) *API {
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg}
}

// Register mounts the endpoints on r.
func (a *API) Register(r gin.IRouter) {
	v1 := r.Group("/v1")
	v1.GET("/openapi.json", a.openAPI)
	v1.GET("/services", a.listServices)
	v1.POST("/sessions", a.startSession)
	v1.GET("/sessions/:id", a.getSession)
	v1.POST("/sessions/:id/input", a.postInput)
	v1.POST("/services/:id/submissions", a.submit)
	v1.GET("/cases/:ref", a.getCase)
}

// status maps error codes to HTTP statuses.
var status = map[string]int{
	channels.EINVALID:   http.StatusBadRequest,
	channels.ENOTFOUND:  http.StatusNotFound,
	channels.ECONFLICT:  http.StatusConflict,
	channels.ETOOLARGE:  http.StatusRequestEntityTooLarge,
	channels.EFORBIDDEN: http.StatusForbidden,
	channels.EINTERNAL:  http.StatusInternalServerError,
}

// errorBody is every error the API returns.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// fail answers err as JSON: its stable code and its localized message, never
// its internal detail (which is logged for internal errors).
func (a *API) fail(c *gin.Context, lang string, err error) {
	code := channels.ErrorCode(err)
	if code == channels.EINTERNAL {
		a.cfg.Log.Error("app request failed", "path", c.FullPath(), "err", err)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = a.cfg.Bundle.Text(lang, channels.Msg(channels.ErrorMessage(err)))
	c.AbortWithStatusJSON(status[code], body)
}

// lang picks the language of a request: the explicit choice when supported,
// else the phone's remembered one, else Accept-Language, else the default.
func (a *API) lang(c *gin.Context, explicit, phone string) string {
	if explicit != "" && a.cfg.Bundle.Supports(explicit) {
		return explicit
	}
	if q := c.Query("lang"); q != "" && a.cfg.Bundle.Supports(q) {
		return q
	}
	if phone != "" {
		if p, err := a.cfg.Store.Prefs(c.Request.Context(), phone); err == nil && p.Lang != "" {
			return p.Lang
		}
	}
	return a.cfg.Bundle.Match(c.GetHeader("Accept-Language"))
}

// decode reads a JSON body of at most MaxBody bytes into v.
func (a *API) decode(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, a.cfg.MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return channels.Errorf(channels.ETOOLARGE, "error.too_large", "body over %d bytes", a.cfg.MaxBody)
	}
	if err != nil {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "read body: %v", err)
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes one JSON object strictly: unknown fields and trailing
// data are errors, so a typo in a field name is caught.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "json: %v", err)
	}
	if dec.More() {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "json: trailing data")
	}
	return nil
}

// phone normalizes a phone number from a request.
func (a *API) phone(raw string) (string, error) {
	p, ok := flows.NormalizePhone(raw, a.cfg.Region)
	if !ok {
		return "", channels.Errorf(channels.EINVALID, "error.phone", "phone of %d bytes", len(raw))
	}
	return p, nil
}

func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("app: crypto/rand: %v", err))
	}
	return hex.EncodeToString(b[:])
}

func sessionKey(id string) string { return "app/" + id }

// settle runs the engine's calls and logs a failed one the citizen is
// shown a retry for.
func (a *API) settle(ctx context.Context, phone, key string, res flows.Result) (flows.Result, error) {
	res, err := a.cfg.Engine.Settle(ctx, a.cfg.Host, phone, key, res)
	var ce *flows.CallError
	if errors.As(err, &ce) {
		a.cfg.Log.Error("app call failed; citizen shown a retry", "session", key, "err", err)
		return res, nil
	}
	return res, err
}

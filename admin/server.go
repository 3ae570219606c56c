package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
)

// maxBody bounds a request to the admin socket: an ID, a name, a URL.
const maxBody = 16 << 10

// The admin socket's endpoints, all JSON:
//
//	GET  /v1/agencies                 → [AgencyInfo]
//	POST /v1/agencies                 {"id", "name", "webhook_url", "api_url"} → 201 NewAgency
//	POST /v1/agencies/{id}/keys       → 201 NewKey
//	POST /v1/keys/{id}/revoke         → Key
//	PUT  /v1/agencies/{id}/webhook    {"url", "rotate_secret"} → Webhook
//	PUT  /v1/agencies/{id}/api-url    {"url"} → APIURL
//	GET  /v1/operators                → [OperatorInfo]
//	POST /v1/operators                {"id", "name", "kiosk", "region", "lang"} → 201 OperatorPassword
//	POST /v1/operators/{id}/disable   → OperatorInfo
//	POST /v1/operators/{id}/enable    → OperatorInfo
//	POST /v1/operators/{id}/reset-password → OperatorPassword
//	GET  /v1/audit?actor=&citizen=&action=&since=&until=&after=&limit= → [channels.AuditEntry]
//	GET  /v1/audit/verify             → {"entries", "problem"}
//	GET  /v1/outbox/failed?kind=&after=&limit= → [FailedMessage]
//	POST /v1/outbox/retry             {"key"} → FailedMessage
//
// Nothing writes to the audit log but the operations it records: any other
// method on /v1/audit is 405, any other path under it 404.
//
// An error is {"error": {"code", "message", "detail"}}. Unlike the public
// APIs, the detail is sent: only the server's own Unix user can connect
// (mode 0600), and the operator needs to read what was wrong ("agency
// civil_registry exists already") exactly as the direct path prints it.
type (
	addAgencyRequest struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		WebhookURL string `json:"webhook_url"`
		APIURL     string `json:"api_url"`
	}
	apiURLRequest struct {
		URL string `json:"url"`
	}
	webhookRequest struct {
		URL          string `json:"url"`
		RotateSecret bool   `json:"rotate_secret"`
	}
	errorBody struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Detail  string `json:"detail,omitempty"`
		} `json:"error"`
	}
)

// statuses maps the error codes the operations return to HTTP statuses.
var statuses = map[string]int{
	channels.EINVALID:  http.StatusBadRequest,
	channels.ENOTFOUND: http.StatusNotFound,
	channels.ECONFLICT: http.StatusConflict,
	channels.ETOOLARGE: http.StatusRequestEntityTooLarge,
}

// Server serves the operations of an *Admin as JSON, for the admin socket
// of a running server (see Listen). It is an http.Handler.
type Server struct {
	ops *Admin
	log *slog.Logger
	mux *http.ServeMux
}

// NewServer returns the handler of the admin socket over ops. Every
// operation is logged (IDs only: never a key or a secret).
func NewServer(ops *Admin, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ops: ops, log: log.With("edge", "admin"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/agencies", s.handle(s.list))
	s.mux.HandleFunc("POST /v1/agencies", s.handle(s.addAgency))
	s.mux.HandleFunc("POST /v1/agencies/{id}/keys", s.handle(s.addKey))
	s.mux.HandleFunc("POST /v1/keys/{id}/revoke", s.handle(s.revoke))
	s.mux.HandleFunc("PUT /v1/agencies/{id}/webhook", s.handle(s.webhook))
	s.mux.HandleFunc("PUT /v1/agencies/{id}/api-url", s.handle(s.apiURL))
	s.mux.HandleFunc("GET /v1/operators", s.handle(s.listOperators))
	s.mux.HandleFunc("POST /v1/operators", s.handle(s.addOperator))
	s.mux.HandleFunc("POST /v1/operators/{id}/disable", s.handle(s.disableOperator))
	s.mux.HandleFunc("POST /v1/operators/{id}/enable", s.handle(s.enableOperator))
	s.mux.HandleFunc("POST /v1/operators/{id}/reset-password", s.handle(s.resetPassword))
	s.mux.HandleFunc("GET /v1/audit", s.handle(s.auditEntries))
	s.mux.HandleFunc("GET /v1/audit/verify", s.handle(s.verifyAudit))
	s.mux.HandleFunc("GET /v1/outbox/failed", s.handle(s.failedMessages))
	s.mux.HandleFunc("POST /v1/outbox/retry", s.handle(s.retryMessage))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle adapts an operation to net/http: its result is the JSON answer
// with status, its error the JSON error.
func (s *Server) handle(op func(r *http.Request) (status int, v any, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		status, v, err := op(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, status, v)
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	body.Error.Code = channels.ErrorCode(err)
	body.Error.Message = channels.ErrorMessage(err)
	status, ok := statuses[body.Error.Code]
	if !ok {
		body.Error.Code, status = channels.EINTERNAL, http.StatusInternalServerError
		s.log.ErrorContext(r.Context(), "admin: operation failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body.Error.Detail = Describe(err)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads the request body as exactly one JSON object into v.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return channels.Errorf(channels.ETOOLARGE, "error.too_large", "request over %d bytes", tooLarge.Limit)
	}
	if err != nil {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "read request: %v", err)
	}
	return apijson.Decode(body, v)
}

func (s *Server) list(r *http.Request) (int, any, error) {
	out, err := s.ops.ListAgencies(r.Context())
	return http.StatusOK, out, err
}

func (s *Server) addAgency(r *http.Request) (int, any, error) {
	var req addAgencyRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	out, err := s.ops.AddAgency(r.Context(), req.ID, req.Name, req.WebhookURL, req.APIURL)
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: agency added", "agency", out.Agency.ID, "key", out.Key.ID, "webhook", webhookHost(out.Agency.WebhookURL), "api", webhookHost(out.Agency.APIURL))
	return http.StatusCreated, out, nil
}

func (s *Server) addKey(r *http.Request) (int, any, error) {
	out, err := s.ops.AddKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: key added", "agency", out.Agency, "key", out.ID)
	return http.StatusCreated, out, nil
}

func (s *Server) revoke(r *http.Request) (int, any, error) {
	out, err := s.ops.RevokeKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: key revoked", "agency", out.Agency, "key", out.ID)
	return http.StatusOK, out, nil
}

func (s *Server) webhook(r *http.Request) (int, any, error) {
	var req webhookRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	out, err := s.ops.SetWebhook(r.Context(), r.PathValue("id"), req.URL, req.RotateSecret)
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: webhook set", "agency", out.Agency, "webhook", webhookHost(out.URL), "new_secret", out.Secret != "")
	return http.StatusOK, out, nil
}

func (s *Server) apiURL(r *http.Request) (int, any, error) {
	var req apiURLRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	out, err := s.ops.SetAPIURL(r.Context(), r.PathValue("id"), req.URL)
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: API URL set", "agency", out.Agency, "api", webhookHost(out.URL), "new_secret", out.Secret != "")
	return http.StatusOK, out, nil
}

// webhookHost is what a log line shows of a webhook or API URL: its host, not its
// path or query, which may hold the receiver's token ("" for none).
func webhookHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// Describe is what an operator is told of an operation's error: the
// plain-English detail of a *channels.Error, else the error itself.
func Describe(err error) string {
	var e *channels.Error
	if errors.As(err, &e) && e.Detail != "" {
		return e.Detail
	}
	return err.Error()
}

// Client runs the operations through the admin socket of a running
// server. Its errors are the server's: a *channels.Error with the code and
// the detail the operation gave.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns the client of the admin socket at path. It does not
// connect: see Answers to know whether a server is there.
func NewClient(path string) *Client {
	return &Client{path: path, http: &http.Client{
		Transport: &http.Transport{DialContext: dialContext(path), DisableKeepAlives: true},
		Timeout:   30 * time.Second,
	}}
}

// AddAgency implements Operations.
func (c *Client) AddAgency(ctx context.Context, id, name, webhookURL, apiURL string) (*NewAgency, error) {
	var out NewAgency
	if err := c.do(ctx, http.MethodPost, "/v1/agencies", addAgencyRequest{ID: id, Name: name, WebhookURL: webhookURL, APIURL: apiURL}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddKey implements Operations.
func (c *Client) AddKey(ctx context.Context, agency string) (*NewKey, error) {
	var out NewKey
	if err := c.do(ctx, http.MethodPost, "/v1/agencies/"+url.PathEscape(agency)+"/keys", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeKey implements Operations.
func (c *Client) RevokeKey(ctx context.Context, keyID string) (*Key, error) {
	var out Key
	if err := c.do(ctx, http.MethodPost, "/v1/keys/"+url.PathEscape(keyID)+"/revoke", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAgencies implements Operations.
func (c *Client) ListAgencies(ctx context.Context) ([]AgencyInfo, error) {
	var out []AgencyInfo
	if err := c.do(ctx, http.MethodGet, "/v1/agencies", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SetWebhook implements Operations.
func (c *Client) SetWebhook(ctx context.Context, agency, webhookURL string, rotateSecret bool) (*Webhook, error) {
	var out Webhook
	if err := c.do(ctx, http.MethodPut, "/v1/agencies/"+url.PathEscape(agency)+"/webhook", webhookRequest{URL: webhookURL, RotateSecret: rotateSecret}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetAPIURL implements Operations.
func (c *Client) SetAPIURL(ctx context.Context, agency, apiURL string) (*APIURL, error) {
	var out APIURL
	if err := c.do(ctx, http.MethodPut, "/v1/agencies/"+url.PathEscape(agency)+"/api-url", apiURLRequest{URL: apiURL}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one request and decodes its answer into out, or its error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin socket %s: %w", c.path, err)
		}
		body = bytes.NewReader(b)
	}
	// The host is ignored: the transport dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+path, body)
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", c.path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("admin socket %s: read the answer: %w", c.path, err)
	}
	if resp.StatusCode >= 400 {
		var e errorBody
		if err := json.Unmarshal(data, &e); err != nil || e.Error.Code == "" {
			return fmt.Errorf("admin socket %s: %s: %.200s", c.path, resp.Status, data)
		}
		return &channels.Error{Code: e.Error.Code, Message: e.Error.Message, Detail: e.Error.Detail}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin socket %s: unreadable answer: %w", c.path, err)
	}
	return nil
}

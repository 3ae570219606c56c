package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/govchannels/channels"
)

// MaxAuditLimit bounds how many audit entries one listing returns; a longer
// span is read page by page with AuditQuery.After.
const MaxAuditLimit = 1000

// AuditOperations is what an auditor can do with the audit log: read it and
// verify its chain. The log is append-only, and on purpose nothing here (or
// on the admin socket) changes or removes an entry: entries are appended
// only by the operations they record.
type AuditOperations interface {
	// AuditEntries returns the entries q selects, oldest first: at most
	// q.Limit (100 when zero; EINVALID over MaxAuditLimit or below zero,
	// or when q.Until is not after q.Since).
	AuditEntries(ctx context.Context, q channels.AuditQuery) ([]channels.AuditEntry, error)
	// VerifyAudit checks the chain of the whole log: it returns how many
	// entries it checked and, when one was altered, removed or inserted in
	// the data file, an error naming the first.
	VerifyAudit(ctx context.Context) (int, error)
}

// AuditEntries returns the entries q selects.
func (a *Admin) AuditEntries(ctx context.Context, q channels.AuditQuery) ([]channels.AuditEntry, error) {
	if err := validQuery(q); err != nil {
		return nil, err
	}
	out, err := a.store.AuditEntries(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

// VerifyAudit checks the chain of the whole log.
func (a *Admin) VerifyAudit(ctx context.Context) (int, error) {
	return a.store.VerifyAudit(ctx)
}

// validQuery refuses a query that could only be a mistake.
func validQuery(q channels.AuditQuery) error {
	switch {
	case q.Limit < 0 || q.Limit > MaxAuditLimit:
		return channels.Errorf(channels.EINVALID, "error.bad_request", "limit %d: list 1 to %d entries at a time (page on with -after)", q.Limit, MaxAuditLimit)
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		return channels.Errorf(channels.EINVALID, "error.bad_request", "until (%s) must be after since (%s)", q.Until.UTC().Format(time.RFC3339), q.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// auditCheck is the answer of GET /v1/audit/verify: how many entries were
// checked and, when the chain is broken, where. A broken chain is the
// answer asked for, not a failure of the request.
type auditCheck struct {
	Entries int    `json:"entries"`
	Problem string `json:"problem,omitempty"`
}

func (s *Server) auditEntries(r *http.Request) (int, any, error) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		return 0, nil, err
	}
	out, err := s.ops.AuditEntries(r.Context(), q)
	return http.StatusOK, out, err
}

func (s *Server) verifyAudit(r *http.Request) (int, any, error) {
	n, err := s.ops.VerifyAudit(r.Context())
	out := auditCheck{Entries: n}
	if err != nil {
		out.Problem = err.Error()
		s.log.ErrorContext(r.Context(), "admin: the audit log is not intact", "checked", n, "err", err)
	}
	return http.StatusOK, out, nil
}

// parseQuery reads an AuditQuery from the parameters of GET /v1/audit.
func parseQuery(v url.Values) (channels.AuditQuery, error) {
	q := channels.AuditQuery{Actor: v.Get("actor"), Citizen: v.Get("citizen"), Action: v.Get("action")}
	bad := func(name string) error {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "parameter %s=%q is not valid", name, v.Get(name))
	}
	for name, t := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			at, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, bad(name)
			}
			*t = at
		}
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, bad("after")
		}
		q.After = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, bad("limit")
		}
		q.Limit = n
	}
	return q, nil
}

// AuditEntries implements Operations.
func (c *Client) AuditEntries(ctx context.Context, q channels.AuditQuery) ([]channels.AuditEntry, error) {
	v := url.Values{}
	for name, s := range map[string]string{"actor": q.Actor, "citizen": q.Citizen, "action": q.Action} {
		if s != "" {
			v.Set(name, s)
		}
	}
	for name, t := range map[string]time.Time{"since": q.Since, "until": q.Until} {
		if !t.IsZero() {
			v.Set(name, t.Format(time.RFC3339Nano))
		}
	}
	if q.After != 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/v1/audit"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out []channels.AuditEntry
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// VerifyAudit implements Operations: the server's verdict on its log.
func (c *Client) VerifyAudit(ctx context.Context) (int, error) {
	var out auditCheck
	if err := c.do(ctx, http.MethodGet, "/v1/audit/verify", nil, &out); err != nil {
		return 0, err
	}
	if out.Problem != "" {
		return out.Entries, errors.New(out.Problem)
	}
	return out.Entries, nil
}

package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/password"
)

// Bounds of an operator's account fields, in characters.
const (
	minOperatorID = 2
	maxOperatorID = 32
	maxPlace      = 100 // a kiosk or a region
	maxLang       = 12
)

// OperatorOperations is what an administrator can do to kiosk operators'
// accounts. Each change is recorded in the audit log (actor "admin",
// action channels.AuditOperatorChanged) by the same call, once the change
// is stored. A password is returned once, when it is made, and stored only
// as its argon2id hash.
type OperatorOperations interface {
	// AddOperator creates the operator id (lower-case letters, digits,
	// '.', '_' and '-', 2 to 32 of them; ECONFLICT if it exists) named
	// name, serving at kiosk in region, with a random password. lang is
	// optional; this package checks its form only.
	AddOperator(ctx context.Context, id, name, kiosk, region, lang string) (*OperatorPassword, error)
	// DisableOperator stops the operator id's sessions at their next
	// request and refuses their sign-in; ENOTFOUND if there is none,
	// ECONFLICT if it is disabled already.
	DisableOperator(ctx context.Context, id string) (*OperatorInfo, error)
	// EnableOperator enables the operator id again and clears any lockout
	// after wrong passwords; ECONFLICT when it is neither disabled nor
	// locked, so there is nothing to do.
	EnableOperator(ctx context.Context, id string) (*OperatorInfo, error)
	// ResetPassword gives the operator id a new random password, which
	// voids its console sessions, and clears any lockout; ENOTFOUND if
	// there is none.
	ResetPassword(ctx context.Context, id string) (*OperatorPassword, error)
	// ListOperators lists every operator by ID; never a password hash.
	ListOperators(ctx context.Context) ([]OperatorInfo, error)
}

// OperatorInfo is what may be shown of an operator: never the password
// hash.
type OperatorInfo struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Kiosk         string    `json:"kiosk"`
	Region        string    `json:"region"`
	Lang          string    `json:"lang,omitempty"`
	Disabled      bool      `json:"disabled,omitempty"`
	FailedSignIns int       `json:"failed_sign_ins,omitempty"`
	LockedUntil   time.Time `json:"locked_until,omitzero"`
	PasswordSetAt time.Time `json:"password_set_at"`
	CreatedAt     time.Time `json:"created_at"`
}

// Locked reports whether the operator is locked out at now after too many
// wrong passwords.
func (o OperatorInfo) Locked(now time.Time) bool { return o.LockedUntil.After(now) }

// OperatorPassword is the outcome of AddOperator and ResetPassword: the
// password is here once; the store keeps only its hash.
type OperatorPassword struct {
	Operator OperatorInfo `json:"operator"`
	Password string       `json:"password"`
}

// AddOperator creates the operator id with a random password, and records
// it in the audit log.
func (a *Admin) AddOperator(ctx context.Context, id, name, kiosk, region, lang string) (*OperatorPassword, error) {
	name, kiosk, region, lang = strings.TrimSpace(name), strings.TrimSpace(kiosk), strings.TrimSpace(region), strings.TrimSpace(lang)
	if err := validOperatorID(id); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		what, value string
		limit       int
	}{{"operator name", name, maxName}, {"kiosk", kiosk, maxPlace}, {"region", region, maxPlace}} {
		if err := validText(f.what, f.value, f.limit); err != nil {
			return nil, err
		}
	}
	if err := validLang(lang); err != nil {
		return nil, err
	}
	pw := password.Generate()
	hash, err := password.Hash(pw) // outside the lock: it takes tens of milliseconds
	if err != nil {
		return nil, fmt.Errorf("hash the password of operator %s: %w", id, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().UTC()
	o := channels.Operator{ID: id, Name: name, Kiosk: kiosk, Region: region, Lang: lang, PasswordHash: hash, PasswordSetAt: now, CreatedAt: now}
	err = a.store.CreateOperator(ctx, o)
	if channels.ErrorCode(err) == channels.ECONFLICT {
		return nil, channels.Errorf(channels.ECONFLICT, "error.conflict", "operator %s exists already", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store operator %s: %w", id, err)
	}
	if err := a.audit(ctx, now, fmt.Sprintf("added %s (%s)", id, kiosk)); err != nil {
		return nil, fmt.Errorf("operator %s was added but the audit log could not record it, so its password is not shown (fix the log, then 'channels operator reset-password %s'): %w", id, id, err)
	}
	return &OperatorPassword{Operator: operatorInfo(o), Password: pw}, nil
}

// DisableOperator disables the operator id.
func (a *Admin) DisableOperator(ctx context.Context, id string) (*OperatorInfo, error) {
	return a.changeOperator(ctx, id, func(o *channels.Operator, _ time.Time) (string, error) {
		if o.Disabled {
			return "", channels.Errorf(channels.ECONFLICT, "error.conflict", "operator %s is disabled already", id)
		}
		o.Disabled = true
		return "disabled " + id, nil
	})
}

// EnableOperator enables the operator id and clears its lockout.
func (a *Admin) EnableOperator(ctx context.Context, id string) (*OperatorInfo, error) {
	return a.changeOperator(ctx, id, func(o *channels.Operator, now time.Time) (string, error) {
		locked := o.LockedUntil.After(now)
		if !o.Disabled && !locked && o.FailedSignIns == 0 {
			return "", channels.Errorf(channels.ECONFLICT, "error.conflict", "operator %s is enabled already and not locked out", id)
		}
		detail := "enabled " + id
		if locked {
			detail += fmt.Sprintf(" (lockout until %s cleared)", o.LockedUntil.UTC().Format(time.RFC3339))
		}
		o.Disabled, o.FailedSignIns, o.LockedUntil = false, 0, time.Time{}
		return detail, nil
	})
}

// ResetPassword gives the operator id a new random password.
func (a *Admin) ResetPassword(ctx context.Context, id string) (*OperatorPassword, error) {
	pw := password.Generate()
	hash, err := password.Hash(pw) // outside the lock: it takes tens of milliseconds
	if err != nil {
		return nil, fmt.Errorf("hash the password of operator %s: %w", id, err)
	}
	info, err := a.changeOperator(ctx, id, func(o *channels.Operator, now time.Time) (string, error) {
		o.PasswordHash, o.PasswordSetAt = hash, now
		o.FailedSignIns, o.LockedUntil = 0, time.Time{}
		return "reset the password of " + id, nil
	})
	if err != nil {
		return nil, err
	}
	return &OperatorPassword{Operator: *info, Password: pw}, nil
}

// ListOperators lists the operators by ID.
func (a *Admin) ListOperators(ctx context.Context) ([]OperatorInfo, error) {
	ops, err := a.store.Operators(ctx)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	out := make([]OperatorInfo, 0, len(ops))
	for _, o := range ops {
		out = append(out, operatorInfo(o))
	}
	return out, nil
}

// changeOperator applies change to the operator id atomically and records
// the detail it returns in the audit log. An error from change leaves the
// operator and the log as they were.
func (a *Admin) changeOperator(ctx context.Context, id string, change func(o *channels.Operator, now time.Time) (detail string, err error)) (*OperatorInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().UTC()
	var detail string
	o, err := a.store.UpdateOperator(ctx, id, func(o *channels.Operator) error {
		var err error
		detail, err = change(o, now)
		return err
	})
	switch channels.ErrorCode(err) {
	case "":
	case channels.ENOTFOUND:
		return nil, noOperator(id)
	case channels.ECONFLICT:
		return nil, err
	default:
		return nil, fmt.Errorf("update operator %s: %w", id, err)
	}
	if err := a.audit(ctx, now, detail); err != nil {
		return nil, fmt.Errorf("operator %s was changed (%s) but the audit log could not record it: %w", id, detail, err)
	}
	info := operatorInfo(*o)
	return &info, nil
}

// audit records an administrator's change to an operator.
func (a *Admin) audit(ctx context.Context, at time.Time, detail string) error {
	_, err := a.store.Audit(ctx, channels.AuditEntry{At: at, Actor: ActorAdmin, Action: channels.AuditOperatorChanged, Detail: detail})
	return err
}

// noOperator is the error of an operation on an operator there is not.
func noOperator(id string) error {
	return channels.Errorf(channels.ENOTFOUND, "error.not_found", "no operator %q (list them with 'channels operator list')", id)
}

// ActorAdmin is the actor of the audit entries of the admin operations.
const ActorAdmin = "admin"

func operatorInfo(o channels.Operator) OperatorInfo {
	return OperatorInfo{
		ID: o.ID, Name: o.Name, Kiosk: o.Kiosk, Region: o.Region, Lang: o.Lang,
		Disabled: o.Disabled, FailedSignIns: o.FailedSignIns, LockedUntil: o.LockedUntil,
		PasswordSetAt: o.PasswordSetAt, CreatedAt: o.CreatedAt,
	}
}

// validOperatorID checks an operator ID, the name an operator signs in
// with: 2 to 32 lower-case letters, digits, '.', '_' and '-', the first a
// letter or a digit (so that an ID is never a flag, "..", or a hidden
// file's name).
func validOperatorID(id string) error {
	ok := len(id) >= minOperatorID && len(id) <= maxOperatorID && (id[0] >= 'a' && id[0] <= 'z' || id[0] >= '0' && id[0] <= '9')
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "operator id %q must be %d to %d lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", id, minOperatorID, maxOperatorID)
	}
	return nil
}

// validText checks a required one-line text of at most max characters.
func validText(what, s string, limit int) error {
	if s == "" || utf8.RuneCountInString(s) > limit || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "%s must be 1 to %d characters on one line", what, limit)
	}
	return nil
}

// validLang checks the form of a language tag ("sw", "pt-BR"), or none:
// which languages are offered is the catalog's business, not this
// package's.
func validLang(lang string) error {
	if lang == "" {
		return nil
	}
	ok := len(lang) >= 2 && len(lang) <= maxLang && lang[0] >= 'a' && lang[0] <= 'z'
	for i := 0; ok && i < len(lang); i++ {
		c := lang[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "language %q is not a language tag such as sw or pt-BR", lang)
	}
	return nil
}

// addOperatorRequest is the body of POST /v1/operators.
type addOperatorRequest struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kiosk  string `json:"kiosk"`
	Region string `json:"region"`
	Lang   string `json:"lang"`
}

func (s *Server) listOperators(r *http.Request) (int, any, error) {
	out, err := s.ops.ListOperators(r.Context())
	return http.StatusOK, out, err
}

func (s *Server) addOperator(r *http.Request) (int, any, error) {
	var req addOperatorRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	out, err := s.ops.AddOperator(r.Context(), req.ID, req.Name, req.Kiosk, req.Region, req.Lang)
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: operator added", "operator", out.Operator.ID, "kiosk", out.Operator.Kiosk)
	return http.StatusCreated, out, nil
}

func (s *Server) disableOperator(r *http.Request) (int, any, error) {
	out, err := s.ops.DisableOperator(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: operator disabled", "operator", out.ID)
	return http.StatusOK, out, nil
}

func (s *Server) enableOperator(r *http.Request) (int, any, error) {
	out, err := s.ops.EnableOperator(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: operator enabled", "operator", out.ID)
	return http.StatusOK, out, nil
}

func (s *Server) resetPassword(r *http.Request) (int, any, error) {
	out, err := s.ops.ResetPassword(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(r.Context(), "admin: operator password reset", "operator", out.Operator.ID)
	return http.StatusOK, out, nil
}

// AddOperator implements Operations.
func (c *Client) AddOperator(ctx context.Context, id, name, kiosk, region, lang string) (*OperatorPassword, error) {
	var out OperatorPassword
	if err := c.do(ctx, http.MethodPost, "/v1/operators", addOperatorRequest{ID: id, Name: name, Kiosk: kiosk, Region: region, Lang: lang}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DisableOperator implements Operations.
func (c *Client) DisableOperator(ctx context.Context, id string) (*OperatorInfo, error) {
	return c.operatorAction(ctx, id, "disable")
}

// EnableOperator implements Operations.
func (c *Client) EnableOperator(ctx context.Context, id string) (*OperatorInfo, error) {
	return c.operatorAction(ctx, id, "enable")
}

func (c *Client) operatorAction(ctx context.Context, id, action string) (*OperatorInfo, error) {
	if validOperatorID(id) != nil {
		return nil, noOperator(id) // no such operator can exist, and ".." would not survive the path
	}
	var out OperatorInfo
	if err := c.do(ctx, http.MethodPost, "/v1/operators/"+url.PathEscape(id)+"/"+action, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResetPassword implements Operations.
func (c *Client) ResetPassword(ctx context.Context, id string) (*OperatorPassword, error) {
	if validOperatorID(id) != nil {
		return nil, noOperator(id)
	}
	var out OperatorPassword
	if err := c.do(ctx, http.MethodPost, "/v1/operators/"+url.PathEscape(id)+"/reset-password", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListOperators implements Operations.
func (c *Client) ListOperators(ctx context.Context) ([]OperatorInfo, error) {
	var out []OperatorInfo
	if err := c.do(ctx, http.MethodGet, "/v1/operators", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

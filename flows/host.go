package flows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/govchannels/channels"
)

// Host carries out the engine's calls. The engine stays pure; the host owns
// storage and, later, agency back offices.
type Host interface {
	// Submit stores a case durably and returns its reference. A second
	// submission with the same Key returns the first reference. A
	// submission with Action ActionAnswerInfo answers the request for
	// information on case Ref instead, and returns Ref.
	Submit(ctx context.Context, sub Submission) (string, error)
	// Case returns the case ref when it belongs to phone. A case of another
	// phone is ENOTFOUND, exactly as an unknown reference, so no channel
	// reveals that someone else's reference exists or how it stands.
	Case(ctx context.Context, phone, ref string) (*channels.Case, error)
	// CasesByPhone returns the latest cases of a phone, newest first.
	CasesByPhone(ctx context.Context, phone string) ([]*channels.Case, error)
	// SetLang remembers the language a citizen chose.
	SetLang(ctx context.Context, phone, lang string) error
}

// Submission is a case to create.
type Submission struct {
	Key     string // idempotency key: the channel's session, so a retry is harmless
	Service string
	Agency  string
	Phone   string
	Lang    string
	Channel channels.Channel
	Answers []channels.Answer
	Action  string // "" to create a case, or ActionAnswerInfo
	Ref     string // ActionAnswerInfo: the case answered
	// Assisted and NationalID are set by the kiosk: the operator who made
	// the case and, for a citizen without a phone (Phone empty), the
	// number of the identity document they consented with.
	Assisted   *channels.Assistance
	NationalID string
}

// Settle carries out what res asks of the host (a call, a language choice)
// for the citizen on phone, in the session identified by key, and returns
// the result to show. res is returned unchanged when it asks nothing.
func (e *Engine) Settle(ctx context.Context, h Host, phone, key string, res Result) (Result, error) {
	if res.Lang != "" {
		if err := h.SetLang(ctx, phone, res.Lang); err != nil {
			// The session goes on in the chosen language; only the
			// memory of it for the next session is lost.
			return res, &CallError{Service: "language", Err: fmt.Errorf("remember language of session %s: %w", key, err)}
		}
	}
	if res.Call == nil {
		return res, nil
	}
	var out Outcome
	c := res.Call
	switch c.Kind {
	case CallSubmit:
		out.Ref, out.Err = h.Submit(ctx, Submission{Key: key, Service: c.Service, Agency: c.Agency, Phone: phone, Lang: c.Lang, Channel: c.Channel, Answers: c.Answers})
	case CallAnswer:
		out.Ref, out.Err = h.Submit(ctx, Submission{Key: key, Service: c.Service, Phone: phone, Lang: c.Lang, Channel: c.Channel, Answers: c.Answers, Action: ActionAnswerInfo, Ref: c.Ref})
	case CallCase:
		var cs *channels.Case
		if cs, out.Err = h.Case(ctx, phone, c.Ref); out.Err == nil {
			out.Cases = []*channels.Case{cs}
		}
	case CallMyCases:
		out.Cases, out.Err = h.CasesByPhone(ctx, phone)
	}
	r, err := e.Complete(res.State, out)
	if err != nil {
		return Result{}, err
	}
	if code := channels.ErrorCode(out.Err); code != "" && code != channels.ENOTFOUND && code != channels.ECONFLICT {
		// The citizen sees a polite retry screen; the operator needs the cause.
		return r, &CallError{Service: c.Service, Call: c.Kind.String(), Err: out.Err}
	}
	return r, nil
}

// CallError reports a host call that failed while the citizen was shown a
// retry screen (or, for a language, went on without it being remembered):
// the Result returned with it is still the one to show.
type CallError struct {
	Service string
	Call    string
	Err     error
}

func (e *CallError) Error() string {
	if e.Call == "" {
		return fmt.Sprintf("%s: %v", e.Service, e.Err)
	}
	return fmt.Sprintf("service %s: %s: %v", e.Service, e.Call, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// String names the call in logs.
func (k CallKind) String() string {
	switch k {
	case CallSubmit:
		return "submit"
	case CallCase:
		return "read case"
	case CallMyCases:
		return "read cases of phone"
	case CallAnswer:
		return "answer request for information"
	}
	return fmt.Sprintf("call %d", int(k))
}

// StoreHost is the Host backed by the store.
type StoreHost struct {
	Cases channels.CaseStore
	// Log changes cases: it is needed by services that answer an
	// agency's request for information.
	Log      channels.CaseLog
	Prefs    channels.PrefStore
	Now      func() time.Time // time.Now when nil
	MaxCases int              // cases listed by CasesByPhone; 5 when 0
}

var _ Host = (*StoreHost)(nil)

// Submit creates the case under a fresh reference, drawing another on the
// rare clash with an existing one.
func (h *StoreHost) Submit(ctx context.Context, sub Submission) (string, error) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	at := now().UTC()
	if sub.Action == ActionAnswerInfo {
		return h.answer(ctx, sub, at)
	}
	for range 5 {
		c := &channels.Case{
			Ref:            channels.NewReference(),
			Service:        sub.Service,
			Agency:         sub.Agency,
			Phone:          sub.Phone,
			Channel:        sub.Channel,
			Lang:           sub.Lang,
			Answers:        sub.Answers,
			Status:         channels.StatusSubmitted,
			History:        []channels.StatusChange{{Status: channels.StatusSubmitted, At: at, Actor: ActorCitizen}},
			IdempotencyKey: sub.Key,
			CreatedAt:      at,
			Assisted:       sub.Assisted,
			NationalID:     sub.NationalID,
		}
		got, err := h.Cases.CreateCase(ctx, c)
		if channels.ErrorCode(err) == channels.ECONFLICT {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("submit %s for session %s: %w", sub.Service, sub.Key, err)
		}
		return got.Ref, nil
	}
	return "", fmt.Errorf("submit %s for session %s: no free reference after 5 tries", sub.Service, sub.Key)
}

// answer puts the case sub.Ref back in review with the citizen's answers
// as the note. Only the case's own phone may answer, and only while the
// agency waits for information; a repeat of the same answer (a gateway
// retry) returns the reference again.
func (h *StoreHost) answer(ctx context.Context, sub Submission, at time.Time) (string, error) {
	if h.Log == nil {
		return "", fmt.Errorf("answer case %s: the host has no case log", sub.Ref)
	}
	lines := make([]string, 0, len(sub.Answers))
	for _, a := range sub.Answers {
		lines = append(lines, a.Value)
	}
	note := strings.Join(lines, "\n")
	_, err := h.Log.UpdateCase(ctx, sub.Ref, func(c *channels.Case) error {
		if c.Phone != sub.Phone {
			return channels.Errorf(channels.ENOTFOUND, "error.reference", "case %s belongs to another phone", sub.Ref)
		}
		if last := c.History[len(c.History)-1]; c.Status == channels.StatusInReview && last.Actor == ActorCitizen && last.Note == note {
			return errRepeated
		}
		if c.Status != channels.StatusMoreInfo {
			return channels.Errorf(channels.ECONFLICT, "info.not_requested", "case %s is %s", sub.Ref, c.Status)
		}
		return c.Transition(channels.StatusInReview, at, ActorCitizen, note)
	})
	if err != nil && !errors.Is(err, errRepeated) {
		return "", fmt.Errorf("answer case %s: %w", sub.Ref, err)
	}
	return sub.Ref, nil
}

// ActorCitizen is the actor of the changes a citizen makes to a case.
const ActorCitizen = "citizen"

// errRepeated aborts an update that a retry has already made.
var errRepeated = errors.New("already answered")

// Case returns the case ref when it belongs to phone.
func (h *StoreHost) Case(ctx context.Context, phone, ref string) (*channels.Case, error) {
	c, err := h.Cases.Case(ctx, ref)
	if err != nil {
		return nil, err
	}
	if phone == "" || c.Phone != phone {
		// No phone is no one's: a case made at a kiosk for a citizen
		// without a phone is found by their document, never by "".
		return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "case %s belongs to another phone", ref)
	}
	return c, nil
}

// CasesByPhone returns the latest cases of phone.
func (h *StoreHost) CasesByPhone(ctx context.Context, phone string) ([]*channels.Case, error) {
	n := h.MaxCases
	if n == 0 {
		n = 5
	}
	return h.Cases.CasesByPhone(ctx, phone, n)
}

// SetLang stores the language in the phone's preferences.
func (h *StoreHost) SetLang(ctx context.Context, phone, lang string) error {
	_, err := h.Prefs.UpdatePrefs(ctx, phone, func(p *channels.Prefs) { p.Lang = lang })
	return err
}

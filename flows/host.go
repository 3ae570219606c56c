package flows

import (
	"context"
	"fmt"

	"github.com/govchannels/channels"
)

// Host carries out the engine's calls. The engine stays pure; the host owns
// storage, agency back offices and reminders (package host has the one
// the server uses).
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
	// Ask calls an agency for a call step (see AgencyCaller).
	Ask(ctx context.Context, req AgencyRequest) AgencyAnswer
	// Remind schedules or cancels a reminder (see Reminders).
	Remind(ctx context.Context, r Reminder) error
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

// ActorCitizen is the actor of the changes a citizen makes to a case.
const ActorCitizen = "citizen"

package flows

import (
	"context"
	"errors"
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
	// Pay sends a pay step's payment request (see Payments).
	Pay(ctx context.Context, req PayRequest) PayAnswer
	// Bill looks up the bill of phone with the given ID for a bill step
	// (see Payments).
	Bill(ctx context.Context, phone, bill string) PayAnswer
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

// maxChainedCalls bounds the calls one Settle makes in a row (a
// submission that goes on to a booking, say): a catalog whose call
// steps lead into each other without a screen between stops there.
const maxChainedCalls = 8

// Settle carries out what res asks of the host (a call, a language choice)
// for the citizen on phone, in the session identified by key, and returns
// the result to show. res is returned unchanged when it asks nothing. When
// a call leads straight to another (a submission that goes on to a call
// step), Settle makes that one too, until a screen is to be shown. A
// *CallError (the first, when several calls failed) comes with a Result
// that is still the one to show.
func (e *Engine) Settle(ctx context.Context, h Host, phone, key string, res Result) (Result, error) {
	if res.Lang != "" {
		if err := h.SetLang(ctx, phone, res.Lang); err != nil {
			// The session goes on in the chosen language; only the
			// memory of it for the next session is lost.
			return res, &CallError{Service: "language", Err: fmt.Errorf("remember language of session %s: %w", key, err)}
		}
	}
	var first error
	for n := 0; res.Call != nil; n++ {
		if n == maxChainedCalls {
			return Result{}, fmt.Errorf("service %s step %s: more than %d calls in a row without a screen", res.State.Service, res.State.Step, maxChainedCalls)
		}
		r, err := e.settle(ctx, h, phone, key, res)
		var ce *CallError
		if err != nil && !errors.As(err, &ce) {
			return Result{}, err
		}
		if err != nil && first == nil {
			first = err
		}
		res = r
	}
	return res, first
}

// settle carries out the one call res asks for.
func (e *Engine) settle(ctx context.Context, h Host, phone, key string, res Result) (Result, error) {
	var out Outcome
	c := res.Call
	switch c.Kind {
	case CallAgency:
		return e.settleAgency(ctx, h, phone, key, res)
	case CallPay, CallBill:
		return e.settlePay(ctx, h, phone, key, res)
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
	case CallAgency:
		return "call agency"
	case CallPay:
		return "request payment"
	case CallBill:
		return "read bill"
	}
	return fmt.Sprintf("call %d", int(k))
}

// ActorCitizen is the actor of the changes a citizen makes to a case.
const ActorCitizen = "citizen"

// settleAgency makes the agency call of a call step and goes on by its
// outcome, scheduling the reminder a found call asks for.
func (e *Engine) settleAgency(ctx context.Context, h Host, phone, key string, res Result) (Result, error) {
	c := res.Call
	req := AgencyRequest{
		Key: visitKey(key, c), Agency: c.Agency, Operation: c.Operation, Service: c.Service, Step: c.Step,
		Phone: phone, Lang: c.Lang, Channel: c.Channel, Params: c.Params, Returns: c.Returns,
		Changes: c.Changes, Deadline: c.Deadline,
	}
	if c.Later {
		req.Later = res.State.Encode()
	}
	answer := h.Ask(ctx, req)
	r, err := e.Complete(res.State, Outcome{Answer: &answer})
	if err != nil {
		return Result{}, err
	}
	what := fmt.Sprintf("%s %s/%s (key %s)", c.Kind, c.Agency, c.Operation, req.Key)
	var cerr error
	switch answer.Outcome {
	case OutcomeFound, OutcomeNotFound:
	default:
		// The citizen is shown the exit's screen; the operator needs why.
		cerr = &CallError{Service: c.Service, Call: what, Err: fmt.Errorf("%s: %s", answer.Outcome, answer.Reason)}
	}
	if r.Reminder != nil {
		rm := *r.Reminder
		rm.Phone = phone
		r.Reminder = nil
		if err := h.Remind(ctx, rm); err != nil && cerr == nil {
			cerr = &CallError{Service: c.Service, Call: what, Err: fmt.Errorf("remind %s: %w", rm.Key, err)}
		}
	}
	return r, cerr
}

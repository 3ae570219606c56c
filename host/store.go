// Package host carries out what the flow engine asks of the world: it
// stores cases and reads them, remembers a citizen's language and, through
// the store, keeps everything durable. flows stays pure; this package is
// where its calls meet the store.
package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// Store is the flows.Host backed by the store: cases, their log and the
// citizens' preferences.
type Store struct {
	Cases channels.CaseStore
	// Log changes cases: it is needed by services that answer an
	// agency's request for information.
	Log      channels.CaseLog
	Prefs    channels.PrefStore
	Now      func() time.Time // time.Now when nil
	MaxCases int              // cases listed by CasesByPhone; 5 when 0
	// Agencies makes the calls of call steps; without it every call
	// fails (a deployment whose catalog has no call step needs none).
	Agencies flows.AgencyCaller
	// Reminders keeps the reminders call steps ask for.
	Reminders flows.Reminders
	// Payments sends the payment requests of pay steps and reads bills;
	// without it every payment is unavailable (a deployment whose
	// catalog charges no fee needs none).
	Payments flows.Payments
}

var _ flows.Host = (*Store)(nil)

// Submit creates the case under a fresh reference, drawing another on the
// rare clash with an existing one.
func (h *Store) Submit(ctx context.Context, sub flows.Submission) (string, error) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	at := now().UTC()
	if sub.Action == flows.ActionAnswerInfo {
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
			History:        []channels.StatusChange{{Status: channels.StatusSubmitted, At: at, Actor: flows.ActorCitizen}},
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
func (h *Store) answer(ctx context.Context, sub flows.Submission, at time.Time) (string, error) {
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
		if last := c.History[len(c.History)-1]; c.Status == channels.StatusInReview && last.Actor == flows.ActorCitizen && last.Note == note {
			return errRepeated
		}
		if c.Status != channels.StatusMoreInfo {
			return channels.Errorf(channels.ECONFLICT, "info.not_requested", "case %s is %s", sub.Ref, c.Status)
		}
		return c.Transition(channels.StatusInReview, at, flows.ActorCitizen, note)
	})
	if err != nil && !errors.Is(err, errRepeated) {
		return "", fmt.Errorf("answer case %s: %w", sub.Ref, err)
	}
	return sub.Ref, nil
}

// errRepeated aborts an update that a retry has already made.
var errRepeated = errors.New("already answered")

// Case returns the case ref when it belongs to phone.
func (h *Store) Case(ctx context.Context, phone, ref string) (*channels.Case, error) {
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
func (h *Store) CasesByPhone(ctx context.Context, phone string) ([]*channels.Case, error) {
	n := h.MaxCases
	if n == 0 {
		n = 5
	}
	return h.Cases.CasesByPhone(ctx, phone, n)
}

// SetLang stores the language in the phone's preferences.
func (h *Store) SetLang(ctx context.Context, phone, lang string) error {
	_, err := h.Prefs.UpdatePrefs(ctx, phone, func(p *channels.Prefs) { p.Lang = lang })
	return err
}

// Ask calls the agency through h.Agencies.
func (h *Store) Ask(ctx context.Context, req flows.AgencyRequest) flows.AgencyAnswer {
	if h.Agencies == nil {
		return flows.AgencyAnswer{Outcome: flows.OutcomeFailed, Reason: "no agency caller is configured"}
	}
	return h.Agencies.Ask(ctx, req)
}

// Remind schedules r through h.Reminders.
func (h *Store) Remind(ctx context.Context, r flows.Reminder) error {
	if h.Reminders == nil {
		return fmt.Errorf("remind %s: no reminder store is configured", r.Key)
	}
	return h.Reminders.Remind(ctx, r)
}

// Pay sends the payment request through h.Payments.
func (h *Store) Pay(ctx context.Context, req flows.PayRequest) flows.PayAnswer {
	if h.Payments == nil {
		return flows.PayAnswer{Outcome: flows.OutcomeUnavailable, Fee: req.Fee, Reason: "no payment service is configured"}
	}
	return h.Payments.Pay(ctx, req)
}

// Bill reads the bill through h.Payments.
func (h *Store) Bill(ctx context.Context, phone, bill string) flows.PayAnswer {
	if h.Payments == nil {
		return flows.PayAnswer{Outcome: flows.OutcomeUnavailable, Reason: "no payment service is configured"}
	}
	return h.Payments.Bill(ctx, phone, bill)
}

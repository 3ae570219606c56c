package kiosk

import (
	"context"
	"fmt"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// assistedHost is the Host of a service run at a kiosk for one citizen:
// the cases it makes carry the operator's assistance, and for a citizen
// without a phone (nationalID set, the engine's phone empty) it makes and
// finds cases by the identity document instead, which the store's host
// refuses to do for an empty phone.
type assistedHost struct {
	host       flows.Host
	cases      channels.CaseStore
	assisted   channels.Assistance
	nationalID string // the document of a citizen without a phone
	maxCases   int
}

var _ flows.Host = (*assistedHost)(nil)

// Submit creates the case with the assistance (and the document number of
// a citizen without a phone). An answer to an agency's request for
// information on a case without a phone is accepted only from the holder
// of its document.
func (h *assistedHost) Submit(ctx context.Context, sub flows.Submission) (string, error) {
	a := h.assisted
	sub.Assisted = &a
	if h.nationalID != "" {
		sub.Phone, sub.NationalID = "", h.nationalID
		if sub.Action == flows.ActionAnswerInfo {
			if _, err := h.Case(ctx, "", sub.Ref); err != nil {
				return "", fmt.Errorf("answer case %s: %w", sub.Ref, err)
			}
		}
	}
	return h.host.Submit(ctx, sub)
}

// Case returns the case ref when it is the citizen's: by phone through the
// store's host, by document for a citizen without a phone.
func (h *assistedHost) Case(ctx context.Context, phone, ref string) (*channels.Case, error) {
	if h.nationalID == "" {
		return h.host.Case(ctx, phone, ref)
	}
	c, err := h.cases.Case(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c.Phone != "" || c.NationalID != h.nationalID {
		return nil, channels.Errorf(channels.ENOTFOUND, "error.not_found", "case %s belongs to another citizen", ref)
	}
	return c, nil
}

// CasesByPhone returns the citizen's latest cases: by phone through the
// store's host, by document for a citizen without a phone.
func (h *assistedHost) CasesByPhone(ctx context.Context, phone string) ([]*channels.Case, error) {
	if h.nationalID == "" {
		return h.host.CasesByPhone(ctx, phone)
	}
	return h.cases.CasesByNationalID(ctx, h.nationalID, h.maxCases)
}

// SetLang remembers the language of a citizen with a phone; a citizen
// without one has no preferences to keep it in.
func (h *assistedHost) SetLang(ctx context.Context, phone, lang string) error {
	if phone == "" {
		return nil
	}
	return h.host.SetLang(ctx, phone, lang)
}

// Ask calls the agency as the citizen's host does.
func (h *assistedHost) Ask(ctx context.Context, req flows.AgencyRequest) flows.AgencyAnswer {
	return h.host.Ask(ctx, req)
}

// Remind schedules the reminder as the citizen's host does.
func (h *assistedHost) Remind(ctx context.Context, r flows.Reminder) error {
	return h.host.Remind(ctx, r)
}

// Pay asks for the payment as the citizen's host does; a citizen without
// a phone has no mobile-money wallet to be prompted on.
func (h *assistedHost) Pay(ctx context.Context, req flows.PayRequest) flows.PayAnswer {
	if h.nationalID != "" || req.Phone == "" {
		return flows.PayAnswer{Outcome: flows.OutcomeUnavailable, Fee: req.Fee, Reason: "a citizen without a phone cannot pay by mobile money"}
	}
	return h.host.Pay(ctx, req)
}

// Bill reads the bill as the citizen's host does; a citizen without a
// phone has no bills.
func (h *assistedHost) Bill(ctx context.Context, phone, bill string) flows.PayAnswer {
	if h.nationalID != "" || phone == "" {
		return flows.PayAnswer{Outcome: flows.OutcomeNotFound}
	}
	return h.host.Bill(ctx, phone, bill)
}

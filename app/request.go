package app

import (
	"fmt"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/flows"
)

// startRequest is the body of POST /v1/sessions.
type startRequest struct {
	Service string `json:"service"` // a service ID; the root menu when empty
	Phone   string `json:"phone"`   // deprecated: the signed-in phone, if given
	Lang    string `json:"lang"`
}

// inputRequest is the body of POST /v1/sessions/{id}/input.
type inputRequest struct {
	Text   string `json:"text"`
	Action string `json:"action"` // "answer" (the default), "back" or "home"
}

// submissionRequest is the body of POST /v1/services/{id}/submissions.
type submissionRequest struct {
	Phone   string            `json:"phone"` // deprecated: the signed-in phone, if given
	Lang    string            `json:"lang"`
	Answers map[string]string `json:"answers"`
}

// maxIdempotencyKey bounds the Idempotency-Key header, which is stored with
// the case.
const maxIdempotencyKey = 128

// decodeInput reads the body of an input request into the engine's Input.
func decodeInput(body []byte) (flows.Input, error) {
	var req inputRequest
	if err := apijson.Decode(body, &req); err != nil {
		return flows.Input{}, fmt.Errorf("input: %w", err)
	}
	in := flows.Input{Text: req.Text}
	switch req.Action {
	case "", "answer":
		in.Action = flows.Answer
	case "back":
		in.Action = flows.Back
	case "home":
		in.Action = flows.Home
	default:
		return flows.Input{}, channels.Errorf(channels.EINVALID, "error.bad_request", "input: unknown action %q", req.Action)
	}
	return in, nil
}

// decodeSubmission reads the body of a whole-form submission.
func decodeSubmission(body []byte) (submissionRequest, error) {
	var req submissionRequest
	if err := apijson.Decode(body, &req); err != nil {
		return submissionRequest{}, fmt.Errorf("submission: %w", err)
	}
	return req, nil
}

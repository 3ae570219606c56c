package agencycall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// Request is the JSON body of every call, in the order of the wire
// contract (docs/agency-calls.md, agency/operations.yaml). The Client
// sends it; the background sender of late answers and the demo agency
// read and write the same type so that the three never drift apart.
type Request struct {
	// ID is the call's idempotency key (flows.AgencyRequest.Key), also
	// sent as the Idempotency-Key header: the same on every attempt.
	ID        string `json:"id"`
	Operation string `json:"operation"`
	Service   string `json:"service"`
	// Changes is true when the operation changes something at the agency
	// (hold, book, cancel): such a call is never retried inline.
	Changes bool    `json:"changes"`
	Citizen Citizen `json:"citizen"`
	Params  Params  `json:"params"`
	// SentAt is when this request was made, in UTC to the second: the
	// same on the inline retries of one Do, later on a background retry
	// of the same call (same ID), so agencies compare what a repeated ID
	// asks without it.
	SentAt time.Time `json:"sent_at"`
}

// Citizen is who the call is made for: the phone their channel proved
// ("" at a kiosk for a citizen without one), the channel and language.
type Citizen struct {
	Phone   string           `json:"phone"`
	Channel channels.Channel `json:"channel"`
	Lang    string           `json:"lang"`
}

// Params are the fields a call step sends, by name, kept in the step's
// order: they travel as one JSON object whose keys are in that order, so
// that the body (and its signature) is the same on every attempt.
type Params []channels.Answer

// NewRequest returns the body of req sent at now. A field sent twice
// keeps its first place and its last value, so the object has no
// duplicate keys.
func NewRequest(req flows.AgencyRequest, now time.Time) Request {
	var params Params
	for _, a := range req.Params {
		if i := slices.IndexFunc(params, func(p channels.Answer) bool { return p.Field == a.Field }); i >= 0 {
			params[i].Value = a.Value
			continue
		}
		params = append(params, a)
	}
	return Request{
		ID:        req.Key,
		Operation: req.Operation,
		Service:   req.Service,
		Changes:   req.Changes,
		Citizen:   Citizen{Phone: req.Phone, Channel: req.Channel, Lang: req.Lang},
		Params:    params,
		SentAt:    now.UTC().Truncate(time.Second),
	}
}

// Marshal returns the body's bytes as they are signed and sent: compact
// JSON, fields in the contract's order, HTML characters not escaped.
func (r Request) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("agencycall: encode the request %s: %w", r.ID, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// MarshalJSON writes the params as one object, keys in order. An empty
// Params is {}, never null.
func (p Params) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, a := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, s := range []string{a.Field, a.Value} {
			enc, err := marshalString(s)
			if err != nil {
				return nil, err
			}
			b.Write(enc)
			if j == 0 {
				b.WriteByte(':')
			}
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalString is a JSON string without HTML escaping.
func marshalString(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads an object of string values, keeping its keys'
// order; a duplicate key or a value that is not a string is an error.
func (p *Params) UnmarshalJSON(data []byte) error {
	fields, err := objectFields(data)
	if err != nil {
		return fmt.Errorf("params: %w", err)
	}
	out := make(Params, 0, len(fields))
	for _, f := range fields {
		var v string
		if err := json.Unmarshal(f.raw, &v); err != nil {
			return fmt.Errorf("params.%s: not a string", f.name)
		}
		out = append(out, channels.Answer{Field: f.name, Value: v})
	}
	*p = out
	return nil
}

// field is one member of a JSON object, its value not yet decoded.
type field struct {
	name string
	raw  json.RawMessage
}

// errNotObject is the error of objectFields on a value that is not an
// object.
var errNotObject = errors.New("not a JSON object")

// objectFields splits the JSON object data into its members, in order,
// refusing duplicate names and anything after the object. Names are
// matched exactly, unlike encoding/json's case-insensitive structs.
func objectFields(data []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var out []field
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("invalid JSON: a name that is not a string")
		}
		if seen[name] {
			return nil, fmt.Errorf("%q appears twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("invalid JSON in %q: %w", name, err)
		}
		out = append(out, field{name: name, raw: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("invalid JSON: data after the object")
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("invalid JSON after the object: %w", err)
	}
	return out, nil
}

// ParseRequest reads a request body strictly, as an agency should: the
// contract's fields only, each once, names matched exactly, params an
// object of strings. The demo agency and the background sender use it.
func ParseRequest(body []byte) (Request, error) {
	var r Request
	top, err := objectFields(body)
	if err != nil {
		return r, fmt.Errorf("agencycall: request: %w", err)
	}
	known := []string{"id", "operation", "service", "changes", "citizen", "params", "sent_at"}
	for _, f := range top {
		if !slices.Contains(known, f.name) {
			return r, fmt.Errorf("agencycall: request: unknown field %s", quote(f.name))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("agencycall: request: %w", err)
	}
	return r, nil
}

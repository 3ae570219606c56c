package flows

import (
	"errors"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/lenprefix"
)

// State is where a citizen is in a flow. It is small and self-contained so
// that a session store keeps it as a few hundred bytes; the answers given so
// far live in Trail, one visit per step passed, so going back drops exactly
// the answers of the steps left behind.
type State struct {
	Service string           // "" while on the root or language menu
	Step    string           // the step shown; see homeStep and langStep
	Lang    string           // the language the citizen reads
	Channel channels.Channel // where the session runs
	Trail   []Visit          // steps passed, oldest first
}

// Visit is a step the citizen passed, with the value it stored (if any).
type Visit struct {
	Step  string
	Value string
}

// Steps of the engine's own menus, outside every service.
const (
	homeStep = ""
	langStep = "~lang"
)

// Answers returns the answers on the citizen's path, by field, in the order
// given; a field answered twice keeps its last value.
func (st *State) answers(svc *Service) []channels.Answer {
	out := make([]channels.Answer, 0, len(st.Trail))
	for _, v := range st.Trail {
		step := svc.steps[v.Step]
		if step == nil || step.Field == "" || (step.Kind != StepMenu && step.Kind != StepInput) {
			continue
		}
		replaced := false
		for i := range out {
			if out[i].Field == step.Field {
				out[i].Value = v.Value
				replaced = true
			}
		}
		if !replaced {
			out = append(out, channels.Answer{Field: step.Field, Value: v.Value})
		}
	}
	return out
}

// answer returns the latest value of field on the path.
func (st *State) answer(svc *Service, field string) (string, bool) {
	for i := len(st.Trail) - 1; i >= 0; i-- {
		if step := svc.steps[st.Trail[i].Step]; step != nil && step.Field == field && step.Kind != StepLookup {
			return st.Trail[i].Value, true
		}
	}
	return "", false
}

// stateVersion is the first byte of an encoded State; a state of another
// version is refused and the session starts again.
const stateVersion = 1

// ErrBadState is returned by DecodeState for bytes it cannot read.
var ErrBadState = errors.New("flows: unreadable session state")

// AppendEncode appends the binary form of st to b: a version byte, then
// length-prefixed strings. It is compact (the largest waiting state of the
// shipped catalog is under 400 bytes) and allocation-free with a large
// enough b.
func (st *State) AppendEncode(b []byte) []byte {
	b = append(b, stateVersion)
	b = lenprefix.AppendString(b, st.Service)
	b = lenprefix.AppendString(b, st.Step)
	b = lenprefix.AppendString(b, st.Lang)
	b = lenprefix.AppendString(b, string(st.Channel))
	b = lenprefix.AppendUvarint(b, uint64(len(st.Trail)))
	for _, v := range st.Trail {
		b = lenprefix.AppendString(b, v.Step)
		b = lenprefix.AppendString(b, v.Value)
	}
	return b
}

// Encode returns the binary form of st.
func (st *State) Encode() []byte { return st.AppendEncode(make([]byte, 0, 256)) }

// DecodeState reads a State written by Encode.
func DecodeState(b []byte) (State, error) {
	var st State
	if len(b) == 0 || b[0] != stateVersion {
		return st, ErrBadState
	}
	r := lenprefix.NewReader(b[1:])
	st.Service = r.String()
	st.Step = r.String()
	st.Lang = r.String()
	st.Channel = channels.Channel(r.String())
	n := r.Uvarint()
	if n > uint64(r.Len()) { // each visit takes at least two bytes
		return State{}, ErrBadState
	}
	if n > 0 {
		st.Trail = make([]Visit, n)
		for i := range st.Trail {
			st.Trail[i].Step = r.String()
			st.Trail[i].Value = r.String()
		}
	}
	if r.Bad() || r.Len() != 0 {
		return State{}, ErrBadState
	}
	return st, nil
}

package flows

import (
	"strings"

	"github.com/govchannels/channels"
)

// FieldError is why one field of a whole form was refused.
type FieldError struct {
	Field   string
	Message channels.Message
}

// Fill runs a service with every answer given at once, as an app posting a
// whole form does: it walks the flow from the start, taking each step's
// answer from answers by field (a menu takes the option's value or number),
// passing confirm steps, until it reaches a call or an end. The checks are
// the ones each step makes on its own, so every channel refuses the same
// values. It returns the result at the stop (usually a submit Call), or the
// refused fields.
func (e *Engine) Fill(ch channels.Channel, lang, service string, answers map[string]string) (Result, []FieldError, error) {
	r, err := e.Start(ch, lang, service)
	if err != nil {
		return Result{}, nil, err
	}
	var bad []FieldError
	svc := e.catalog.Service(service)
	for range 2 * len(svc.Steps) {
		if r.Call != nil || r.Screen.Kind == channels.KindEnd {
			break
		}
		step := svc.steps[r.State.Step]
		switch step.Kind {
		case StepConfirm:
			r, err = e.Step(r.State, Input{Text: "1"})
		case StepMenu, StepInput:
			v, ok := answers[step.Field]
			if !ok || strings.TrimSpace(v) == "" {
				bad = append(bad, FieldError{step.Field, channels.Msg("error.required")})
				if step.Kind == StepMenu {
					return Result{}, bad, nil
				}
				r, err = e.skip(svc, step, r.State)
				break
			}
			var next Result
			next, err = e.Step(r.State, Input{Text: v})
			if err == nil && next.Screen.Error != nil && next.State.Step == step.ID && len(next.State.Trail) == len(r.State.Trail) {
				bad = append(bad, FieldError{step.Field, *next.Screen.Error})
				if step.Kind == StepMenu {
					return Result{}, bad, nil
				}
				r, err = e.skip(svc, step, r.State)
				break
			}
			r = next
		}
		if err != nil {
			return Result{}, nil, err
		}
	}
	if len(bad) > 0 {
		return Result{}, bad, nil
	}
	return r, nil, nil
}

// skip passes an input step whose answer was refused, so that Fill can check
// the fields after it too.
func (e *Engine) skip(svc *Service, step *Step, st State) (Result, error) {
	st.Trail = append(st.Trail, Visit{Step: step.ID})
	target, err := e.next(svc, step, "", st)
	if err != nil {
		return Result{}, err
	}
	return e.enter(svc, target, st), nil
}

package flows

import (
	"fmt"
	"maps"
	"slices"
)

// RuleResult is the definition lint's rule for a step reading an answer
// or a result (a call's send, a remind key, a menu's options_from) that
// some way from the start reaches without setting.
const RuleResult = "result"

// resultFindings reports each name a step reads that is not set on every
// way the engine takes from the start to it: the agency would be sent
// nothing for it, or the menu would offer no items.
func (s *Service) resultFindings(ways map[string][]Way, reached map[string]bool) Findings {
	// set[id] is what every way from the start to id has set; nil: no
	// way seen yet (everything).
	set := map[string]map[string]bool{s.Start: {}}
	for changed := true; changed; {
		changed = false
		for _, st := range s.Steps {
			in, ok := set[st.ID]
			if !ok || !reached[st.ID] {
				continue
			}
			for _, w := range ways[st.ID] {
				if w.To == "" {
					continue
				}
				out := maps.Clone(in)
				for _, n := range sets(st, w) {
					out[n] = true
				}
				prev, seen := set[w.To]
				if !seen {
					set[w.To], changed = out, true
					continue
				}
				for n := range prev {
					if !out[n] {
						delete(prev, n)
						changed = true
					}
				}
			}
		}
	}
	var out Findings
	for _, st := range s.Steps {
		in, ok := set[st.ID]
		if !ok || !reached[st.ID] {
			continue
		}
		add := func(what, name string) {
			out = append(out, Finding{File: s.File, Line: st.Line, Service: s.ID, Step: st.ID, Rule: RuleResult,
				Message: fmt.Sprintf("%s %q is not set on every way from the start step %q to here", what, name, s.Start)})
		}
		for _, n := range st.Send {
			if !in[n] {
				add("send", n)
			}
		}
		if st.Remind != nil && st.Remind.Key != "" && !in[st.Remind.Key] {
			add("remind key", st.Remind.Key)
		}
		if st.OptionsFrom != "" && !in[st.OptionsFrom] {
			add("options_from", st.OptionsFrom)
		}
	}
	return out
}

// sets returns the names the way w from st sets: the field of a menu or
// an input, the returns of a found call, the reference of a submission.
func sets(st *Step, w Way) []string {
	switch st.Kind {
	case StepMenu, StepInput:
		return []string{st.Field}
	case StepSubmit:
		return []string{st.Field}
	case StepCall:
		if w.Outcome != OutcomeFound {
			return nil
		}
		names := make([]string, 0, len(st.Returns))
		for n := range st.Returns {
			names = append(names, n)
		}
		slices.Sort(names)
		return names
	}
	return nil
}

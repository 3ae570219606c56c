package flows

import (
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Bounds of a call step, checked by the loader.
const (
	// DefaultDeadline is a call's deadline when the step gives none: well
	// inside the 10 to 15 s a USSD gateway gives a whole hop.
	DefaultDeadline = 4 * time.Second
	minDeadline     = 500 * time.Millisecond
	maxDeadline     = 8 * time.Second
	maxReturns      = 12
	maxReturnText   = 160
	maxListItems    = 9
)

var operationPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// UnmarshalYAML records the line of the return.
func (r *Return) UnmarshalYAML(n *yaml.Node) error {
	type plain Return
	if err := knownFields(n, plain{}, "return"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(r)); err != nil {
		return err
	}
	r.Line = n.Line
	return nil
}

// UnmarshalYAML records the line of the exits.
func (x *Exits) UnmarshalYAML(n *yaml.Node) error {
	type plain Exits
	if err := knownFields(n, plain{}, "exits"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(x)); err != nil {
		return err
	}
	x.Line = n.Line
	return nil
}

// UnmarshalYAML records the line of the remind.
func (r *Remind) UnmarshalYAML(n *yaml.Node) error {
	type plain Remind
	if err := knownFields(n, plain{}, "remind"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(r)); err != nil {
		return err
	}
	r.Line = n.Line
	return nil
}

// exits lists a call step's exits with their outcomes, in a fixed order.
func (x *Exits) exits() []struct {
	Outcome CallOutcome
	Step    string
} {
	return []struct {
		Outcome CallOutcome
		Step    string
	}{{OutcomeFound, x.Found}, {OutcomeNotFound, x.NotFound}, {OutcomeFailed, x.Failed}, {OutcomeTimeout, x.Timeout}}
}

// exit returns the step an outcome leads to; an unknown outcome is failed.
func (x *Exits) exit(o CallOutcome) string {
	switch o {
	case OutcomeFound:
		return x.Found
	case OutcomeNotFound:
		return x.NotFound
	case OutcomeTimeout:
		return x.Timeout
	}
	return x.Failed
}

// names returns what a service's steps set that a send, a remind key or a
// text can read: the fields of menus and inputs, the returns of calls
// (lists apart) and the fields of submissions that go on.
func (s *Service) names() (values map[string]bool, lists map[string]*Return) {
	values, lists = map[string]bool{}, map[string]*Return{}
	for _, st := range s.Steps {
		switch st.Kind {
		case StepMenu, StepInput:
			if st.Field != "" {
				values[st.Field] = true
			}
		case StepSubmit:
			if st.Next != "" && st.Field != "" {
				values[st.Field] = true
			}
		case StepCall:
			for name, r := range st.Returns {
				if r == nil {
					continue
				}
				if r.Type == ReturnList {
					lists[name] = r
				} else {
					values[name] = true
				}
			}
		}
	}
	return values, lists
}

// checkCall validates a call step.
func (st *Step) checkCall(s *Service) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if st.Text != "" {
		bad("a call step shows nothing itself: text must be empty (the exits' steps show the outcome)")
	}
	if st.Next != "" || len(st.Branches) > 0 || len(st.Options) > 0 || st.Field != "" {
		bad("a call step goes on by its exits: it cannot have next, branches, options or field")
	}
	if st.Agency != "" && !idPattern.MatchString(st.Agency) {
		bad("agency %q must be lower-case letters, digits and _ (starting with a letter)", st.Agency)
	}
	if st.Agency == "" && s.Agency == "" {
		bad("a call step needs an agency: give one on the step or the service")
	}
	if !operationPattern.MatchString(st.Operation) {
		bad("operation %q must be lower-case letters, digits and _ (starting with a letter, at most 41)", st.Operation)
	}
	switch {
	case st.Deadline == 0:
		st.Deadline = DefaultDeadline
	case st.Deadline < minDeadline || st.Deadline > maxDeadline:
		bad("deadline %s must be between %s and %s: a USSD hop has 10 to 15 s in all", st.Deadline, minDeadline, maxDeadline)
	}
	values, lists := s.names()
	for _, f := range st.Send {
		switch {
		case lists[f] != nil:
			bad("send %q: a list cannot be sent; send the field of the menu that chose from it", f)
		case !values[f]:
			bad("send %q is not a field of a menu or input, nor a return of a call or the field of a submit", f)
		}
	}
	if len(st.Returns) > maxReturns {
		bad("a call may declare at most %d returns, not %d", maxReturns, len(st.Returns))
	}
	names := make([]string, 0, len(st.Returns))
	for name := range st.Returns {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, p := range st.Returns[name].check(name) {
			bad("return %q: %s", name, p)
		}
	}
	if st.Exits == nil {
		bad("a call step needs exits: found, not_found, failed and timeout")
	} else {
		if x := st.Exits; x.Started != "" || x.Pending != "" || x.Paid != "" || x.Unavailable != "" {
			bad("exits started, pending, paid and unavailable are a pay or bill step's, not a call step's")
		}
		for _, x := range st.Exits.exits() {
			switch {
			case x.Step == "":
				bad("exit %s is missing: every outcome of a call needs a step", x.Outcome)
			case s.steps[x.Step] == nil:
				bad("exit %s: step %q does not exist", x.Outcome, x.Step)
			case st.Later && s.steps[x.Step].Kind != StepEnd:
				bad("exit %s leads to %s step %q: with later, every exit must be an end step (the late answer is that end screen, sent by SMS or push)", x.Outcome, s.steps[x.Step].Kind, x.Step)
			}
		}
	}
	if st.Remind != nil {
		ps = append(ps, st.checkRemind(values)...)
	}
	return ps
}

// check validates one declared return named name.
func (r *Return) check(name string) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if !idPattern.MatchString(name) {
		bad("name must be lower-case letters, digits and _ (starting with a letter)")
	}
	if r == nil {
		bad("needs a type (text, number, date, datetime or list)")
		return ps
	}
	if len(r.Values) > 0 && r.Type != ReturnText {
		bad("values apply to text only")
	}
	if r.Unicode && r.Type != ReturnText && !(r.Type == ReturnList && r.Item == ReturnText) {
		bad("unicode applies to text only")
	}
	if (r.Min != nil || r.Max != nil) && r.Type != ReturnNumber && !(r.Type == ReturnList && r.Item == ReturnNumber) {
		bad("min and max apply to numbers only")
	}
	if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		bad("min %d is above max %d", *r.Min, *r.Max)
	}
	if r.Type != ReturnList && (r.Item != "" || r.MaxItems != 0) {
		bad("item and max_items apply to lists only")
	}
	switch r.Type {
	case ReturnText:
		ps = append(ps, r.checkText()...)
	case ReturnNumber, ReturnDate, ReturnDateTime:
		if r.MaxLength != 0 {
			bad("max_length applies to text only")
		}
	case ReturnList:
		if r.Required {
			bad("a list cannot be required: an empty list is a found answer with no items")
		}
		switch r.Item {
		case ReturnText:
			ps = append(ps, r.checkText()...)
		case ReturnNumber, ReturnDate, ReturnDateTime:
		case "":
			bad("a list needs an item type (text, date, datetime or number)")
		default:
			bad("unknown item type %q (text, date, datetime or number)", r.Item)
		}
		if r.MaxItems < 1 || r.MaxItems > maxListItems {
			bad("max_items %d must be between 1 and %d: a list is one menu page", r.MaxItems, maxListItems)
		}
	case "":
		bad("needs a type (text, number, date, datetime or list)")
	default:
		bad("unknown type %q (text, number, date, datetime or list)", r.Type)
	}
	return ps
}

// checkText validates the bounds of a text (or a list of text) and sets
// MaxLength from Values when they are given.
func (r *Return) checkText() []string {
	if len(r.Values) > 0 {
		longest := 0
		seen := map[string]bool{}
		for _, v := range r.Values {
			if v == "" || seen[v] {
				return []string{fmt.Sprintf("values must be distinct and not empty (%q)", v)}
			}
			seen[v] = true
			longest = max(longest, utf8.RuneCountInString(v))
		}
		if r.MaxLength != 0 && r.MaxLength != longest {
			return []string{fmt.Sprintf("max_length %d is not the longest of values (%d): leave it out", r.MaxLength, longest)}
		}
		r.MaxLength = longest
		return nil
	}
	if r.MaxLength < 1 || r.MaxLength > maxReturnText {
		return []string{fmt.Sprintf("a text needs max_length between 1 and %d (or values), not %d", maxReturnText, r.MaxLength)}
	}
	return nil
}

// checkRemind validates a call step's remind.
func (st *Step) checkRemind(values map[string]bool) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	r := st.Remind
	if !st.Changes {
		bad("remind is for a call that changes something (changes: true): a booking, a cancellation")
	}
	if r.Key == "" || !values[r.Key] {
		bad("remind key %q is not a field of a menu or input, nor a return of a call or the field of a submit", r.Key)
	}
	if r.Cancel {
		if r.At != "" || r.Before != 0 || r.Text != "" {
			bad("a remind that cancels takes only key and cancel")
		}
		return ps
	}
	if ret := st.Returns[r.At]; ret == nil || ret.Type != ReturnDateTime {
		bad("remind at %q must be a datetime return of this step", r.At)
	}
	if r.Before <= 0 {
		bad("remind before must be a positive duration (24h), not %s", r.Before)
	}
	if r.Text == "" {
		bad("remind needs a text (a message ID)")
	}
	return ps
}

// checkOptionsFrom validates a menu whose options come from a list.
func (st *Step) checkOptionsFrom(s *Service) []string {
	_, lists := s.names()
	var ps []string
	if lists[st.OptionsFrom] == nil {
		ps = append(ps, fmt.Sprintf("options_from %q is not a list return of a call step", st.OptionsFrom))
	}
	if st.Next == "" && len(st.Branches) == 0 {
		ps = append(ps, "a menu with options_from needs a next: its items lead there")
	}
	if len(st.Options)+maxListItems > maxMenuOptions {
		ps = append(ps, fmt.Sprintf("a menu with options_from may have at most %d static options", maxMenuOptions-maxListItems))
	}
	return ps
}

// notCall refuses the settings of a call on a step of another kind.
func (st *Step) notCall() []string {
	exits := st.Exits != nil && st.Kind != StepPay && st.Kind != StepBill
	if st.Agency != "" || st.Operation != "" || len(st.Send) > 0 || st.Changes || st.Deadline != 0 || st.Later || len(st.Returns) > 0 || exits || st.Remind != nil {
		return []string{fmt.Sprintf("agency, operation, send, changes, deadline, later, returns, exits and remind apply to call steps only, not a %s step (exits apply to pay and bill steps too)", st.Kind)}
	}
	return nil
}

package flows

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/lenprefix"
)

// itemMessage is the message ID of a menu option made of a list item: its
// value, shown as it is.
const itemMessage = "call.item"

// encodeAnswer is the Value of the Visit a found call leaves on the trail:
// the declared fields the answer has, then its declared lists, each
// length-prefixed and in name order, so that a state waiting after a call
// stays a few hundred bytes. Fields and lists the step does not declare
// are dropped.
func encodeAnswer(step *Step, a AgencyAnswer) string {
	names := make([]string, 0, len(step.Returns))
	for name := range step.Returns {
		names = append(names, name)
	}
	slices.Sort(names)
	var fields, lists []string
	for _, n := range names {
		if step.Returns[n].Type == ReturnList {
			if _, ok := a.Lists[n]; ok {
				lists = append(lists, n)
			}
		} else if _, ok := a.Fields[n]; ok {
			fields = append(fields, n)
		}
	}
	b := lenprefix.AppendUvarint(nil, uint64(len(fields)))
	for _, n := range fields {
		b = lenprefix.AppendString(b, n)
		b = lenprefix.AppendString(b, a.Fields[n])
	}
	b = lenprefix.AppendUvarint(b, uint64(len(lists)))
	for _, n := range lists {
		items := a.Lists[n]
		if m := step.Returns[n].MaxItems; len(items) > m {
			items = items[:m]
		}
		b = lenprefix.AppendString(b, n)
		b = lenprefix.AppendUvarint(b, uint64(len(items)))
		for _, it := range items {
			b = lenprefix.AppendString(b, it.ID)
			b = lenprefix.AppendString(b, it.Value)
		}
	}
	return string(b)
}

// decodeAnswer reads what encodeAnswer wrote; ok is false for a value it
// cannot read (a state crafted or cut), which then holds no results.
func decodeAnswer(v string) (fields map[string]string, lists map[string][]ListItem, ok bool) {
	r := lenprefix.NewReader([]byte(v))
	n := r.Uvarint()
	if n > uint64(r.Len()) {
		return nil, nil, false
	}
	fields = make(map[string]string, n)
	for range n {
		k := r.String()
		fields[k] = r.String()
	}
	n = r.Uvarint()
	if n > uint64(r.Len()) {
		return nil, nil, false
	}
	lists = make(map[string][]ListItem, n)
	for range n {
		k := r.String()
		m := r.Uvarint()
		if m > uint64(r.Len()) {
			return nil, nil, false
		}
		items := make([]ListItem, m)
		for i := range items {
			items[i].ID = r.String()
			items[i].Value = r.String()
		}
		lists[k] = items
	}
	if r.Bad() || r.Len() != 0 {
		return nil, nil, false
	}
	return fields, lists, true
}

// results is what calls and submissions left on a citizen's path, latest
// per name.
type results struct {
	raw     map[string]string     // as the agency answered (branches, send)
	display map[string]string     // as texts show them
	lists   map[string][]ListItem // answered lists
	types   map[string]*Return    // the declaration of each list
}

// results gathers the results on st's trail: every field of every found
// call, the reference of a submission that went on, and the item chosen
// on a menu offering a list.
func (e *Engine) results(svc *Service, st State) results {
	rs := results{raw: map[string]string{}, display: map[string]string{}, lists: map[string][]ListItem{}, types: map[string]*Return{}}
	if !svc.results {
		return rs
	}
	// A result not on the path shows empty, never as a template's
	// "<no value>".
	for _, step := range svc.Steps {
		switch {
		case step.Kind == StepCall:
			for name, r := range step.Returns {
				if r.Type != ReturnList {
					rs.display[name] = ""
				}
			}
		case step.Kind == StepSubmit && step.Next != "" && step.Field != "", step.Kind == StepMenu && step.OptionsFrom != "":
			rs.display[step.Field] = ""
		case step.Kind == StepPay || step.Kind == StepBill:
			for _, name := range []string{ResultPayBill, ResultPayAmount, ResultPayReceipt, ResultPayReference} {
				rs.display[name] = ""
			}
		}
	}
	for _, v := range st.Trail {
		step := svc.steps[v.Step]
		if step == nil {
			continue
		}
		switch step.Kind {
		case StepCall:
			fields, lists, ok := decodeAnswer(v.Value)
			if !ok {
				continue
			}
			for name, val := range fields {
				if ret := step.Returns[name]; ret != nil && ret.Type != ReturnList {
					rs.raw[name] = val
					rs.display[name] = e.display(ret.Type, val)
				}
			}
			for name, items := range lists {
				if ret := step.Returns[name]; ret != nil && ret.Type == ReturnList {
					rs.lists[name], rs.types[name] = items, ret
				}
			}
		case StepSubmit:
			if step.Next != "" && step.Field != "" {
				rs.raw[step.Field], rs.display[step.Field] = v.Value, v.Value
			}
		case StepPay, StepBill:
			rs.addPay(v.Value)
		case StepMenu:
			if step.OptionsFrom == "" {
				continue
			}
			delete(rs.raw, step.Field)
			delete(rs.display, step.Field)
			if it, ok := rs.item(step.OptionsFrom, v.Value); ok {
				rs.raw[step.Field] = v.Value
				rs.display[step.Field] = e.display(rs.types[step.OptionsFrom].Item, it.Value)
			}
		}
	}
	return rs
}

// item returns the item of list whose ID is id.
func (rs results) item(list, id string) (ListItem, bool) {
	for _, it := range rs.lists[list] {
		if it.ID == id {
			return it, true
		}
	}
	return ListItem{}, false
}

// display formats a value of type t as texts show it: a date as
// 02/01/2006, a datetime as "02/01/2006 15:04" in the engine's location,
// anything else (or a value that does not parse) as it is.
func (e *Engine) display(t ReturnType, v string) string {
	switch t {
	case ReturnDate:
		if d, err := time.Parse(time.DateOnly, v); err == nil {
			return d.Format("02/01/2006")
		}
	case ReturnDateTime:
		if d, err := time.Parse(time.RFC3339, v); err == nil {
			return d.In(e.loc).Format("02/01/2006 15:04")
		}
	}
	return v
}

// value returns the latest value of name on the path: an answer, a result
// or a kept reference.
func (e *Engine) value(svc *Service, st State, name string) (string, bool) {
	for i := len(st.Trail) - 1; i >= 0; i-- {
		step := svc.steps[st.Trail[i].Step]
		if step == nil {
			continue
		}
		switch step.Kind {
		case StepMenu, StepInput:
			if step.Field == name {
				return st.Trail[i].Value, true
			}
		case StepSubmit:
			if step.Next != "" && step.Field == name {
				return st.Trail[i].Value, true
			}
		case StepCall:
			if fields, _, ok := decodeAnswer(st.Trail[i].Value); ok {
				if v, found := fields[name]; found {
					return v, true
				}
			}
		}
	}
	return "", false
}

// text is the message id of a screen of svc, given the Result argument
// when the service keeps results.
func (e *Engine) text(svc *Service, st State, id string, kv ...any) channels.Message {
	if svc.results {
		kv = append(kv, "Result", e.results(svc, st).display)
	}
	return channels.Msg(id, kv...)
}

// choice is one option of a menu as the citizen sees it: a static option
// or an item of a list.
type choice struct {
	value string
	next  string
	text  channels.Message
}

// choices returns a menu's options on st's path: the items of the list it
// offers, then its static options.
func (e *Engine) choices(svc *Service, step *Step, st State) []choice {
	var out []choice
	if step.OptionsFrom != "" {
		rs := e.results(svc, st)
		t := ReturnText
		if ret := rs.types[step.OptionsFrom]; ret != nil {
			t = ret.Item
		}
		for _, it := range rs.lists[step.OptionsFrom] {
			out = append(out, choice{value: it.ID, text: channels.Msg(itemMessage, "Value", e.display(t, it.Value))})
		}
	}
	for _, o := range step.Options {
		out = append(out, choice{value: o.Value, next: o.Next, text: e.text(svc, st, o.Text)})
	}
	return out
}

// matchChoice finds the choice a citizen made by its number or its value.
func matchChoice(cs []choice, text string) (choice, bool) {
	opts := make([]*Option, len(cs))
	for i, c := range cs {
		opts[i] = &Option{Value: c.value}
	}
	o := matchOption(opts, text)
	if o == nil {
		return choice{}, false
	}
	return cs[slices.Index(opts, o)], true
}

// enterCall is the Call a call step makes.
func (e *Engine) enterCall(svc *Service, step *Step, st State) *Call {
	c := &Call{
		Kind: CallAgency, Service: svc.ID, Agency: step.Agency, Lang: st.Lang, Channel: st.Channel,
		Step: step.ID, Operation: step.Operation, Returns: step.Returns, Changes: step.Changes,
		Deadline: step.Deadline, Later: step.Later, Visit: len(st.Trail),
	}
	if c.Agency == "" {
		c.Agency = svc.Agency
	}
	for _, name := range step.Send {
		if v, ok := e.value(svc, st, name); ok {
			c.Params = append(c.Params, channels.Answer{Field: name, Value: v})
		}
	}
	return c
}

// completeCall goes on from a call step by the outcome of its call.
func (e *Engine) completeCall(svc *Service, step *Step, st State, a *AgencyAnswer) Result {
	ans := AgencyAnswer{Outcome: OutcomeFailed}
	if a != nil {
		ans = *a
	}
	found := ans.Outcome == OutcomeFound
	if found {
		st.Trail = append(st.Trail, Visit{Step: step.ID, Value: encodeAnswer(step, ans)})
	}
	r := e.enter(svc, step.Exits.exit(ans.Outcome), st)
	if found && step.Remind != nil {
		r.Reminder = e.reminder(svc, step, st)
	}
	return r
}

// reminder is the Reminder a found call step's Remind asks for, or nil
// when the answer lacks what it needs (the key's value, or the datetime).
func (e *Engine) reminder(svc *Service, step *Step, st State) *Reminder {
	rm := step.Remind
	key, ok := e.value(svc, st, rm.Key)
	if !ok || key == "" {
		return nil
	}
	// The agency owns what is booked, and another service may move or
	// cancel it (check_status's My appointment): the key is the agency's.
	agency := step.Agency
	if agency == "" {
		agency = svc.Agency
	}
	r := &Reminder{Key: agency + "/" + key, Lang: st.Lang, Channel: st.Channel, Cancel: rm.Cancel}
	if rm.Cancel {
		return r
	}
	at, ok := e.value(svc, st, rm.At)
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return nil
	}
	r.At = t.Add(-rm.Before)
	r.Text = e.text(svc, st, rm.Text)
	return r
}

// ErrNotLater is returned by Later for a state that waits on no call
// finished in the background.
var ErrNotLater = errors.New("flows: the state waits on no later call")

// Later returns the end screen a call finished in the background leads
// to: state is the AgencyRequest's Later, answer what the agency finally
// said. The host sends that screen to the citizen by SMS or push.
func (e *Engine) Later(state []byte, answer AgencyAnswer) (channels.Screen, error) {
	r, err := e.LaterResult(state, answer)
	return r.Screen, err
}

// LaterResult is Later with the whole Result: its Reminder, when the
// late call asks for one, is for the host to schedule as Settle would.
func (e *Engine) LaterResult(state []byte, answer AgencyAnswer) (Result, error) {
	st, err := DecodeState(state)
	if err != nil {
		return Result{}, fmt.Errorf("later answer: %w", err)
	}
	svc, step, err := e.current(st)
	if err != nil {
		return Result{}, fmt.Errorf("later answer: %w", err)
	}
	if step.Kind != StepCall || !step.Later {
		return Result{}, fmt.Errorf("later answer at %s/%s: %w", svc.ID, step.ID, ErrNotLater)
	}
	r := e.completeCall(svc, step, st, &answer)
	if r.Call != nil || r.Screen.Kind != channels.KindEnd {
		return Result{}, fmt.Errorf("later answer at %s/%s: the %s exit is no end screen: %w", svc.ID, step.ID, answer.Outcome, ErrNotLater)
	}
	return r, nil
}

// visitKey is the idempotency key of one visit of a call step in the
// session key.
func visitKey(key string, c *Call) string {
	return key + "/" + c.Step + "/" + strconv.Itoa(c.Visit)
}

// LongestTrail returns a trail that leaves every result of s at the
// longest value it may take: each call step found with every return at
// its longest (max_length characters, the longest of values, the digits
// of max, a datetime of the widest form; in UCS-2 when the return is
// unicode) and every list at max_items such items, each menu offering a
// list with its first item chosen, and each submission that goes on with
// ref. The lint renders the screens that show results on it.
func (s *Service) LongestTrail(ref string) []Visit {
	var calls, menus, subs, pays []Visit
	for _, st := range s.Steps {
		switch {
		case st.Kind == StepPay || st.Kind == StepBill:
			pays = append(pays, Visit{Step: st.ID, Value: encodePayVisit("", longestPay(s, st, ref))})
		case st.Kind == StepCall:
			a := AgencyAnswer{Outcome: OutcomeFound, Fields: map[string]string{}, Lists: map[string][]ListItem{}}
			for name, r := range st.Returns {
				if r.Type != ReturnList {
					a.Fields[name] = longest(r, r.Type)
					continue
				}
				items := make([]ListItem, r.MaxItems)
				for i := range items {
					items[i] = ListItem{ID: strconv.Itoa(i + 1), Value: longest(r, r.Item)}
				}
				a.Lists[name] = items
			}
			calls = append(calls, Visit{Step: st.ID, Value: encodeAnswer(st, a)})
		case st.Kind == StepMenu && st.OptionsFrom != "":
			menus = append(menus, Visit{Step: st.ID, Value: "1"})
		case st.Kind == StepSubmit && st.Next != "":
			subs = append(subs, Visit{Step: st.ID, Value: ref})
		}
	}
	return slices.Concat(calls, menus, subs, pays)
}

// longest is the longest value of type t (r's, or its items') may take.
func longest(r *Return, t ReturnType) string {
	switch t {
	case ReturnText:
		if len(r.Values) > 0 {
			l := ""
			for _, v := range r.Values {
				if utf8.RuneCountInString(v) > utf8.RuneCountInString(l) {
					l = v
				}
			}
			return l
		}
		if r.Unicode {
			return strings.Repeat("ع", r.MaxLength)
		}
		return strings.Repeat("W", r.MaxLength)
	case ReturnNumber:
		l := strconv.FormatInt(math.MaxInt64, 10)
		if r.Max != nil {
			l = strconv.FormatInt(*r.Max, 10)
		}
		if r.Min != nil {
			if m := strconv.FormatInt(*r.Min, 10); len(m) > len(l) {
				l = m
			}
		}
		return l
	case ReturnDate:
		return "2026-12-28"
	case ReturnDateTime:
		return "2026-12-28T23:59:00Z"
	}
	return ""
}

// EndScreen returns the screen the end step st.Step shows when the flow
// reaches it on st, with the results on its trail.
func (e *Engine) EndScreen(st State) (channels.Screen, error) {
	svc, step, err := e.current(st)
	if err != nil {
		return channels.Screen{}, err
	}
	if step.Kind != StepEnd {
		return channels.Screen{}, channels.Errorf(channels.EINVALID, "error.session_unknown", "step %s/%s is no end step", svc.ID, step.ID)
	}
	return e.enter(svc, step.ID, st).Screen, nil
}

// RemindText returns the text of the reminder the call step st.Step asks
// for, with the results on st; false when it asks for none (or cancels).
func (e *Engine) RemindText(st State) (channels.Message, bool) {
	svc, step, err := e.current(st)
	if err != nil || step.Kind != StepCall || step.Remind == nil || step.Remind.Cancel {
		return channels.Message{}, false
	}
	return e.text(svc, st, step.Remind.Text), true
}

// keptReference is the reference of the latest case submitted on st's
// path by a submit step that went on, shown with the end screen it leads
// to as a submission's own end screen shows it; "" when none.
func keptReference(svc *Service, st State) string {
	if !svc.results {
		return ""
	}
	for i := len(st.Trail) - 1; i >= 0; i-- {
		if step := svc.steps[st.Trail[i].Step]; step != nil && step.Kind == StepSubmit && step.Next != "" {
			return st.Trail[i].Value
		}
	}
	return ""
}

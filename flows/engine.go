package flows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/govchannels/channels"
)

// Engine runs services as a pure step function: given a state and an input
// it returns the next screen and state. It does no I/O; creating a case or
// reading cases is returned as a Call for the caller to carry out and report
// back with Complete (Runner does that loop against a Host).
type Engine struct {
	catalog *Catalog
	langs   []string
	region  string
	now     func() time.Time
	loc     *time.Location // where results' datetimes are shown
	methods []PayMethod
}

// Config configures an Engine.
type Config struct {
	Catalog *Catalog
	Langs   []string         // offered on the language menu, default first
	Region  string           // ISO 3166 region for national phone numbers, e.g. "KE"
	Now     func() time.Time // the clock date bounds are checked against; time.Now when nil
	// Location is where "today" is reckoned for date bounds: a date of
	// birth typed at 01:30 in Nairobi is today's there, whatever the
	// server's zone. UTC when nil.
	Location *time.Location
	// PayMethods are the ways the deployment takes payments, in the order
	// a pay step offers them. With none, a service that charges a fee
	// says at once that payments are unavailable (its pay step's
	// unavailable exit) instead of asking for answers it cannot file.
	PayMethods []PayMethod
}

// New returns an engine for cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.Catalog == nil || len(cfg.Catalog.Services) == 0 {
		return nil, fmt.Errorf("flows: no services to run")
	}
	if len(cfg.Langs) == 0 {
		return nil, fmt.Errorf("flows: no languages")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	clock, loc := cfg.Now, cfg.Location
	now := func() time.Time { return clock().In(loc) }
	for _, m := range cfg.PayMethods {
		if m.ID == "" || m.Text == "" {
			return nil, fmt.Errorf("flows: a payment method needs an ID and a text, not %+v", m)
		}
	}
	return &Engine{catalog: cfg.Catalog, langs: cfg.Langs, region: cfg.Region, now: now, loc: loc, methods: cfg.PayMethods}, nil
}

// Catalog returns the services the engine runs.
func (e *Engine) Catalog() *Catalog { return e.catalog }

// Action says what an Input asks for.
type Action int

// Actions a citizen can take on any screen.
const (
	Answer Action = iota // Text answers the screen
	Back                 // return to the previous screen
	Home                 // return to the root menu
)

// Input is one thing a citizen did.
type Input struct {
	Action Action
	Text   string
}

// CallKind says what a Call asks the caller to do.
type CallKind int

// The calls the engine makes.
const (
	CallSubmit  CallKind = iota + 1 // create a case from Answers; report its reference
	CallCase                        // read the case Ref
	CallMyCases                     // read the caller's cases
	CallAnswer                      // answer the request for information on case Ref with Answers
)

// Call is work with side effects the engine needs done before it can show
// the next screen.
type Call struct {
	Kind    CallKind
	Service string
	Agency  string // CallSubmit: the agency that handles the service
	Lang    string
	Channel channels.Channel
	Answers []channels.Answer
	Ref     string

	// CallAgency: Operation of Agency for the call step Step, sent
	// Params, answering Returns within Deadline. Visit is the step's
	// place on the trail, which makes the call's idempotency key with the
	// session's. Later: a timed-out call is finished in the background.
	Step      string
	Operation string
	Params    []channels.Answer
	Returns   map[string]*Return
	Changes   bool
	Deadline  time.Duration
	Later     bool
	Visit     int

	// CallPay: the fee, the method chosen, the agency's number of what is
	// paid and the bill paid again (see PayRequest). CallBill reads the
	// bill Ref.
	Fee       channels.Money
	Method    string
	Reference string
	Bill      string
}

// Outcome is what came of a Call.
type Outcome struct {
	Ref   string           // CallSubmit: the reference of the stored case
	Cases []*channels.Case // CallCase, CallMyCases: what was found
	Err   error            // the call failed; ENOTFOUND for a lookup means nothing found
	// Answer is what the agency answered a CallAgency; nil is failed.
	Answer *AgencyAnswer
	// Pay is what the host answered a CallPay or a CallBill; nil is
	// failed.
	Pay *PayAnswer
}

// Result is the engine's answer to one input.
type Result struct {
	Screen channels.Screen // what to show; empty while Call is set
	State  State           // the state to keep for the next input
	Call   *Call           // when set, carry it out and pass the Outcome to Complete
	Lang   string          // when set, the citizen chose this language: remember it
	// Reminder, when set, is for the host to schedule (Settle does):
	// a found call step asked for it.
	Reminder *Reminder
}

// Ended reports whether the session is over.
func (r Result) Ended() bool { return r.Call == nil && r.Screen.Kind == channels.KindEnd }

// Start begins a session on ch in lang: at the root menu when service is
// empty, else at the service's first step (a deep link). ENOTFOUND for an
// unknown service.
func (e *Engine) Start(ch channels.Channel, lang, service string) (Result, error) {
	st := State{Lang: e.lang(lang), Channel: ch}
	if service == "" {
		return e.home(st), nil
	}
	svc := e.catalog.Service(service)
	if svc == nil {
		return Result{}, channels.Errorf(channels.ENOTFOUND, "error.not_found", "service %q", service)
	}
	st.Service = svc.ID
	return e.begin(svc, st), nil
}

// begin enters svc's first step; a service that charges a fee, where the
// deployment takes no payments, says so at once (its pay step's
// unavailable exit) instead of asking for answers it could not file. A
// service that only pays a bill again (check a payment) is offered: its
// pay step says it when reached.
func (e *Engine) begin(svc *Service, st State) Result {
	if len(e.methods) == 0 {
		for _, step := range svc.Steps {
			if step.Kind == StepPay && step.Fee != nil && step.Fee.Bill == "" {
				return e.enter(svc, step.Exits.Unavailable, st)
			}
		}
	}
	return e.enter(svc, svc.Start, st)
}

// lang returns lang when offered, else the default language.
func (e *Engine) lang(lang string) string {
	for _, l := range e.langs {
		if l == lang {
			return l
		}
	}
	return e.langs[0]
}

// Step applies one input to st. An invalid answer returns the same screen
// with Error set and st unchanged. A state that does not fit the catalog
// (a service removed since it was saved, say) is an EINVALID error: the
// caller starts the session again.
func (e *Engine) Step(st State, in Input) (Result, error) {
	switch in.Action {
	case Home:
		return e.home(State{Lang: st.Lang, Channel: st.Channel}), nil
	case Back:
		return e.back(st)
	}
	if st.Service == "" {
		return e.chooseHome(st, in.Text)
	}
	svc, step, err := e.current(st)
	if err != nil {
		return Result{}, err
	}
	if step.showsAlternative(st.Channel) {
		return e.passAlternative(svc, step, st, in)
	}
	var value string
	var next string
	switch step.Kind {
	case StepPay:
		return e.choosePay(svc, step, st, in.Text), nil
	case StepMenu:
		c, ok := matchChoice(e.choices(svc, step, st), in.Text)
		if !ok {
			return e.retry(svc, step, st, msgPtr("error.choice")), nil
		}
		value, next = c.value, c.next
	case StepInput:
		v, bad := e.checkInput(step, in.Text)
		if bad != nil {
			return e.retry(svc, step, st, bad), nil
		}
		value = v
	case StepConfirm:
		switch strings.TrimSpace(in.Text) {
		case "1":
		case "2":
			return Result{State: st, Screen: channels.Screen{Kind: channels.KindEnd, Service: svc.ID, Step: step.ID, Text: channels.Msg("end.cancelled")}}, nil
		default:
			return e.retry(svc, step, st, msgPtr("error.choice")), nil
		}
	default:
		return Result{}, channels.Errorf(channels.EINVALID, "error.session_unknown", "step %s/%s takes no input", svc.ID, step.ID)
	}
	st.Trail = append(st.Trail, Visit{Step: step.ID, Value: value})
	target, err := e.next(svc, step, next, st)
	if err != nil {
		return Result{}, err
	}
	return e.enter(svc, target, st), nil
}

// Complete reports the outcome of the Call that st is waiting on.
func (e *Engine) Complete(st State, out Outcome) (Result, error) {
	svc, step, err := e.current(st)
	if err != nil {
		return Result{}, err
	}
	end := channels.Screen{Kind: channels.KindEnd, Service: svc.ID, Step: step.ID}
	switch step.Kind {
	case StepSubmit:
		if out.Err != nil || out.Ref == "" {
			// Nothing was stored: return to the step before (the confirm
			// step) so the citizen can try again without retyping, told
			// why when it is something they can change.
			why := "error.internal"
			var ce *channels.Error
			if errors.As(out.Err, &ce) && ce.Code != channels.EINTERNAL {
				why = ce.Message
			}
			return e.backWith(svc, st, msgPtr(why))
		}
		if step.Next != "" {
			st.Trail = append(st.Trail, Visit{Step: step.ID, Value: out.Ref})
			return e.enter(svc, step.Next, st), nil
		}
		end.Text = e.text(svc, st, step.Text, "Reference", out.Ref)
		end.Reference = out.Ref
	case StepLookup:
		switch {
		case out.Err != nil && channels.ErrorCode(out.Err) != channels.ENOTFOUND:
			end.Text = channels.Msg("error.internal")
		case len(out.Cases) == 0:
			end.Text = e.text(svc, st, step.Empty)
		default:
			end.Text = e.text(svc, st, step.Text, "Count", len(out.Cases))
			for _, c := range out.Cases {
				end.Lines = append(end.Lines, e.caseLine(c))
			}
		}
	case StepCall:
		return e.completeCall(svc, step, st, out.Answer), nil
	case StepPay, StepBill:
		return e.completePay(svc, step, st, out.Pay), nil
	default:
		return Result{}, channels.Errorf(channels.EINVALID, "error.session_unknown", "step %s/%s makes no call", svc.ID, step.ID)
	}
	return Result{State: st, Screen: end}, nil
}

// caseLine is the one-line status of a case shown by lookups.
func (e *Engine) caseLine(c *channels.Case) channels.Message {
	title := channels.Message{ID: c.Service}
	if svc := e.catalog.Service(c.Service); svc != nil {
		title.ID = svc.Title
	}
	status := channels.Msg("status." + string(c.Status))
	last := ""
	if len(c.History) > 0 {
		last = c.History[len(c.History)-1].Note
	}
	if note := CitizenNote(c.Status, last, maxNote); note != "" {
		return channels.Msg("case.line.note", "Reference", c.Ref, "Service", title, "Status", status, "Note", note)
	}
	return channels.Msg("case.line", "Reference", c.Ref, "Service", title, "Status", status)
}

// maxNote is how many characters of an agency's note a case line shows.
const maxNote = 120

// CitizenNote returns the part of an agency's note on a change to status
// that the citizen is shown: the question when the agency waits for
// information, the reason of a rejection, the instructions for
// collection; "" for other statuses, whose notes are the agency's own. The
// note is put on one line and cut to max characters, ending in "..."
// (GSM-7, where "…" would make the whole SMS UCS-2).
func CitizenNote(status channels.Status, note string, max int) string {
	switch status {
	case channels.StatusMoreInfo, channels.StatusRejected, channels.StatusReady:
	default:
		return ""
	}
	note = strings.Join(strings.Fields(note), " ")
	if r := []rune(note); len(r) > max {
		note = strings.TrimSpace(string(r[:max-3])) + "..."
	}
	return note
}

// Screen re-renders the screen st is waiting on, for a session resumed after
// a drop. It fails for a state waiting on no input.
func (e *Engine) Screen(st State) (channels.Screen, error) {
	if st.Service == "" {
		if st.Step == langStep {
			return e.langMenu(st).Screen, nil
		}
		return e.home(st).Screen, nil
	}
	svc, step, err := e.current(st)
	if err != nil {
		return channels.Screen{}, err
	}
	switch step.Kind {
	case StepMenu, StepInput, StepConfirm, StepPay:
		if r := e.enter(svc, step.ID, st); r.Call == nil {
			return r.Screen, nil
		}
	}
	return channels.Screen{}, channels.Errorf(channels.EINVALID, "error.session_unknown", "step %s/%s waits for no input", svc.ID, step.ID)
}

// Waiting reports whether st waits for the citizen's input mid-service (not
// on a root menu), the kind of session worth offering to resume.
func (e *Engine) Waiting(st State) bool {
	if st.Service == "" {
		return false
	}
	_, step, err := e.current(st)
	return err == nil && (step.Kind == StepMenu || step.Kind == StepInput || step.Kind == StepConfirm || step.Kind == StepPay)
}

func (e *Engine) current(st State) (*Service, *Step, error) {
	svc := e.catalog.Service(st.Service)
	if svc == nil {
		return nil, nil, channels.Errorf(channels.EINVALID, "error.session_unknown", "service %q not in catalog", st.Service)
	}
	step := svc.steps[st.Step]
	if step == nil {
		return nil, nil, channels.Errorf(channels.EINVALID, "error.session_unknown", "step %s/%s not in catalog", st.Service, st.Step)
	}
	return svc, step, nil
}

// matchOption finds the option a citizen chose by its number or its value.
func matchOption(opts []*Option, text string) *Option {
	text = strings.TrimSpace(text)
	if n, err := strconv.Atoi(text); err == nil && n >= 1 && n <= len(opts) {
		return opts[n-1]
	}
	for _, o := range opts {
		if strings.EqualFold(o.Value, text) {
			return o
		}
	}
	return nil
}

// next decides where the flow goes after step: the chosen option's next,
// else the first branch whose condition holds, else the step's next.
func (e *Engine) next(svc *Service, step *Step, optionNext string, st State) (string, error) {
	if optionNext != "" {
		return optionNext, nil
	}
	if len(step.Branches) > 0 {
		env := exprEnv{Answers: map[string]string{}, Result: e.results(svc, st).raw, Channel: string(st.Channel)}
		for _, a := range st.answers(svc) {
			env.Answers[a.Field] = a.Value
		}
		for _, b := range step.Branches {
			ok, err := vm.Run(b.program, env)
			if err != nil {
				return "", fmt.Errorf("service %s step %s: branch %q: %w", svc.ID, step.ID, b.If, err)
			}
			if ok == true {
				return b.Next, nil
			}
		}
	}
	return step.Next, nil
}

// enter moves st onto the step id and returns its screen, or the call it
// needs first.
func (e *Engine) enter(svc *Service, id string, st State) Result {
	step := svc.steps[id]
	st.Step = id
	r := Result{State: st}
	if step.showsAlternative(st.Channel) {
		r.Screen = alternativeScreen(svc, step)
		return r
	}
	sc := channels.Screen{Service: svc.ID, Step: id, Text: e.text(svc, st, step.Text), CanGoBack: true}
	switch step.Kind {
	case StepMenu:
		sc.Kind = channels.KindMenu
		cs := e.choices(svc, step, st)
		sc.Options = make([]channels.Option, len(cs))
		for i, c := range cs {
			sc.Options[i] = channels.Option{Key: strconv.Itoa(i + 1), Text: c.text}
		}
	case StepInput:
		sc.Kind = channels.KindInput
		sc.Input = e.inputSpec(step)
	case StepConfirm:
		sc.Kind = channels.KindConfirm
		for _, f := range step.Summary {
			if line, ok := e.summaryLine(svc, st, f); ok {
				sc.Lines = append(sc.Lines, line)
			}
		}
		if line, ok := e.feeLine(svc, step, st); ok {
			sc.Lines = append(sc.Lines, line)
		}
		sc.Options = []channels.Option{
			{Key: "1", Text: channels.Msg("confirm.yes")},
			{Key: "2", Text: channels.Msg("confirm.cancel")},
		}
	case StepEnd:
		sc.Kind = channels.KindEnd
		sc.CanGoBack = false
		sc.Reference = keptReference(svc, st)
	case StepSubmit:
		r.Call = &Call{Kind: CallSubmit, Service: svc.ID, Agency: svc.Agency, Lang: st.Lang, Channel: st.Channel, Answers: st.answers(svc)}
		if step.Action == ActionAnswerInfo {
			r.Call.Kind, r.Call.Agency = CallAnswer, ""
			r.Call.Ref, _ = st.answer(svc, step.Field)
			r.Call.Answers = slices.DeleteFunc(r.Call.Answers, func(a channels.Answer) bool { return !slices.Contains(step.Summary, a.Field) })
		}
		return r
	case StepCall:
		r.Call = e.enterCall(svc, step, st)
		return r
	case StepPay:
		return e.enterPay(svc, step, st, sc)
	case StepBill:
		r.Call = &Call{Kind: CallBill, Service: svc.ID, Lang: st.Lang, Channel: st.Channel, Step: step.ID}
		r.Call.Ref, _ = st.answer(svc, step.Field)
		return r
	case StepLookup:
		r.Call = &Call{Kind: CallMyCases, Service: svc.ID, Lang: st.Lang, Channel: st.Channel}
		if step.Lookup == LookupCase {
			r.Call.Kind = CallCase
			r.Call.Ref, _ = st.answer(svc, step.Field)
		}
		return r
	}
	r.Screen = sc
	return r
}

// summaryLine shows one answer on a confirm screen: the field's label and
// its value (a menu choice by its localized text, a secret masked).
func (e *Engine) summaryLine(svc *Service, st State, field string) (channels.Message, bool) {
	for i := len(st.Trail) - 1; i >= 0; i-- {
		step := svc.steps[st.Trail[i].Step]
		if step == nil || step.Field != field {
			continue
		}
		if step.showsAlternative(st.Channel) {
			return channels.Message{}, false // nothing was given here
		}
		var value any = st.Trail[i].Value
		switch {
		case step.Secret:
			value = "****"
		case step.Kind == StepMenu && step.OptionsFrom != "":
			if v := e.results(svc, st).display[field]; v != "" {
				value = v
			}
			for _, o := range step.Options {
				if o.Value == st.Trail[i].Value {
					value = channels.Msg(o.Text)
				}
			}
		case step.Kind == StepMenu:
			for _, o := range step.Options {
				if o.Value == st.Trail[i].Value {
					value = channels.Msg(o.Text)
				}
			}
		case step.Type == channels.InputDate:
			if d, err := time.Parse(time.DateOnly, st.Trail[i].Value); err == nil {
				value = d.Format("02/01/2006")
			}
		}
		return channels.Msg("summary.line", "Label", channels.Msg(step.Label), "Value", value), true
	}
	return channels.Message{}, false
}

// inputSpec describes an input step for channels, its bounds resolved today.
func (e *Engine) inputSpec(step *Step) *channels.Input {
	in := &channels.Input{
		Field:     step.Field,
		Type:      step.Type,
		MinLength: step.MinLength,
		MaxLength: step.MaxLength,
		Secret:    step.Secret,
	}
	if step.pattern != nil {
		in.Pattern = step.pattern.String()
	}
	switch step.Type {
	case channels.InputNumber:
		in.Min, in.Max = step.Min, step.Max
	case channels.InputDate:
		now := e.now()
		if step.min.set {
			in.Min = step.min.resolveDate(now).Format(time.DateOnly)
		}
		if step.max.set {
			in.Max = step.max.resolveDate(now).Format(time.DateOnly)
		}
	}
	return in
}

// retry shows step again with the reason its input was refused.
func (e *Engine) retry(svc *Service, step *Step, st State, why *channels.Message) Result {
	r := e.enter(svc, step.ID, st)
	r.Screen.Error = why
	return r
}

// back returns to the previous step, dropping its answer; from a service's
// first step or the language menu it returns to the root menu.
func (e *Engine) back(st State) (Result, error) {
	if st.Service == "" {
		return e.home(st), nil
	}
	svc := e.catalog.Service(st.Service)
	if svc == nil || len(st.Trail) == 0 {
		return e.home(State{Lang: st.Lang, Channel: st.Channel}), nil
	}
	return e.backWith(svc, st, nil)
}

// backWith returns to the step before the current one, showing why. With
// no step before (a state the loader's checks do not produce, such as a
// submission at a service's start) it returns to the root menu instead.
func (e *Engine) backWith(svc *Service, st State, why *channels.Message) (Result, error) {
	if len(st.Trail) == 0 {
		r := e.home(State{Lang: st.Lang, Channel: st.Channel})
		r.Screen.Error = why
		return r, nil
	}
	last := st.Trail[len(st.Trail)-1]
	st.Trail = st.Trail[:len(st.Trail)-1]
	// A call or a submission that went on shows nothing to return to:
	// back passes it, to the screen before, instead of asking again.
	for len(st.Trail) > 0 {
		if s := svc.steps[last.Step]; s == nil || (s.Kind != StepCall && s.Kind != StepSubmit && s.Kind != StepBill) {
			break
		}
		last = st.Trail[len(st.Trail)-1]
		st.Trail = st.Trail[:len(st.Trail)-1]
	}
	if s := svc.steps[last.Step]; s != nil && (s.Kind == StepCall || s.Kind == StepSubmit || s.Kind == StepBill) {
		r := e.home(State{Lang: st.Lang, Channel: st.Channel})
		r.Screen.Error = why
		return r, nil
	}
	if svc.steps[last.Step] == nil {
		return Result{}, channels.Errorf(channels.EINVALID, "error.session_unknown", "step %s/%s not in catalog", svc.ID, last.Step)
	}
	r := e.enter(svc, last.Step, st)
	r.Screen.Error = why
	return r, nil
}

// home is the root menu: every service, then the language menu.
func (e *Engine) home(st State) Result {
	st.Service, st.Step, st.Trail = "", homeStep, nil
	sc := channels.Screen{Kind: channels.KindMenu, Text: channels.Msg("home.title")}
	sc.Options = make([]channels.Option, 0, len(e.catalog.Services)+1)
	for i, svc := range e.catalog.Services {
		sc.Options = append(sc.Options, channels.Option{Key: strconv.Itoa(i + 1), Text: channels.Msg(svc.Title)})
	}
	if len(e.langs) > 1 {
		sc.Options = append(sc.Options, channels.Option{Key: strconv.Itoa(len(sc.Options) + 1), Text: channels.Msg("home.language")})
	}
	return Result{State: st, Screen: sc}
}

func (e *Engine) langMenu(st State) Result {
	st.Service, st.Step, st.Trail = "", langStep, nil
	sc := channels.Screen{Kind: channels.KindMenu, Step: langStep, Text: channels.Msg("lang.prompt"), CanGoBack: true}
	for i, l := range e.langs {
		sc.Options = append(sc.Options, channels.Option{Key: strconv.Itoa(i + 1), Text: channels.Message{ID: "lang.name", Lang: l}})
	}
	return Result{State: st, Screen: sc}
}

// chooseHome handles an answer on the root or language menu.
func (e *Engine) chooseHome(st State, text string) (Result, error) {
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if st.Step == langStep {
		if err != nil || n < 1 || n > len(e.langs) {
			r := e.langMenu(st)
			r.Screen.Error = msgPtr("error.choice")
			return r, nil
		}
		st.Lang = e.langs[n-1]
		r := e.home(st)
		r.Lang = st.Lang
		return r, nil
	}
	switch {
	case err == nil && n >= 1 && n <= len(e.catalog.Services):
		svc := e.catalog.Services[n-1]
		st.Service, st.Trail = svc.ID, nil
		return e.begin(svc, st), nil
	case err == nil && n == len(e.catalog.Services)+1 && len(e.langs) > 1:
		return e.langMenu(st), nil
	}
	r := e.home(st)
	r.Screen.Error = msgPtr("error.choice")
	return r, nil
}

package flows

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"gopkg.in/yaml.v3"

	"github.com/govchannels/channels"
)

// Catalog is the set of services a deployment offers, in root-menu order.
type Catalog struct {
	Services []*Service
	byID     map[string]*Service
}

// Service returns the service with the given ID, or nil.
func (c *Catalog) Service(id string) *Service { return c.byID[id] }

// Problem is one thing wrong with a service definition, located by file and
// line so its author can find it.
type Problem struct {
	File   string
	Line   int
	Reason string
}

func (p Problem) String() string { return position(p.File, p.Line) + ": " + p.Reason }

// Problems is every problem found while loading a catalog.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Load reads every *.yaml and *.yml file at the root of fsys as one service
// each, and checks the whole catalog. On any problem it returns Problems,
// each with file, line and reason.
func Load(fsys fs.FS) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read service catalog: %w", err)
	}
	var ps Problems
	c := &Catalog{byID: map[string]*Service{}}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (path.Ext(name) != ".yaml" && path.Ext(name) != ".yml") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read service %s: %w", name, err)
		}
		s, err := Parse(name, data)
		if err != nil {
			var fp Problems
			if errors.As(err, &fp) {
				ps = append(ps, fp...)
				continue
			}
			return nil, err
		}
		if prev := c.byID[s.ID]; prev != nil {
			ps = append(ps, Problem{name, s.Line, fmt.Sprintf("service id %q is already used by %s", s.ID, position(prev.File, prev.Line))})
			continue
		}
		c.byID[s.ID] = s
		c.Services = append(c.Services, s)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if len(c.Services) == 0 {
		return nil, Problems{{File: ".", Reason: "no service definitions (*.yaml) found"}}
	}
	sort.SliceStable(c.Services, func(i, j int) bool {
		if c.Services[i].Order != c.Services[j].Order {
			return c.Services[i].Order < c.Services[j].Order
		}
		return c.Services[i].ID < c.Services[j].ID
	})
	return c, nil
}

// maxYAMLSize bounds a service file; a larger one is refused before parsing.
const maxYAMLSize = 1 << 20

// Parse reads and checks one service definition. file names it in problems.
func Parse(file string, data []byte) (*Service, error) {
	if len(data) > maxYAMLSize {
		return nil, Problems{{File: file, Reason: fmt.Sprintf("file is larger than %d bytes", maxYAMLSize)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Service
	if err := dec.Decode(&s); err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Problems{{File: file, Line: extra.Line, Reason: "one service per file: found a second YAML document"}}
	}
	s.File = file
	if ps := s.check(); len(ps) > 0 {
		return nil, ps
	}
	return &s, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlProblem turns a yaml.v3 error into a Problem with the line it names.
func yamlProblem(file string, err error) Problem {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Reason: m[2]}
	}
	if errors.Is(err, io.EOF) {
		return Problem{File: file, Reason: "the file is empty"}
	}
	return Problem{File: file, Reason: msg}
}

// UnmarshalYAML records the line of the service.
func (s *Service) UnmarshalYAML(n *yaml.Node) error {
	type plain Service
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a service must be a mapping of id, title, steps", n.Line)}}
	}
	if err := knownFields(n, plain{}, "service"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.Line = n.Line
	return nil
}

// UnmarshalYAML records the line of the step.
func (st *Step) UnmarshalYAML(n *yaml.Node) error {
	type plain Step
	if err := knownFields(n, plain{}, "step"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(st)); err != nil {
		return err
	}
	st.Line = n.Line
	return nil
}

// UnmarshalYAML records the line of the option.
func (o *Option) UnmarshalYAML(n *yaml.Node) error {
	type plain Option
	if err := knownFields(n, plain{}, "option"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(o)); err != nil {
		return err
	}
	o.Line = n.Line
	return nil
}

// UnmarshalYAML records the line of the branch.
func (b *Branch) UnmarshalYAML(n *yaml.Node) error {
	type plain Branch
	if err := knownFields(n, plain{}, "branch"); err != nil {
		return err
	}
	if err := n.Decode((*plain)(b)); err != nil {
		return err
	}
	b.Line = n.Line
	return nil
}

// knownFields refuses keys of the mapping n that no yaml tag of the struct
// v names. yaml.v3 checks known fields only on its top-level decoder, not
// inside a custom UnmarshalYAML, so the loader checks them itself.
func knownFields(n *yaml.Node, v any, what string) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	t := reflect.TypeOf(v)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		found := false
		for j := 0; j < t.NumField() && !found; j++ {
			name, _, _ := strings.Cut(t.Field(j).Tag.Get("yaml"), ",")
			found = name != "" && name != "-" && name == key.Value
		}
		if !found {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in %s", key.Line, key.Value, what)}}
		}
	}
	return nil
}

// Default length bounds keep a typed answer within one USSD or SMS reply.
const (
	defaultMaxLength = 160
	maxMenuOptions   = 20
)

// check validates the service and prepares it for the engine: it indexes
// steps, compiles patterns and expressions and resolves bounds.
func (s *Service) check() Problems {
	var ps Problems
	add := func(line int, format string, args ...any) {
		ps = append(ps, Problem{File: s.File, Line: line, Reason: fmt.Sprintf(format, args...)})
	}
	if !idPattern.MatchString(s.ID) {
		add(s.Line, "service id %q must be lower-case letters, digits and _ (starting with a letter)", s.ID)
	}
	if s.Title == "" {
		add(s.Line, "service %q has no title (a message ID)", s.ID)
	}
	if len(s.Steps) == 0 {
		add(s.Line, "service %q has no steps", s.ID)
		return ps
	}
	s.steps = make(map[string]*Step, len(s.Steps))
	fields := map[string]bool{}
	for _, st := range s.Steps {
		if st == nil {
			add(s.Line, "empty step")
			continue
		}
		if !idPattern.MatchString(st.ID) {
			add(st.Line, "step id %q must be lower-case letters, digits and _ (starting with a letter)", st.ID)
		} else if prev := s.steps[st.ID]; prev != nil {
			add(st.Line, "step id %q is already used at line %d", st.ID, prev.Line)
		} else {
			s.steps[st.ID] = st
		}
		if st.Field != "" {
			fields[st.Field] = true
		}
	}
	if len(ps) > 0 {
		return ps
	}
	if s.Start == "" {
		s.Start = s.Steps[0].ID
	} else if s.steps[s.Start] == nil {
		add(s.Line, "start step %q does not exist", s.Start)
	}
	if first := s.steps[s.Start]; first != nil && first.Kind == StepSubmit {
		// The engine returns a failed submission to the step before it.
		add(first.Line, "step %q: a service cannot start with a submit: the citizen would confirm nothing, and a failed submission would have no step to return to; put a confirm step before it", first.ID)
	}
	for _, st := range s.Steps {
		for _, p := range st.check(s, fields) {
			add(st.Line, "step %q: %s", st.ID, p)
		}
	}
	if len(ps) > 0 {
		return ps
	}
	ps = append(ps, s.checkGraph()...)
	return ps
}

// targetCheck reports a next that names no step.
func (s *Service) targetCheck(next string) string {
	if next != "" && s.steps[next] == nil {
		return fmt.Sprintf("next step %q does not exist", next)
	}
	return ""
}

// exprEnv is what a branch condition can see.
type exprEnv struct {
	Answers map[string]string `expr:"answers"`
	Result  map[string]string `expr:"result"`
	Channel string            `expr:"channel"`
}

func (st *Step) check(s *Service, fields map[string]bool) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	// A call and a submission that goes on show nothing themselves.
	if st.Text == "" && st.Kind != StepCall && st.Kind != StepBill && !(st.Kind == StepSubmit && st.Next != "") {
		bad("text (a message ID) is required")
	}
	if st.Kind != StepCall {
		ps = append(ps, st.notCall()...)
	}
	if st.Kind != StepPay && (st.Fee != nil || st.Reference != "") {
		bad("fee and reference apply to pay steps only, not a %s step", st.Kind)
	}
	if st.OptionsFrom != "" && st.Kind != StepMenu {
		bad("options_from applies to menus only")
	}
	terminal := false
	switch st.Kind {
	case StepMenu:
		if st.Field == "" {
			bad("a menu needs a field to store the choice in")
		}
		if st.OptionsFrom != "" {
			ps = append(ps, st.checkOptionsFrom(s)...)
		} else if len(st.Options) == 0 {
			bad("a menu needs options")
		}
		if len(st.Options) > maxMenuOptions {
			bad("a menu may have at most %d options", maxMenuOptions)
		}
		seen := map[string]bool{}
		for i, o := range st.Options {
			if o == nil {
				bad("option %d is empty", i+1)
				continue
			}
			if o.Value == "" || o.Text == "" {
				bad("option %d needs a value and a text", i+1)
			}
			if seen[o.Value] {
				bad("option value %q appears twice", o.Value)
			}
			seen[o.Value] = true
			if p := s.targetCheck(o.Next); p != "" {
				bad("option %q: %s", o.Value, p)
			}
			if o.Next == "" && st.Next == "" && len(st.Branches) == 0 {
				bad("option %q leads nowhere: give it or the step a next", o.Value)
			}
		}
	case StepInput:
		if st.Field == "" {
			bad("an input needs a field to store the answer in")
		}
		bad2 := st.checkInput()
		ps = append(ps, bad2...)
		if st.Next == "" {
			bad("an input needs a next step")
		}
	case StepConfirm:
		if len(st.Summary) == 0 {
			bad("a confirm step needs a summary of fields")
		}
		for _, f := range st.Summary {
			if !fields[f] {
				bad("summary field %q is not set by any step", f)
			}
		}
		if st.Next == "" {
			bad("a confirm step needs a next step")
		}
	case StepCall:
		ps = append(ps, st.checkCall(s)...)
	case StepPay:
		ps = append(ps, st.checkPay(s)...)
	case StepBill:
		ps = append(ps, st.checkBill(s, fields)...)
	case StepSubmit, StepEnd:
		terminal = st.Kind == StepEnd || st.Next == ""
		if st.Kind == StepSubmit && st.Next != "" {
			switch {
			case st.Action != "":
				bad("only a submit that creates a case can go on to a next step")
			case !idPattern.MatchString(st.Field):
				bad("a submit that goes on needs a field to keep the case's reference in (lower-case letters, digits and _)")
			case len(st.Branches) > 0:
				bad("a submit that goes on takes a next, not branches")
			}
		}
		for _, f := range st.Summary {
			if !fields[f] {
				bad("summary field %q is not set by any step", f)
			}
		}
		switch {
		case st.Kind == StepEnd && st.Action != "":
			bad("only a submit step has an action")
		case st.Action == ActionAnswerInfo && (st.Field == "" || !fields[st.Field]):
			bad("action %q needs the field that holds the reference", ActionAnswerInfo)
		case st.Action == ActionAnswerInfo && len(st.Summary) == 0:
			bad("action %q needs a summary: the fields that make the citizen's answer", ActionAnswerInfo)
		case st.Action != "" && st.Action != ActionAnswerInfo:
			bad("action must be empty (create a case) or %q, not %q", ActionAnswerInfo, st.Action)
		}
	case StepLookup:
		terminal = true
		switch st.Lookup {
		case LookupCase:
			if st.Field == "" || !fields[st.Field] {
				bad("a lookup of %q needs the field that holds the reference", LookupCase)
			}
		case LookupMyCases:
		default:
			bad("lookup must be %q or %q, not %q", LookupCase, LookupMyCases, st.Lookup)
		}
		if st.Empty == "" {
			bad("a lookup needs an empty text (a message ID) for when nothing is found")
		}
	case "":
		bad("kind is required (menu, input, confirm, submit, lookup, call, pay, bill or end)")
	default:
		bad("unknown kind %q (menu, input, confirm, submit, lookup, call, pay, bill or end)", st.Kind)
	}
	if terminal && (st.Next != "" || len(st.Branches) > 0) {
		bad("a %s step ends the flow: it cannot have next or branches", st.Kind)
	}
	if st.Kind == StepCall || st.Kind == StepPay || st.Kind == StepBill || (st.Kind == StepSubmit && st.Next != "") {
		s.results = true
	}
	ps = append(ps, st.checkNeeds()...)
	if p := s.targetCheck(st.Next); p != "" {
		bad("%s", p)
	}
	for i, b := range st.Branches {
		if b == nil || b.If == "" || b.Next == "" {
			bad("branch %d needs if and next", i+1)
			continue
		}
		prog, err := expr.Compile(b.If, expr.Env(exprEnv{}), expr.AsBool())
		if err != nil {
			bad("branch %d: condition %q: %s", i+1, b.If, firstLine(err.Error()))
		}
		b.program = prog
		if p := s.targetCheck(b.Next); p != "" {
			bad("branch %d: %s", i+1, p)
		}
	}
	if st.Label == "" {
		st.Label = st.Text
	}
	return ps
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkNeeds validates what a step needs from the channel and its
// alternative. Whether a step that needs something has an alternative is
// for the lint (Catalog.Lint) to report, not the loader.
func (st *Step) checkNeeds() []string {
	var ps []string
	for _, c := range st.Needs {
		if !c.Known() {
			ps = append(ps, fmt.Sprintf("unknown capability %q in needs (known: %s)", c, names(Capabilities())))
		}
	}
	switch {
	case len(st.Needs) == 0 && st.Alternative != "":
		ps = append(ps, "an alternative is shown instead of a step that needs something: declare needs")
	case len(st.Needs) == 0:
	case st.Kind != StepMenu && st.Kind != StepInput:
		ps = append(ps, fmt.Sprintf("only a menu or an input can need something, not a %s step", st.Kind))
	case st.Next == "":
		ps = append(ps, "a step that needs something needs a next: where the alternative is shown, the flow goes on there")
	}
	return ps
}

// checkInput validates an input step's type and bounds and resolves them.
func (st *Step) checkInput() []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	switch st.Type {
	case channels.InputText, channels.InputNationalID:
		if st.MaxLength == 0 {
			st.MaxLength = defaultMaxLength
		}
	case channels.InputNumber, channels.InputDate, channels.InputPhone, channels.InputReference:
	case "":
		bad("an input needs a type (text, number, date, phone, national_id or reference)")
	default:
		bad("unknown input type %q", st.Type)
	}
	if st.MinLength < 0 || st.MaxLength < 0 || (st.MaxLength > 0 && st.MinLength > st.MaxLength) {
		bad("min_length %d and max_length %d do not make a range", st.MinLength, st.MaxLength)
	}
	if st.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + st.Pattern + `)$`)
		if err != nil {
			bad("pattern %q: %s", st.Pattern, err)
		}
		st.pattern = re
	}
	switch st.Check {
	case "", "luhn":
	default:
		bad("unknown check %q (only luhn)", st.Check)
	}
	var err error
	switch st.Type {
	case channels.InputNumber:
		if st.min, err = parseNumberBound(st.Min); err != nil {
			bad("min: %s", err)
		}
		if st.max, err = parseNumberBound(st.Max); err != nil {
			bad("max: %s", err)
		}
		if st.min.set && st.max.set && st.min.number > st.max.number {
			bad("min %s is above max %s", st.Min, st.Max)
		}
	case channels.InputDate:
		if st.min, err = parseDateBound(st.Min); err != nil {
			bad("min: %s", err)
		}
		if st.max, err = parseDateBound(st.Max); err != nil {
			bad("max: %s", err)
		}
	default:
		if st.Min != "" || st.Max != "" {
			bad("min and max apply to number and date inputs only")
		}
	}
	if st.Landline && st.Type != channels.InputPhone {
		bad("landline applies to phone inputs only")
	}
	return ps
}

func parseNumberBound(s string) (bound, error) {
	if s == "" {
		return bound{}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return bound{}, fmt.Errorf("%q is not a number", s)
	}
	return bound{set: true, number: f, literal: s}, nil
}

var relDate = regexp.MustCompile(`^today(?:([+-])(\d+)([yd]))?$`)

// parseDateBound reads "today", "today-120y", "today+30d" or "2006-01-02".
func parseDateBound(s string) (bound, error) {
	if s == "" {
		return bound{}, nil
	}
	if m := relDate.FindStringSubmatch(s); m != nil {
		b := bound{set: true, today: true, literal: s}
		if m[1] != "" {
			n, _ := strconv.Atoi(m[2])
			if m[1] == "-" {
				n = -n
			}
			if m[3] == "y" {
				b.years = n
			} else {
				b.days = n
			}
		}
		return b, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return bound{}, fmt.Errorf("%q is not a date (YYYY-MM-DD, today, today-120y or today+30d)", s)
	}
	return bound{set: true, date: d, literal: s}, nil
}

// checkGraph proves that every step is reachable from the start and that
// from every step some path reaches an end.
func (s *Service) checkGraph() Problems {
	var ps Problems
	succ := func(st *Step) []string {
		var out []string
		if st.Next != "" {
			out = append(out, st.Next)
		}
		for _, o := range st.Options {
			if o.Next != "" {
				out = append(out, o.Next)
			}
		}
		for _, b := range st.Branches {
			out = append(out, b.Next)
		}
		for _, x := range st.stepExits() {
			out = append(out, x.Step)
		}
		return out
	}
	reached := map[string]bool{s.Start: true}
	queue := []string{s.Start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, n := range succ(s.steps[id]) {
			if !reached[n] {
				reached[n] = true
				queue = append(queue, n)
			}
		}
	}
	ends := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, st := range s.Steps {
			if ends[st.ID] {
				continue
			}
			terminal := (st.Kind == StepSubmit && st.Next == "") || st.Kind == StepEnd || st.Kind == StepLookup
			for _, n := range succ(st) {
				terminal = terminal || ends[n]
			}
			if terminal {
				ends[st.ID] = true
				changed = true
			}
		}
	}
	for _, st := range s.Steps {
		switch {
		case !reached[st.ID]:
			ps = append(ps, Problem{s.File, st.Line, fmt.Sprintf("step %q cannot be reached from the start step %q", st.ID, s.Start)})
		case !ends[st.ID]:
			ps = append(ps, Problem{s.File, st.Line, fmt.Sprintf("step %q never reaches an end: every path from it loops", st.ID)})
		}
	}
	return ps
}

// MessageRef is a message ID used by a service definition, and where.
type MessageRef struct {
	ID   string
	File string
	Line int
}

// Messages lists every message ID the catalog's services use, so a lint can
// check each exists in every locale.
func (c *Catalog) Messages() []MessageRef {
	var refs []MessageRef
	for _, s := range c.Services {
		refs = append(refs, MessageRef{s.Title, s.File, s.Line})
		if s.Keyword != "" {
			refs = append(refs, MessageRef{s.Keyword, s.File, s.Line})
		}
		for _, st := range s.Steps {
			ids := []string{st.Text, st.Empty, st.Alternative}
			if st.Label != st.Text {
				ids = append(ids, st.Label)
			}
			for _, id := range ids {
				if id != "" {
					refs = append(refs, MessageRef{id, s.File, st.Line})
				}
			}
			for _, o := range st.Options {
				refs = append(refs, MessageRef{o.Text, s.File, o.Line})
			}
			if st.Remind != nil && st.Remind.Text != "" {
				refs = append(refs, MessageRef{st.Remind.Text, s.File, st.Remind.Line})
			}
			if st.Kind == StepConfirm && s.steps[st.Next] != nil && s.steps[st.Next].Kind == StepPay {
				refs = append(refs, MessageRef{feeLineMessage, s.File, st.Line})
			}
			if st.OptionsFrom != "" {
				refs = append(refs, MessageRef{itemMessage, s.File, st.Line})
			}
		}
	}
	return refs
}

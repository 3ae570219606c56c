package flows

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Finding is one thing the equal-service lint found wrong, located as
// precisely as applies: the file and line of the definition, the service
// and step, the locale whose text is at fault, and the rule broken.
type Finding struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Service string `json:"service"`
	Step    string `json:"step"`
	Locale  string `json:"locale"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// String formats f for people: "file:line: step S, locale L: message [rule]",
// without the parts that do not apply.
func (f Finding) String() string {
	var where []string
	if f.Step != "" {
		where = append(where, "step "+f.Step)
	}
	if f.Locale != "" {
		where = append(where, "locale "+f.Locale)
	}
	s := position(f.File, f.Line) + ": "
	if len(where) > 0 {
		s += strings.Join(where, ", ") + ": "
	}
	return s + f.Message + " [" + f.Rule + "]"
}

// Findings is what a lint found, one finding a line when printed.
type Findings []Finding

func (fs Findings) Error() string {
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = f.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the findings by file, then line, keeping the order in which
// they were found within a line.
func (fs Findings) Sort() {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}

// The rules of the definition lint. The loader checks the first four over
// every way on a step declares; Lint checks them again over the ways the
// engine actually takes, and adds the others.
const (
	RuleLoad        = "load"        // the loader refused the definition (syntax, fields, kinds, bounds)
	RuleTarget      = "target"      // a next, option, branch or start names no step
	RuleUnreachable = "unreachable" // no way from the start step leads to the step
	RuleCycle       = "cycle"       // no way on from the step ever reaches an end: it loops
	RuleDeadEnd     = "dead-end"    // a way on that leads nowhere: a choice whose branches may all fail, with no next
	RuleCapability  = "capability"  // the step needs what some channel lacks and declares no alternative for it
)

// Way is one way on from a step, as the engine decides it: a menu choice
// with its own next, else the step's branches in order, else the step's
// next. To is "" for a way that leads nowhere.
type Way struct {
	To     string
	Option *Option // the choice that takes this way, when one alone does
	Branch *Branch // the condition that takes it, when one does
	// Otherwise is the step's next after branches that did not hold.
	Otherwise bool
	// Alternative marks the way on after the alternative, on channels
	// lacking what the step needs, where no choice of its own applies.
	Alternative bool
	// Outcome is the outcome of a call step's call that takes this way.
	Outcome CallOutcome
}

// Ways returns the ways on from st, a step of s, in the order the engine
// tries them. A step that ends the flow has none. A menu choice without a
// next of its own goes through the step's branches and next; when the step
// has no branches, that is drawn as the choice's own way to the next.
func (s *Service) Ways(st *Step) []Way {
	var ways []Way
	through := func(alt bool) {
		for _, b := range st.Branches {
			ways = append(ways, Way{To: b.Next, Branch: b, Alternative: alt})
		}
		ways = append(ways, Way{To: st.Next, Otherwise: len(st.Branches) > 0, Alternative: alt})
	}
	switch st.Kind {
	case StepMenu:
		shared := false
		for _, o := range st.Options {
			switch {
			case o.Next != "":
				ways = append(ways, Way{To: o.Next, Option: o})
			case len(st.Branches) > 0:
				shared = true
			default:
				ways = append(ways, Way{To: st.Next, Option: o})
			}
		}
		switch {
		case shared || st.OptionsFrom != "":
			// The items of a list have no next of their own.
			through(false)
		case len(st.Needs) > 0:
			through(true)
		}
	case StepInput, StepConfirm:
		through(false)
	case StepSubmit:
		if st.Next != "" {
			ways = append(ways, Way{To: st.Next})
		}
	case StepCall, StepPay, StepBill:
		for _, x := range st.stepExits() {
			ways = append(ways, Way{To: x.Step, Outcome: x.Outcome})
		}
	}
	return ways
}

// LoadEach reads fsys as Load does but goes on past a service that does
// not load: it returns the catalog of the services that load (nil when
// none does) and a finding for each problem of the others, so that a lint
// reports every file at once. Each finding of the loader is classified by
// rule and, where its line falls inside a step, names the step.
func LoadEach(fsys fs.FS) (*Catalog, Findings, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read service catalog: %w", err)
	}
	var found Findings
	files := map[string][]byte{}
	good := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (path.Ext(name) != ".yaml" && path.Ext(name) != ".yml") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, nil, fmt.Errorf("read service %s: %w", name, err)
		}
		files[name] = data
		var ps Problems
		if _, err := Parse(name, data); errors.As(err, &ps) {
			found = append(found, loaderFindings(data, ps)...)
			continue
		} else if err != nil {
			return nil, nil, err
		}
		good[name] = true
	}
	if len(files) == 0 {
		return nil, Findings{{File: ".", Rule: RuleLoad, Message: "no service definitions (*.yaml) found"}}, nil
	}
	// Load itself, on the files that parse, checks what spans files (a
	// service ID used twice); a file it refuses is left out in turn.
	for len(good) > 0 {
		c, err := Load(only{fsys, good})
		var ps Problems
		if !errors.As(err, &ps) {
			return c, found, err
		}
		dropped := false
		for _, p := range ps {
			found = append(found, loaderFindings(files[p.File], Problems{p})...)
			if good[p.File] {
				delete(good, p.File)
				dropped = true
			}
		}
		if !dropped {
			break
		}
	}
	return nil, found, nil
}

// only is fsys with its root listing cut down to the named files.
type only struct {
	fs.FS
	names map[string]bool
}

func (o only) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(o.FS, name)
	if name != "." {
		return entries, err
	}
	return slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return !o.names[e.Name()] }), err
}

// loaderFindings turns the loader's problems with one file into findings:
// the service and step come from the lines of the file's YAML, the rule
// from the kind of problem.
func loaderFindings(data []byte, ps Problems) Findings {
	service, steps := outline(data)
	out := make(Findings, 0, len(ps))
	for _, p := range ps {
		f := Finding{File: p.File, Line: p.Line, Service: service, Rule: loaderRule(p.Reason), Message: p.Reason}
		for _, st := range steps {
			if p.Line >= st.line {
				f.Step = st.id
			}
		}
		if f.Step != "" {
			// The step is named in front already.
			f.Message = strings.TrimPrefix(f.Message, fmt.Sprintf("step %q", f.Step))
			f.Message = strings.TrimPrefix(strings.TrimPrefix(f.Message, ":"), " ")
		}
		out = append(out, f)
	}
	return out
}

// loaderRule classifies a problem the loader reported by the words its
// checks use (flows/lint_test.go pins each).
func loaderRule(reason string) string {
	switch {
	case strings.Contains(reason, "step") && strings.Contains(reason, "does not exist"):
		return RuleTarget
	case strings.Contains(reason, "cannot be reached from the start step"):
		return RuleUnreachable
	case strings.Contains(reason, "never reaches an end"):
		return RuleCycle
	case strings.Contains(reason, "leads nowhere"):
		return RuleDeadEnd
	}
	return RuleLoad
}

type stepLine struct {
	id   string
	line int
}

// outline reads the service ID and the ID and line of each step from a
// definition, however broken the rest of it is; "" and none when the file
// is not YAML.
func outline(data []byte) (service string, steps []stepLine) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "", nil
	}
	root := doc.Content[0]
	value := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	if id := value(root, "id"); id != nil && id.Kind == yaml.ScalarNode {
		service = id.Value
	}
	if seq := value(root, "steps"); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, n := range seq.Content {
			if n.Kind != yaml.MappingNode {
				continue
			}
			if id := value(n, "id"); id != nil && id.Kind == yaml.ScalarNode {
				steps = append(steps, stepLine{id.Value, n.Line})
			}
		}
	}
	return service, steps
}

// Lint checks what the loader accepts but a citizen would still trip over,
// for every service of c:
//
//   - unreachable: a step that only a way the engine never takes leads to
//     (the next of a menu whose every choice has its own next);
//   - cycle: a step from which no way the engine takes reaches an end;
//   - dead-end: a choice that goes through the step's branches when no
//     branch holds and the step has no next;
//   - capability: a step that needs what some channel lacks (Needs) and
//     declares no Alternative for those channels;
//   - result: a call sending, a remind keyed by, or a menu offering what
//     some way from the start reaches it without setting.
//
// The texts of each step in each language are the channels' to check.
func (c *Catalog) Lint() Findings {
	var out Findings
	for _, s := range c.Services {
		out = append(out, s.lint()...)
	}
	return out
}

func (s *Service) lint() Findings {
	var out Findings
	add := func(line int, step, rule, format string, args ...any) {
		out = append(out, Finding{File: s.File, Line: line, Service: s.ID, Step: step, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	ways := make(map[string][]Way, len(s.Steps))
	for _, st := range s.Steps {
		ways[st.ID] = s.Ways(st)
	}
	reached := s.closure(s.Start, ways)
	ends := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, st := range s.Steps {
			if ends[st.ID] {
				continue
			}
			end := len(ways[st.ID]) == 0 // a step without ways on ends the flow
			for _, w := range ways[st.ID] {
				end = end || ends[w.To]
			}
			if end {
				ends[st.ID], changed = true, true
			}
		}
	}
	for _, st := range s.Steps {
		switch {
		case !reached[st.ID]:
			add(st.Line, st.ID, RuleUnreachable, "cannot be reached from the start step %q%s", s.Start, s.unusedWay(st.ID, reached, ways))
		case !ends[st.ID]:
			var loop []string
			onward := s.closure(st.ID, ways)
			for _, o := range s.Steps {
				if onward[o.ID] {
					loop = append(loop, o.ID)
				}
			}
			add(st.Line, st.ID, RuleCycle, "never reaches an end: every way on loops through %s", strings.Join(loop, ", "))
		}
		for _, w := range ways[st.ID] {
			if w.To == "" {
				out = append(out, s.deadEnd(st, w)...)
			}
		}
		if len(st.Needs) > 0 && st.Alternative == "" {
			add(st.Line, st.ID, RuleCapability, "needs %s, which %s cannot do, and declares no alternative for them (alternative: a message ID, such as one saying to bring the document to a kiosk)",
				names(st.Needs), names(st.LackingChannels()))
		}
	}
	out = append(out, s.resultFindings(ways, reached)...)
	return out
}

// deadEnd reports a way on from st that leads nowhere: the choices that
// take it, each at its line, else the step.
func (s *Service) deadEnd(st *Step, w Way) Findings {
	var out Findings
	add := func(line int, what string) {
		why := "leads nowhere: give it or the step a next"
		if len(st.Branches) > 0 {
			why = "goes on through the branches, and when none holds the step has no next: give it a next"
		}
		out = append(out, Finding{File: s.File, Line: line, Service: s.ID, Step: st.ID, Rule: RuleDeadEnd, Message: what + " " + why})
	}
	switch {
	case w.Option != nil:
		add(w.Option.Line, fmt.Sprintf("choice %q", w.Option.Value))
	case w.Alternative:
		add(st.Line, "the way on after the alternative")
	case st.Kind == StepMenu:
		for _, o := range st.Options {
			if o.Next == "" {
				add(o.Line, fmt.Sprintf("choice %q", o.Value))
			}
		}
	default:
		add(st.Line, "the answer")
	}
	return out
}

// closure returns the steps reachable from id along ways, id included.
func (s *Service) closure(id string, ways map[string][]Way) map[string]bool {
	seen := map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, w := range ways[cur] {
			if w.To != "" && !seen[w.To] {
				seen[w.To] = true
				queue = append(queue, w.To)
			}
		}
	}
	return seen
}

// unusedWay explains why a step the loader found reachable is not: a
// reached menu names it as next or branch target, but every choice of that
// menu has its own next.
func (s *Service) unusedWay(id string, reached map[string]bool, ways map[string][]Way) string {
	for _, st := range s.Steps {
		if !reached[st.ID] || st.Kind != StepMenu {
			continue
		}
		declared := st.Next == id
		for _, b := range st.Branches {
			declared = declared || b.Next == id
		}
		taken := false
		for _, w := range ways[st.ID] {
			taken = taken || w.To == id
		}
		if declared && !taken {
			return fmt.Sprintf(": every choice of step %q has its own next, so its next and branches are never taken", st.ID)
		}
	}
	return ""
}

// MessageUse is a message ID a service definition uses, where, and in
// which service and step (none for the service's title and keyword).
type MessageUse struct {
	MessageRef
	Service string
	Step    string
}

// MessageUses lists the message IDs of Messages with the service and step
// that use each.
func (c *Catalog) MessageUses() []MessageUse {
	type place struct{ service, step string }
	at := map[string]place{} // "file:line"
	key := func(file string, line int) string { return fmt.Sprintf("%s:%d", file, line) }
	for _, s := range c.Services {
		at[key(s.File, s.Line)] = place{s.ID, ""}
		for _, st := range s.Steps {
			at[key(s.File, st.Line)] = place{s.ID, st.ID}
			for _, o := range st.Options {
				at[key(s.File, o.Line)] = place{s.ID, st.ID}
			}
			if st.Remind != nil {
				at[key(s.File, st.Remind.Line)] = place{s.ID, st.ID}
			}
		}
	}
	refs := c.Messages()
	out := make([]MessageUse, len(refs))
	for i, r := range refs {
		p := at[key(r.File, r.Line)]
		out[i] = MessageUse{MessageRef: r, Service: p.service, Step: p.step}
	}
	return out
}

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// The diagrams of the shipped services in docs/services are what graph
// draws now, in English; the test that checks them rewrites them with
// -update (SVG only where Graphviz's dot is installed).
//go:generate go test -run ^TestServiceDiagramsCurrent$ . -update

// runGraph is `channels graph SERVICE`: the flow as a Mermaid or Graphviz
// diagram (DOT, or SVG rendered by Graphviz's dot), steps labelled in a
// chosen language, so that a reviewer can see a service before it goes
// live.
func runGraph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "mermaid", "mermaid, dot, or svg (dot rendered by Graphviz, which must be installed)")
	lang := fs.String("lang", "en", "language of the labels")
	services := fs.String("services", "", "service catalog directory (default: the shipped catalog)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels graph [-format mermaid|dot|svg] [-lang LANG] [-services DIR] SERVICE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*format != "mermaid" && *format != "dot" && *format != "svg") {
		fs.Usage()
		return 2
	}
	cat, bundle, err := catalog(*services)
	if err != nil {
		fmt.Fprintf(stderr, "channels graph: %v\n", err)
		return 1
	}
	svc := cat.Service(fs.Arg(0))
	if svc == nil {
		fmt.Fprintf(stderr, "channels graph: no service %q in the catalog\n", fs.Arg(0))
		return 1
	}
	if !bundle.Supports(*lang) {
		fmt.Fprintf(stderr, "channels graph: no messages in %q (have %v)\n", *lang, bundle.Langs())
		return 1
	}
	if *format != "svg" {
		fmt.Fprint(stdout, graph(svc, bundle, *lang, *format))
		return 0
	}
	svg, err := renderSVG(graph(svc, bundle, *lang, "dot"))
	if err != nil {
		fmt.Fprintf(stderr, "channels graph: %v\n", err)
		return 1
	}
	stdout.Write(svg)
	return 0
}

// errNoDot says that SVG needs Graphviz.
var errNoDot = errors.New("-format svg needs Graphviz's dot on the PATH (Debian: apt-get install graphviz; or use -format dot)")

// renderSVG renders a DOT diagram as SVG with Graphviz's dot.
func renderSVG(dot string) ([]byte, error) {
	path, err := exec.LookPath("dot")
	if err != nil {
		return nil, errNoDot
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(path, "-Tsvg")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(dot), &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dot -Tsvg: %v: %s", err, strings.TrimSpace(errOut.String()))
	}
	return out.Bytes(), nil
}

// graphEdge is one arrow of a service's diagram.
type graphEdge struct {
	from, to, label string
}

// graph draws svc: one node a step (its kind and text, and for a step that
// needs what some channels lack, what those show instead; for a call, the
// agency's operation), one arrow each way the engine can go on
// (flows.Service.Ways), labelled with the choice, the branch condition or
// the call's outcome.
func graph(svc *flows.Service, b *locales.Bundle, lang, format string) string {
	// Texts that take arguments show placeholders: a diagram has no case.
	results := resultPlaceholders(svc)
	text := func(id string) string {
		return b.Text(lang, channels.Msg(id, "Reference", "[reference]", "Count", 1, "Result", results))
	}
	var edges []graphEdge
	for _, st := range svc.Steps {
		for _, w := range svc.Ways(st) {
			e := graphEdge{from: st.ID, to: w.To}
			switch {
			case w.To == "":
				continue // a dead end: channels validate reports it
			case w.Option != nil:
				e.label = text(w.Option.Text)
			case w.Branch != nil:
				e.label = "if " + w.Branch.If
			case w.Otherwise:
				e.label = "otherwise"
			case w.Outcome != "":
				e.label = strings.ReplaceAll(string(w.Outcome), "_", " ")
			}
			if w.Alternative {
				e.label = join(st.LackingChannels()) // the way on after the alternative
			}
			edges = append(edges, e)
		}
	}
	// label is a step's node text, one line a slice.
	label := func(st *flows.Step) []string {
		lines := []string{fmt.Sprintf("%s (%s)", st.ID, st.Kind)}
		if st.Text != "" {
			lines = append(lines, text(st.Text))
		}
		if st.Kind == flows.StepCall {
			agency := st.Agency
			if agency == "" {
				agency = svc.Agency
			}
			call := agency + " " + st.Operation
			var marks []string
			if st.Changes {
				marks = append(marks, "changes")
			}
			if st.Later {
				marks = append(marks, "later by SMS")
			}
			if st.Remind != nil && st.Remind.Cancel {
				marks = append(marks, "cancels reminder")
			} else if st.Remind != nil {
				marks = append(marks, "reminds "+strings.TrimSuffix(strings.TrimSuffix(st.Remind.Before.String(), "0s"), "0m")+" before")
			}
			if len(marks) > 0 {
				call += " (" + strings.Join(marks, ", ") + ")"
			}
			lines = append(lines, call)
		}
		if len(st.Needs) > 0 {
			lines[0] = fmt.Sprintf("%s (%s, needs %s)", st.ID, st.Kind, join(st.Needs))
			if st.Alternative != "" {
				lines = append(lines, join(st.LackingChannels())+": "+text(st.Alternative))
			}
		}
		return lines
	}
	var w strings.Builder
	if format == "dot" {
		fmt.Fprintf(&w, "digraph %q {\n  label=%q;\n  graph [fontname=\"sans-serif\"];\n  node [shape=box, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\"];\n", svc.ID, text(svc.Title))
		for _, st := range svc.Steps {
			shape := "box"
			switch {
			case ends(st):
				shape = "doubleoctagon"
			case st.Kind == flows.StepMenu:
				shape = "diamond"
			case st.Kind == flows.StepCall:
				shape = "hexagon"
			}
			fmt.Fprintf(&w, "  %q [shape=%s, label=%q];\n", st.ID, shape, strings.Join(label(st), "\n"))
		}
		for _, e := range edges {
			fmt.Fprintf(&w, "  %q -> %q [label=%q];\n", e.from, e.to, e.label)
		}
		w.WriteString("}\n")
		return w.String()
	}
	fmt.Fprintf(&w, "---\ntitle: %s\n---\nflowchart TD\n", mermaidText(text(svc.Title)))
	for _, st := range svc.Steps {
		label := mermaidText(strings.Join(label(st), "<br/>"))
		switch {
		case ends(st):
			fmt.Fprintf(&w, "  %s([\"%s\"])\n", st.ID, label)
		case st.Kind == flows.StepMenu:
			fmt.Fprintf(&w, "  %s{\"%s\"}\n", st.ID, label)
		case st.Kind == flows.StepCall:
			fmt.Fprintf(&w, "  %s{{\"%s\"}}\n", st.ID, label)
		default:
			fmt.Fprintf(&w, "  %s[\"%s\"]\n", st.ID, label)
		}
	}
	for _, e := range edges {
		if e.label == "" {
			fmt.Fprintf(&w, "  %s --> %s\n", e.from, e.to)
		} else {
			fmt.Fprintf(&w, "  %s -->|\"%s\"| %s\n", e.from, mermaidText(e.label), e.to)
		}
	}
	return w.String()
}

// ends reports whether st ends the flow: drawn rounded.
func ends(st *flows.Step) bool {
	return st.Kind == flows.StepEnd || st.Kind == flows.StepLookup || (st.Kind == flows.StepSubmit && st.Next == "")
}

// resultPlaceholders stands "[name]" for every result of svc a text may
// show: a diagram has no answer from an agency.
func resultPlaceholders(svc *flows.Service) map[string]string {
	out := map[string]string{}
	for _, st := range svc.Steps {
		switch {
		case st.Kind == flows.StepCall:
			for name := range st.Returns {
				out[name] = "[" + name + "]"
			}
		case st.Kind == flows.StepSubmit && st.Next != "", st.Kind == flows.StepMenu && st.OptionsFrom != "":
			out[st.Field] = "[" + st.Field + "]"
		}
	}
	return out
}

// join lists capabilities or channels in a label: "ussd, sms".
func join[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// mermaidText escapes what Mermaid reads as syntax inside a quoted label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}

package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// runGraph is `channels graph SERVICE`: the flow as a Mermaid or Graphviz
// diagram, steps labelled in a chosen language, so that a reviewer can see a
// service before it goes live.
func runGraph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "mermaid", "mermaid or dot")
	lang := fs.String("lang", "en", "language of the labels")
	services := fs.String("services", "", "service catalog directory (default: the shipped catalog)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: channels graph [-format mermaid|dot] [-lang LANG] [-services DIR] SERVICE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*format != "mermaid" && *format != "dot") {
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
	fmt.Fprint(stdout, graph(svc, bundle, *lang, *format))
	return 0
}

// graphEdge is one arrow of a service's diagram.
type graphEdge struct {
	from, to, label string
}

// graph draws svc: one node a step (its kind and text), one arrow each way
// it can go on, labelled with the option or the branch condition.
func graph(svc *flows.Service, b *locales.Bundle, lang, format string) string {
	// Texts that take arguments show placeholders: a diagram has no case.
	text := func(id string) string { return b.Text(lang, channels.Msg(id, "Reference", "[reference]", "Count", 1)) }
	var edges []graphEdge
	for _, st := range svc.Steps {
		// As the engine decides: an option's own next first, then the
		// branches, then the step's next.
		throughBranches := len(st.Options) == 0
		for _, o := range st.Options {
			switch {
			case o.Next != "":
				edges = append(edges, graphEdge{st.ID, o.Next, text(o.Text)})
			case len(st.Branches) > 0:
				throughBranches = true
			case st.Next != "":
				edges = append(edges, graphEdge{st.ID, st.Next, text(o.Text)})
			}
		}
		if !throughBranches {
			continue
		}
		for _, br := range st.Branches {
			edges = append(edges, graphEdge{st.ID, br.Next, "if " + br.If})
		}
		if st.Next != "" {
			label := ""
			if len(st.Branches) > 0 {
				label = "otherwise"
			}
			edges = append(edges, graphEdge{st.ID, st.Next, label})
		}
	}
	var w strings.Builder
	if format == "dot" {
		fmt.Fprintf(&w, "digraph %q {\n  label=%q;\n  node [shape=box, fontname=\"sans-serif\"];\n", svc.ID, text(svc.Title))
		for _, st := range svc.Steps {
			shape := "box"
			switch st.Kind {
			case flows.StepSubmit, flows.StepEnd, flows.StepLookup:
				shape = "doubleoctagon"
			case flows.StepMenu:
				shape = "diamond"
			}
			fmt.Fprintf(&w, "  %q [shape=%s, label=%q];\n", st.ID, shape, fmt.Sprintf("%s (%s)\n%s", st.ID, st.Kind, text(st.Text)))
		}
		for _, e := range edges {
			fmt.Fprintf(&w, "  %q -> %q [label=%q];\n", e.from, e.to, e.label)
		}
		w.WriteString("}\n")
		return w.String()
	}
	fmt.Fprintf(&w, "---\ntitle: %s\n---\nflowchart TD\n", mermaidText(text(svc.Title)))
	for _, st := range svc.Steps {
		label := mermaidText(fmt.Sprintf("%s (%s)<br/>%s", st.ID, st.Kind, text(st.Text)))
		switch st.Kind {
		case flows.StepSubmit, flows.StepEnd, flows.StepLookup:
			fmt.Fprintf(&w, "  %s([\"%s\"])\n", st.ID, label)
		case flows.StepMenu:
			fmt.Fprintf(&w, "  %s{\"%s\"}\n", st.ID, label)
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

// mermaidText escapes what Mermaid reads as syntax inside a quoted label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}

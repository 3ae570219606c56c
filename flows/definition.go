package flows

import (
	"fmt"
	"regexp"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/govchannels/channels"
)

// StepKind says what a step does.
type StepKind string

// The kinds of step a service is made of.
const (
	StepMenu    StepKind = "menu"    // choose one of Options; the choice's value is stored under Field
	StepInput   StepKind = "input"   // type a value of Type, checked, stored under Field
	StepConfirm StepKind = "confirm" // show the answers named in Summary; confirm goes on, cancel ends
	StepSubmit  StepKind = "submit"  // create a case from the answers; Text is shown with its reference
	StepLookup  StepKind = "lookup"  // show the caller's cases, or the one whose reference is in Field
	StepEnd     StepKind = "end"     // show Text and end the session
	// StepCall (call.go) asks an agency and goes on by the outcome;
	// StepPay and StepBill (pay.go) ask for a payment and look a bill up.
)

// Lookup kinds for lookup steps.
const (
	LookupCase    = "case"     // the case whose reference the citizen typed into Field
	LookupMyCases = "my_cases" // every case of the caller's phone
)

// ActionAnswerInfo is the submit action that answers an agency's request
// for more information: the case whose reference is in the step's Field
// (it must be the caller's, waiting for information) goes back to review
// with the other answers as the citizen's note.
const ActionAnswerInfo = "answer_info"

// Service is one government transaction as its YAML file defines it.
//
//	id: report_problem
//	title: report.title
//	keyword: report.keyword
//	agency: county_works
//	order: 30
//	start: category
//	steps:
//	  - id: category
//	    kind: menu
//	    text: report.category.prompt
//	    field: category
//	    options:
//	      - {value: water, text: report.category.water}
//	      - {value: roads, text: report.category.roads, next: road_location}
//	    next: location
type Service struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"` // message ID of the name shown on the root menu
	// Keyword is the message ID of the words that start the service by SMS,
	// comma-separated, in each language ("BIRTH", "NAISSANCE"); optional:
	// every service is also reached from the SMS menu.
	Keyword string `yaml:"keyword"`
	// Agency is the ID of the back office that handles the service's
	// cases: its API keys list them and its webhook hears of them.
	Agency string  `yaml:"agency"`
	Order  int     `yaml:"order"` // position on the root menu, ascending
	Start  string  `yaml:"start"` // ID of the first step; the first step listed when empty
	Steps  []*Step `yaml:"steps"`

	File  string           `yaml:"-"` // where it was loaded from, for error reports
	Line  int              `yaml:"-"`
	steps map[string]*Step // by ID, filled by the loader
	// results: some step keeps a result (a call, a submit that goes
	// on), so every text is given the Result argument.
	results bool
}

// Step returns the step with the given ID, or nil.
func (s *Service) Step(id string) *Step { return s.steps[id] }

// Step is one screen of a service and what follows it.
type Step struct {
	ID   string   `yaml:"id"`
	Kind StepKind `yaml:"kind"`
	Text string   `yaml:"text"` // message ID of the prompt, the summary head or the final text

	// Field names the answer this step stores (menu, input) or reads
	// (a lookup of LookupCase). Label is the message ID naming it on a
	// confirm summary; it defaults to Text.
	Field string `yaml:"field"`
	Label string `yaml:"label"`

	Options []*Option `yaml:"options"` // menu

	Type      channels.InputType `yaml:"type"` // input: channels.InputText, InputNumber, ...
	MinLength int                `yaml:"min_length"`
	MaxLength int                `yaml:"max_length"`
	Min       string             `yaml:"min"` // number, or date: "today", "today-120y", "2000-01-31"
	Max       string             `yaml:"max"`
	Pattern   string             `yaml:"pattern"` // regular expression the whole value must match
	Check     string             `yaml:"check"`   // "luhn": the last digit is a Luhn check digit
	Secret    bool               `yaml:"secret"`  // masked where the channel can, never echoed in summaries
	// Landline lets a phone input take any valid number, a fixed line
	// included. Without it a phone input takes only numbers that can
	// receive SMS (mobile, or fixed-line-or-mobile where the numbering
	// plan cannot tell), since the case's notices are texted to the number
	// given; set it for a number that is only ever called (an office's).
	Landline bool `yaml:"landline"`

	Summary []string `yaml:"summary"` // confirm: fields shown, in order
	// Action is what a submit step does: create a case (when empty), or
	// ActionAnswerInfo, whose note is made of the fields in Summary.
	Action string `yaml:"action"`
	Lookup string `yaml:"lookup"` // lookup: LookupCase or LookupMyCases
	Empty  string `yaml:"empty"`  // lookup: message ID when nothing is found

	// OptionsFrom names a list return of an earlier call step: a menu
	// offers its items first (each stored under Field by its ID), then
	// its static Options.
	OptionsFrom string `yaml:"options_from"`

	// A call step (see StepCall): Operation of Agency (the service's
	// when empty), sent the fields named in Send, answering Returns
	// within Deadline, and going on by Exits. Changes marks an operation
	// that changes something at the agency; Later finishes a timed-out
	// call in the background; Remind asks for a reminder when found.
	Agency    string             `yaml:"agency"`
	Operation string             `yaml:"operation"`
	Send      []string           `yaml:"send"`
	Changes   bool               `yaml:"changes"`
	Deadline  time.Duration      `yaml:"deadline"`
	Later     bool               `yaml:"later"`
	Returns   map[string]*Return `yaml:"returns"`
	Exits     *Exits             `yaml:"exits"`
	Remind    *Remind            `yaml:"remind"`

	// A pay step (see StepPay) charges Fee; Reference names the field
	// or return holding the agency's own number of what is paid. A pay
	// or bill step goes on by Exits too.
	Fee       *Fee   `yaml:"fee"`
	Reference string `yaml:"reference"`

	Next     string    `yaml:"next"`     // the step after this one; a submit with Next keeps its reference under Field and goes on
	Branches []*Branch `yaml:"branches"` // tried in order before Next

	// Needs lists what the step needs from the channel that some channels
	// lack (see Capability); a menu or an input only. Alternative is the
	// message ID those channels show instead, with one choice that goes on
	// (the branches, then Next) and leaves the step's field empty.
	Needs       []Capability `yaml:"needs"`
	Alternative string       `yaml:"alternative"`

	Line int `yaml:"-"`

	pattern  *regexp.Regexp
	min, max bound
}

// Option is one choice of a menu step.
type Option struct {
	Value string `yaml:"value"` // what is stored under the step's Field
	Text  string `yaml:"text"`  // message ID of the label
	Next  string `yaml:"next"`  // where this choice leads; the step's Next when empty
	Line  int    `yaml:"-"`
}

// Branch sends the flow to Next when the expression If holds. If is an
// expr-lang expression over `answers` (a map of field to value), `result`
// (a map of the results of calls and submissions so far to their raw
// values) and `channel`, e.g. `answers.delivery == "post"` or
// `result.status == "valid"`.
type Branch struct {
	If   string `yaml:"if"`
	Next string `yaml:"next"`
	Line int    `yaml:"-"`

	program *vm.Program
}

// bound is a resolved min or max of an input: a number, or a date that may
// be relative to today.
type bound struct {
	set     bool
	number  float64
	today   bool // relative to the day of the check
	years   int  // added to today
	days    int
	date    time.Time // absolute date when !today
	literal string
}

// resolveDate returns the date the bound stands for on the day of now.
func (b bound) resolveDate(now time.Time) time.Time {
	if !b.today {
		return b.date
	}
	y, m, d := now.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(b.years, 0, b.days)
}

// position formats a file and line for error reports.
func position(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

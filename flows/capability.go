package flows

import (
	"slices"
	"strings"

	"github.com/govchannels/channels"
)

// Capability is something a step needs from the citizen's channel that not
// every channel has. A step that needs one declares an alternative, a
// message the channels without it show instead (for a document photo,
// "Bring the document to a kiosk"), after which the flow goes on:
//
//	steps:
//	  - id: id_photo
//	    kind: input
//	    type: text
//	    text: permit.photo
//	    field: id_photo
//	    needs: [photo]
//	    alternative: permit.photo.kiosk
//	    next: confirm
//
// The channels that have the capability show the step as declared.
type Capability string

// The capabilities a step can need.
const (
	// CapPhoto is a picture of a document: the app's camera, the kiosk's
	// scanner. A feature phone on USSD or SMS cannot send one.
	CapPhoto Capability = "photo"
)

// allChannels are the channels a service is delivered on.
var allChannels = []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS, channels.ChannelApp, channels.ChannelKiosk}

// capable lists, for each capability, the channels that have it.
var capable = map[Capability][]channels.Channel{
	CapPhoto: {channels.ChannelApp, channels.ChannelKiosk},
}

// Capabilities returns every capability a step can need, sorted.
func Capabilities() []Capability {
	out := make([]Capability, 0, len(capable))
	for c := range capable {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Known reports whether c is a capability the engine knows.
func (c Capability) Known() bool { return capable[c] != nil }

// On reports whether channel ch has c.
func (c Capability) On(ch channels.Channel) bool { return slices.Contains(capable[c], ch) }

// Lacking returns the channels that do not have c, in a fixed order.
func (c Capability) Lacking() []channels.Channel {
	var out []channels.Channel
	for _, ch := range allChannels {
		if !c.On(ch) {
			out = append(out, ch)
		}
	}
	return out
}

// lacks reports whether the step needs something ch does not have.
func (st *Step) lacks(ch channels.Channel) bool {
	for _, c := range st.Needs {
		if !c.On(ch) {
			return true
		}
	}
	return false
}

// showsAlternative reports whether the step shows its alternative on ch
// instead of itself. A step without an alternative shows itself
// everywhere: channels validate reports it.
func (st *Step) showsAlternative(ch channels.Channel) bool {
	return st.Alternative != "" && st.lacks(ch)
}

// LackingChannels returns the channels on which the step cannot be
// completed as declared, in a fixed order; none for a step that needs
// nothing.
func (st *Step) LackingChannels() []channels.Channel {
	var out []channels.Channel
	for _, ch := range allChannels {
		if st.lacks(ch) {
			out = append(out, ch)
		}
	}
	return out
}

// continueText is the message ID of the one choice under an alternative.
// It is a system message every language has (the resume menu uses it).
const continueText = "resume.continue"

// alternativeScreen is what a channel lacking a capability of step shows
// instead of the step: the alternative and one choice that goes on.
func alternativeScreen(svc *Service, step *Step) channels.Screen {
	return channels.Screen{
		Kind:      channels.KindMenu,
		Service:   svc.ID,
		Step:      step.ID,
		Text:      channels.Msg(step.Alternative),
		Options:   []channels.Option{{Key: "1", Text: channels.Msg(continueText)}},
		CanGoBack: true,
	}
}

// passAlternative takes the answer to an alternative screen: "1" goes on as
// the step would (its branches, then its next) with an empty answer for
// its field; anything else shows the alternative again with a refusal.
func (e *Engine) passAlternative(svc *Service, step *Step, st State, in Input) (Result, error) {
	if strings.TrimSpace(in.Text) != "1" {
		return e.retry(svc, step, st, msgPtr("error.choice")), nil
	}
	st.Trail = append(st.Trail, Visit{Step: step.ID})
	target, err := e.next(svc, step, "", st)
	if err != nil {
		return Result{}, err
	}
	return e.enter(svc, target, st), nil
}

// names joins capabilities or channels for messages: "ussd and sms".
func names[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

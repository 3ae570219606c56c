package app

import (
	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
)

// Screen is a screen as the app receives it: every text localized in Lang,
// the options as key and label, the input described so that the app can
// render a native field and check it before sending (the server checks it
// again). Its JSON is the Screen schema of the OpenAPI document.
//
//	{"kind": "input", "service": "birth_certificate", "step": "child_dob",
//	 "lang": "en", "dir": "ltr", "text": "Child's date of birth (DD/MM/YYYY):",
//	 "input": {"field": "child_dob", "type": "date", "min": "1906-11-26", "max": "2026-11-26"},
//	 "error": "Enter a date as DD/MM/YYYY.", "can_go_back": true, "ended": false}
type Screen struct {
	Kind      channels.ScreenKind `json:"kind"`
	Service   string              `json:"service,omitempty"` // empty on the root and language menus
	Step      string              `json:"step,omitempty"`
	Lang      string              `json:"lang"`
	Dir       string              `json:"dir"` // "ltr" or "rtl": the direction of Lang's script
	Text      string              `json:"text"`
	Lines     []string            `json:"lines,omitempty"`   // a confirm summary or a list of cases
	Options   []Option            `json:"options,omitempty"` // menu and confirm
	Input     *channels.Input     `json:"input,omitempty"`   // input only
	Error     string              `json:"error,omitempty"`   // why the previous answer was refused
	Reference string              `json:"reference,omitempty"`
	CanGoBack bool                `json:"can_go_back"` // the "back" action leads somewhere
	Ended     bool                `json:"ended"`       // the session is over and forgotten
}

// Option is one choice of a menu or confirm screen; the app posts Key back
// as the input's text.
type Option struct {
	Key   string `json:"key"`
	Label string `json:"label"`
}

// Render localizes the channel-neutral screen sc in lang for the app.
func Render(b *locales.Bundle, lang string, sc channels.Screen) Screen {
	out := Screen{
		Kind:      sc.Kind,
		Service:   sc.Service,
		Step:      sc.Step,
		Lang:      lang,
		Dir:       locales.Direction(lang),
		Text:      b.Text(lang, sc.Text),
		Input:     sc.Input,
		Reference: sc.Reference,
		CanGoBack: sc.CanGoBack && sc.Kind != channels.KindEnd,
		Ended:     sc.Kind == channels.KindEnd,
	}
	if len(sc.Lines) > 0 {
		out.Lines = make([]string, len(sc.Lines))
		for i, l := range sc.Lines {
			out.Lines[i] = b.Text(lang, l)
		}
	}
	if len(sc.Options) > 0 {
		out.Options = make([]Option, len(sc.Options))
		for i, o := range sc.Options {
			out.Options[i] = Option{Key: o.Key, Label: b.Text(lang, o.Text)}
		}
	}
	if sc.Error != nil {
		out.Error = b.Text(lang, *sc.Error)
	}
	return out
}

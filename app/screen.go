package app

import (
	"github.com/govchannels/channels"
	"github.com/govchannels/channels/locales"
)

// Screen is a screen as the app receives it: every text localized, the
// input described so the app can render a native field and check it before
// sending (the server checks again).
type Screen struct {
	Kind      channels.ScreenKind `json:"kind"`
	Service   string              `json:"service,omitempty"`
	Step      string              `json:"step,omitempty"`
	Lang      string              `json:"lang"`
	Dir       string              `json:"dir"` // "ltr" or "rtl"
	Text      string              `json:"text"`
	Lines     []string            `json:"lines,omitempty"`
	Options   []Option            `json:"options,omitempty"`
	Input     *channels.Input     `json:"input,omitempty"`
	Error     string              `json:"error,omitempty"`
	Reference string              `json:"reference,omitempty"`
	CanGoBack bool                `json:"can_go_back"`
	Ended     bool                `json:"ended"`
}

// Option is one choice; the app posts Key back as the input text.
type Option struct {
	Key   string `json:"key"`
	Label string `json:"label"`
}

// rtl lists the right-to-left languages among those a catalog may ship.
var rtl = map[string]bool{"ar": true, "fa": true, "he": true, "ur": true}

// Render localizes sc in lang for the app.
func Render(b *locales.Bundle, lang string, sc channels.Screen) Screen {
	out := Screen{
		Kind:      sc.Kind,
		Service:   sc.Service,
		Step:      sc.Step,
		Lang:      lang,
		Dir:       "ltr",
		Text:      b.Text(lang, sc.Text),
		Input:     sc.Input,
		Reference: sc.Reference,
		CanGoBack: sc.CanGoBack && sc.Kind != channels.KindEnd,
		Ended:     sc.Kind == channels.KindEnd,
	}
	if rtl[lang] {
		out.Dir = "rtl"
	}
	for _, l := range sc.Lines {
		out.Lines = append(out.Lines, b.Text(lang, l))
	}
	for _, o := range sc.Options {
		out.Options = append(out.Options, Option{Key: o.Key, Label: b.Text(lang, o.Text)})
	}
	if sc.Error != nil {
		out.Error = b.Text(lang, *sc.Error)
	}
	return out
}

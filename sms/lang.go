package sms

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// chooseLang answers a language keyword (LANG, LANGUE, LUGHA, لغة) and
// what followed it, folded. Alone, the keyword shows the language menu, a
// dialogue whose numbered reply chooses as the USSD menu does. Followed by
// a language, its code ("LANG ar"), its number on that menu ("LANG 4") or
// its name in itself ("LANGUE francais", "لغة العربية"), it stores the
// phone's choice, which every channel reads, and confirms it in the
// language chosen: with the dialogue in progress shown again in it, else
// with the way to the main menu. Anything else after the keyword makes the
// message no keyword at all (answer checks): words such as "lugha" start
// ordinary sentences.
func (d *dialogue) chooseLang(arg string) (Reply, error) {
	if arg == "" {
		return d.langMenu()
	}
	lang, ok := d.langNamed(arg)
	if !ok {
		return Reply{}, fmt.Errorf("language keyword with %q, which names no language", arg)
	}
	if _, err := d.cfg.Prefs.UpdatePrefs(d.ctx, d.in.From, func(p *channels.Prefs) { p.Lang = lang }); err != nil {
		return Reply{}, fmt.Errorf("record language: %w", err)
	}
	d.lang = lang
	d.cfg.Log.Info("sms language chosen", d.attrs("lang", lang)...)
	confirm := d.cfg.Bundle.Text(lang, channels.Msg("lang.set"))
	if d.sess == nil || d.now.Sub(d.sess.UpdatedAt) > d.cfg.IdleWindow {
		// No dialogue to go on with (an idle one is over): say where to go.
		r := d.text(channels.Msg("sms.nav.menu", "Menu", d.word("sms.keyword.menu")))
		r.Text = confirm + "\n" + r.Text
		return d.end(r)
	}
	st, err := flows.DecodeState(d.sess.State)
	var sc channels.Screen
	if err == nil {
		st.Lang = lang
		sc, err = d.cfg.Engine.Screen(st)
	}
	if err != nil || st.Service == "" {
		// Outside a service (on the root or language menu), or in a
		// dialogue that no longer fits the catalog: the main menu.
		res, err := d.cfg.Engine.Start(channels.ChannelSMS, lang, "")
		if err != nil {
			return Reply{}, fmt.Errorf("start the root menu: %w", err)
		}
		st, sc = res.State, res.Screen
		d.conv = newConversation()
	}
	d.sess.State = st.Encode()
	r := Reply{Text: confirm + "\n" + Render(d.cfg.Bundle, lang, sc, d.cfg.Layout), Purpose: channels.PurposeReply}
	return d.keep(r, d.sess)
}

// langNamed returns the offered language arg names: its code, or a
// regional tag of it ("FR CM" for fr-CM, as fold leaves it); its number on
// the language menu; or its name in itself as the menu shows it.
func (d *dialogue) langNamed(arg string) (string, bool) {
	code, _, _ := strings.Cut(arg, " ")
	for i, lang := range d.cfg.Bundle.Langs() {
		name := d.cfg.Bundle.Text(lang, channels.Message{ID: "lang.name", Lang: lang})
		if code == fold(lang) || arg == strconv.Itoa(i+1) || arg == fold(name) {
			return lang, true
		}
	}
	return "", false
}

// langMenu starts a dialogue at the engine's language menu, the one the
// root menu leads to.
func (d *dialogue) langMenu() (Reply, error) {
	res, err := d.cfg.Engine.Start(channels.ChannelSMS, d.lang, "")
	if err != nil {
		return Reply{}, fmt.Errorf("start the root menu: %w", err)
	}
	key := ""
	for _, o := range res.Screen.Options {
		if o.Text.ID == "home.language" {
			key = o.Key
		}
	}
	if key != "" { // else one language only: the root menu is all there is
		if res, err = d.cfg.Engine.Step(res.State, flows.Input{Text: key}); err != nil {
			return Reply{}, fmt.Errorf("open the language menu: %w", err)
		}
	}
	d.sess = &channels.Session{ID: sessionKey(d.in.From), Phone: d.in.From, Channel: channels.ChannelSMS}
	d.conv = newConversation()
	return d.settle(res)
}

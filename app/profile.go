package app

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/locales"
)

// profile is the answer of GET and PUT /v1/profile: what the signed-in
// phone chose, which every channel reads, and the languages it may choose.
//
//	{"lang": "ar", "dir": "rtl", "langs": [{"code": "en", "name": "English", "dir": "ltr"}, …,
//	 {"code": "ar", "name": "العربية", "dir": "rtl"}]}
type profile struct {
	// Lang is the language the phone chose on any channel (the USSD or SMS
	// language menu, SMS LANG, this profile); absent when it chose none,
	// and the texts then follow each request's Accept-Language.
	Lang  string     `json:"lang,omitempty"`
	Dir   string     `json:"dir,omitempty"` // the direction of Lang's script, with Lang
	Langs []langItem `json:"langs"`         // in the order the USSD and SMS menus number them
}

// langItem is a language on offer, named in itself as the menus name it.
type langItem struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Dir  string `json:"dir"`
}

// profileRequest is the body of PUT /v1/profile.
type profileRequest struct {
	// Lang is the language to remember: a code from langs, or a regional
	// tag of one ("ar-EG"); "" forgets the choice.
	Lang *string `json:"lang"`
}

// getProfile is GET /v1/profile: the signed-in phone's choices.
func (a *API) getProfile(c *gin.Context) error {
	phone, err := a.phone(c, "")
	if err != nil {
		return err
	}
	a.language(c, "", phone)
	p, err := a.cfg.Store.Prefs(c.Request.Context(), phone)
	if err != nil {
		return fmt.Errorf("read preferences: %w", err)
	}
	c.JSON(http.StatusOK, a.profile(p))
	return nil
}

// putProfile is PUT /v1/profile {lang}: remember the language of the
// signed-in phone, for every channel (the next USSD dial, SMS reply, code
// SMS and app request without "lang" use it), and answer the profile in
// it. A language not on offer is 400 with error.lang.
func (a *API) putProfile(c *gin.Context) error {
	phone, err := a.phone(c, "")
	if err != nil {
		return err
	}
	a.language(c, "", phone)
	body, err := apijson.ReadBody(c, a.cfg.MaxBody)
	if err != nil {
		return err
	}
	var req profileRequest
	if err := apijson.Decode(body, &req); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if req.Lang == nil {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "profile: no lang")
	}
	lang := ""
	if *req.Lang != "" {
		var ok bool
		if lang, ok = a.offered(*req.Lang); !ok {
			return channels.Errorf(channels.EINVALID, "error.lang", "profile: language %q not offered", *req.Lang)
		}
	}
	p, err := a.cfg.Store.UpdatePrefs(c.Request.Context(), phone, func(p *channels.Prefs) { p.Lang = lang })
	if err != nil {
		return fmt.Errorf("record language: %w", err)
	}
	a.language(c, "", phone) // the answer in the language just chosen
	c.JSON(http.StatusOK, a.profile(p))
	return nil
}

// offered returns the offered language that tag names: itself, or the
// language of a regional tag ("ar-EG" is ar).
func (a *API) offered(tag string) (string, bool) {
	if a.cfg.Bundle.Supports(tag) {
		return tag, true
	}
	t, err := language.Parse(tag)
	if err != nil {
		return "", false
	}
	base, conf := t.Base()
	if conf == language.No || !a.cfg.Bundle.Supports(base.String()) {
		return "", false
	}
	return base.String(), true
}

// profile is p as the app reads it.
func (a *API) profile(p channels.Prefs) profile {
	out := profile{Langs: make([]langItem, 0, len(a.cfg.Bundle.Langs()))}
	if a.cfg.Bundle.Supports(p.Lang) {
		out.Lang, out.Dir = p.Lang, locales.Direction(p.Lang)
	}
	for _, l := range a.cfg.Bundle.Langs() {
		name := a.cfg.Bundle.Text(l, channels.Message{ID: "lang.name", Lang: l})
		out.Langs = append(out.Langs, langItem{Code: l, Name: name, Dir: locales.Direction(l)})
	}
	return out
}

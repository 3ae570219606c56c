package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
)

// caseView is a case as the app shows it: what it is and where it stands,
// localized; the answers are left out.
type caseView struct {
	Reference   string          `json:"reference"`
	Service     string          `json:"service"`
	Title       string          `json:"title"`
	Status      channels.Status `json:"status"`
	StatusLabel string          `json:"status_label"`
	CreatedAt   time.Time       `json:"created_at"`
	History     []historyItem   `json:"history"`
	Lang        string          `json:"lang"`
	Dir         string          `json:"dir"` // "ltr" or "rtl": the direction of Lang's script
}

// historyItem is one status change of a case, oldest first.
type historyItem struct {
	Status channels.Status `json:"status"`
	Label  string          `json:"label"`
	At     time.Time       `json:"at"`
	Note   string          `json:"note,omitempty"`
}

// getCase is GET /v1/cases/{ref}?lang=: a case, only to the signed-in
// phone that submitted it. A reference of another phone gets the very
// answer of an unknown one, so references cannot be probed.
func (a *API) getCase(c *gin.Context) error {
	a.language(c, c.Query("lang"), "")
	phone, err := a.phone(c, c.Query("phone"))
	if err != nil {
		return err
	}
	lang := a.language(c, c.Query("lang"), phone)
	ref, ok := channels.ParseReference(c.Param("ref"))
	if !ok {
		return channels.Errorf(channels.ENOTFOUND, "error.not_found", "malformed reference")
	}
	cs, err := a.cfg.Host.Case(c.Request.Context(), phone, ref)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a.view(lang, cs))
	return nil
}

// maxListed is how many cases GET /v1/cases returns.
const maxListed = 100

// listCases is GET /v1/cases?lang=: the signed-in phone's cases, newest
// first, each with its whole history.
func (a *API) listCases(c *gin.Context) error {
	a.language(c, c.Query("lang"), "")
	phone, err := a.phone(c, "")
	if err != nil {
		return err
	}
	lang := a.language(c, c.Query("lang"), phone)
	cs, err := a.cfg.Store.CasesByPhone(c.Request.Context(), phone, maxListed)
	if err != nil {
		return fmt.Errorf("list cases: %w", err)
	}
	out := struct {
		Cases []caseView `json:"cases"`
	}{Cases: make([]caseView, len(cs))}
	for i, x := range cs {
		out.Cases[i] = a.view(lang, x)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// view is cs as the citizen sees it in lang. An agency's notes are shown
// only where they are meant for the citizen (flows.CitizenNote); the
// citizen's own answers are shown whole.
func (a *API) view(lang string, cs *channels.Case) caseView {
	title := cs.Service
	if svc := a.cfg.Engine.Catalog().Service(cs.Service); svc != nil {
		title = a.cfg.Bundle.Text(lang, channels.Msg(svc.Title))
	}
	out := caseView{
		Reference:   cs.Ref,
		Service:     cs.Service,
		Title:       title,
		Status:      cs.Status,
		StatusLabel: a.statusLabel(lang, cs.Status),
		CreatedAt:   cs.CreatedAt.UTC(),
		History:     make([]historyItem, len(cs.History)),
		Lang:        lang,
		Dir:         locales.Direction(lang),
	}
	for i, h := range cs.History {
		note := h.Note
		if h.Actor != flows.ActorCitizen {
			note = flows.CitizenNote(h.Status, h.Note, maxNote)
		}
		out.History[i] = historyItem{Status: h.Status, Label: a.statusLabel(lang, h.Status), At: h.At.UTC(), Note: note}
	}
	return out
}

// maxNote is the longest agency note the app shows: the agency API's own
// limit, so nothing is cut.
const maxNote = 1000

// statusLabel is the name of a status in lang.
func (a *API) statusLabel(lang string, s channels.Status) string {
	return a.cfg.Bundle.Text(lang, channels.Msg("status."+string(s)))
}

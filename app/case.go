package app

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
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
	}
	for i, h := range cs.History {
		out.History[i] = historyItem{Status: h.Status, Label: a.statusLabel(lang, h.Status), At: h.At.UTC(), Note: h.Note}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// statusLabel is the name of a status in lang.
func (a *API) statusLabel(lang string, s channels.Status) string {
	return a.cfg.Bundle.Text(lang, channels.Msg("status."+string(s)))
}

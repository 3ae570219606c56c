package demopay

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
)

// controlRoutes is the control API over HTTP, for a newcomer with curl:
//
//	GET  /demo/payments                      every payment
//	GET  /demo/payments/{ref}                one
//	POST /demo/payments/{ref}/settle         {"outcome": "approve", "delivery": "once"}
//	POST /demo/payments/{ref}/callback       send its callback again
//	POST /demo/payments/{ref}/pay-again      M-Pesa: pay its bill again by C2B
//	POST /demo/c2b                           {"bill", "phone", "amount": {"amount", "currency"}, "url"}
//	POST /demo/tokens/revoke                 every token refused from now on
//	GET  /demo/transactions?day=2026-12-02   the day's statement (Nairobi dates)
func (s *Server) controlRoutes(r *gin.Engine) {
	g := r.Group("/demo")
	g.GET("/payments", func(c *gin.Context) { c.JSON(http.StatusOK, s.Payments()) })
	g.GET("/payments/:ref", func(c *gin.Context) {
		p, ok := s.Payment(c.Param("ref"))
		if !ok {
			controlError(c, ErrUnknown)
			return
		}
		c.JSON(http.StatusOK, p)
	})
	g.POST("/payments/:ref/settle", func(c *gin.Context) {
		var b struct {
			Outcome  Outcome  `json:"outcome"`
			Delivery Delivery `json:"delivery"`
		}
		if err := json.NewDecoder(c.Request.Body).Decode(&b); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		if b.Delivery == "" {
			b.Delivery = Once
		}
		if err := s.Settle(c.Param("ref"), b.Outcome, b.Delivery); err != nil {
			controlError(c, err)
			return
		}
		p, _ := s.Payment(c.Param("ref"))
		c.JSON(http.StatusOK, p)
	})
	g.POST("/payments/:ref/callback", func(c *gin.Context) {
		if err := s.CallBack(c.Param("ref")); err != nil {
			controlError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"called_back": true})
	})
	g.POST("/payments/:ref/pay-again", func(c *gin.Context) {
		receipt, err := s.PayAgain(c.Param("ref"))
		if err != nil {
			controlError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"receipt": receipt})
	})
	g.POST("/c2b", func(c *gin.Context) {
		var b struct {
			Bill   string         `json:"bill"`
			Phone  string         `json:"phone"`
			Amount channels.Money `json:"amount"`
			URL    string         `json:"url"`
		}
		if err := json.NewDecoder(c.Request.Body).Decode(&b); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		receipt, err := s.DeliverC2B(C2B(b))
		if err != nil {
			controlError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"receipt": receipt})
	})
	g.POST("/tokens/revoke", func(c *gin.Context) {
		s.RevokeTokens()
		c.JSON(http.StatusOK, gin.H{"revoked": true})
	})
	g.GET("/transactions", func(c *gin.Context) {
		day := s.cfg.Now()
		if d := c.Query("day"); d != "" {
			var err error
			if day, err = time.ParseInLocation(time.DateOnly, d, nairobi); err != nil {
				c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "day is YYYY-MM-DD"})
				return
			}
		}
		out := s.Transactions(day)
		if out == nil {
			out = []Transaction{}
		}
		c.JSON(http.StatusOK, out)
	})
}

func controlError(c *gin.Context, err error) {
	status := http.StatusConflict
	if errors.Is(err, ErrUnknown) {
		status = http.StatusNotFound
	}
	c.AbortWithStatusJSON(status, gin.H{"error": err.Error()})
}

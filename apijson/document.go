package apijson

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

// Document returns a function that converts an OpenAPI document written
// in YAML (name says which, for errors) to JSON once, on first use, and
// returns that JSON on every call: what GET .../openapi.json serves.
func Document(name string, src []byte) func() ([]byte, error) {
	return sync.OnceValues(func() ([]byte, error) {
		var doc map[string]any
		if err := yaml.Unmarshal(src, &doc); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("convert %s to JSON: %w", name, err)
		}
		return b, nil
	})
}

// ServeDocument returns the handler of GET .../openapi.json: the JSON that
// doc (from Document) returns, or its error for the caller to answer.
func ServeDocument(doc func() ([]byte, error)) func(*gin.Context) error {
	return func(c *gin.Context) error {
		b, err := doc()
		if err != nil {
			return err
		}
		c.Data(http.StatusOK, "application/json", b)
		return nil
	}
}

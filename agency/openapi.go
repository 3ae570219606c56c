package agency

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

// openAPIYAML is the API's description, written by hand next to the code
// it describes; the tests check every request and response against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the API's OpenAPI 3.0 document as JSON.
func OpenAPI() ([]byte, error) { return openAPIJSON() }

// openAPIJSON converts the embedded YAML once, on first use.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("read agency openapi.yaml: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("convert agency openapi.yaml to JSON: %w", err)
	}
	return b, nil
})

// openAPI is GET /v1/agency/openapi.json, which needs no key.
func (a *API) openAPI(c *gin.Context) error {
	b, err := openAPIJSON()
	if err != nil {
		return err
	}
	c.Data(http.StatusOK, "application/json", b)
	return nil
}

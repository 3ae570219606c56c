package app

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the API's OpenAPI 3 document as JSON.
func OpenAPI() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.Marshal(doc)
}

var openAPIJSON = func() []byte {
	b, err := OpenAPI()
	if err != nil {
		panic(err) // the embedded document is checked by the tests
	}
	return b
}()

// openAPI is GET /v1/openapi.json.
func (a *API) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIJSON)
}

package app

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels/apijson"
)

// openAPIYAML is the API's description, written by hand next to the code
// it describes; the tests check every response against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the API's OpenAPI 3.0 document as JSON.
func OpenAPI() ([]byte, error) { return openAPIJSON() }

// openAPIJSON converts the embedded YAML once, on first use.
var openAPIJSON = apijson.Document("app/openapi.yaml", openAPIYAML)

// openAPI is GET /v1/openapi.json.
func (a *API) openAPI(c *gin.Context) error {
	b, err := openAPIJSON()
	if err != nil {
		return err
	}
	c.Data(http.StatusOK, "application/json", b)
	return nil
}

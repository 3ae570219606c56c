package agency

import (
	_ "embed"

	"github.com/govchannels/channels/apijson"
)

// openAPIYAML is the API's description, written by hand next to the code
// it describes; the tests check every request and response against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the API's OpenAPI 3.0 document as JSON.
func OpenAPI() ([]byte, error) { return openAPIJSON() }

// openAPIJSON converts the embedded YAML once, on first use.
var openAPIJSON = apijson.Document("agency/openapi.yaml", openAPIYAML)

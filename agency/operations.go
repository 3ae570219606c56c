package agency

import (
	_ "embed"

	"github.com/govchannels/channels/apijson"
)

// operationsYAML is the contract an agency implements for the call steps
// of its services (POST {api_url}/operations/{operation}), written by
// hand; the tests check the requests package agencycall sends against it.
//
//go:embed operations.yaml
var operationsYAML []byte

// Operations returns the OpenAPI 3.1 document of the agency-side contract
// as JSON: what GET /v1/agency/operations.json serves.
func Operations() ([]byte, error) { return operationsJSON() }

// operationsJSON converts the embedded YAML once, on first use.
var operationsJSON = apijson.Document("agency/operations.yaml", operationsYAML)

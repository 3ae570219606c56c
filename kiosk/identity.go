package kiosk

import (
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// identityFiles holds the definition of the identity document a citizen
// without a phone consents with.
//
//go:embed identity/*.yaml
var identityFiles embed.FS

// The service of identityFiles, and its step and field.
const (
	identityService = "kiosk_identity"
	identityStep    = "national_id"
	identityField   = "national_id"
)

// identity checks the document number of a citizen without a phone with
// the engine itself, so that the kiosk refuses exactly what a national_id
// input refuses on every channel.
type identity struct {
	engine *flows.Engine
}

// newIdentity loads the embedded definition; it panics if it does not
// load, which a test catches before any build ships.
func newIdentity(langs []string, region string, now func() time.Time) *identity {
	sub, err := fs.Sub(identityFiles, "identity")
	if err != nil {
		panic(fmt.Sprintf("kiosk: identity definition: %v", err))
	}
	cat, err := flows.Load(sub)
	if err != nil {
		panic(fmt.Sprintf("kiosk: identity definition: %v", err))
	}
	e, err := flows.New(flows.Config{Catalog: cat, Langs: langs, Region: region, Now: now})
	if err != nil {
		panic(fmt.Sprintf("kiosk: identity engine: %v", err))
	}
	return &identity{engine: e}
}

// check returns the document number raw stands for, normalized (without
// the spaces and dashes people type), or the refusal to show.
func (id *identity) check(raw string) (string, *channels.Message, error) {
	res, bad, err := id.engine.Fill(channels.ChannelKiosk, "", identityService, map[string]string{identityField: raw})
	if err != nil {
		return "", nil, fmt.Errorf("check an identity document: %w", err)
	}
	if len(bad) > 0 {
		return "", &bad[0].Message, nil
	}
	for _, v := range res.State.Trail {
		if v.Step == identityStep {
			return v.Value, nil, nil
		}
	}
	return "", nil, fmt.Errorf("check an identity document: the flow ended at %q without the number", res.State.Step)
}

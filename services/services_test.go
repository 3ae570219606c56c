package services_test

import (
	"testing"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
)

// TestShippedCatalog loads the catalog as `channels serve` does and checks
// every message it uses exists in every language.
func TestShippedCatalog(t *testing.T) {
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range cat.Services {
		ids = append(ids, s.ID)
	}
	if len(ids) != 3 || ids[0] != "birth_certificate" || ids[1] != "check_status" || ids[2] != "report_problem" {
		t.Errorf("services in menu order = %v", ids)
	}
	b, err := locales.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range cat.Messages() {
		for _, lang := range b.Langs() {
			if !b.Has(lang, ref.ID) {
				t.Errorf("%s:%d: message %q missing in %s", ref.File, ref.Line, ref.ID, lang)
			}
		}
	}
}

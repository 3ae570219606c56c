package lint

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
	"github.com/govchannels/channels/ussd"
)

// load reads the catalog of testdata/name with its messages on top of the
// shipped ones; the shipped catalog when name is empty.
func load(t *testing.T, name string) (*flows.Catalog, *locales.Bundle) {
	t.Helper()
	var svcFS fs.FS = services.FS
	var extra []fs.FS
	if name != "" {
		dir := filepath.Join("testdata", name)
		svcFS = os.DirFS(dir)
		extra = append(extra, os.DirFS(filepath.Join(dir, "locales")))
	}
	bundle, err := locales.New(extra...)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := flows.Load(svcFS)
	if err != nil {
		t.Fatal(err)
	}
	return cat, bundle
}

func lines(found flows.Findings) []string {
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.String()
	}
	return out
}

// The layouts of the shipped dialects, as serve mounts them by default.
var (
	atLayout     = NamedLayout{Name: "Africa's Talking", Layout: ussd.Layout{MaxChars: 182, UCS2MaxChars: 80}}
	kannelLayout = NamedLayout{Name: "Kannel", Layout: ussd.Layout{MaxChars: 160, UCS2MaxChars: 70}}
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		catalog string
		opts    Options
		want    []string // the findings, exactly
	}{
		{"the shipped catalog on every dialect", "", Options{USSD: []NamedLayout{atLayout, kannelLayout}, SMSSegments: 2}, nil},
		{"the shipped catalog on the protocol's budgets", "", Options{}, nil},
		{"a prompt longer than a page in one language", "longprompt", Options{}, []string{
			`permit.yaml:4: step name, locale sw: the prompt takes 2 USSD pages of 182 characters; a prompt must fit one [ussd-prompt]`,
		}},
		{"a prompt over a page on each dialect, named", "longprompt", Options{USSD: []NamedLayout{atLayout, kannelLayout}}, []string{
			`permit.yaml:4: step name, locale sw: the prompt takes 2 USSD pages of 182 characters; a prompt must fit one on Africa's Talking [ussd-prompt]`,
			`permit.yaml:4: step name, locale sw: the prompt takes 2 USSD pages of 160 characters; a prompt must fit one on Kannel [ussd-prompt]`,
		}},
		{"a finding two dialects share word for word, named once", "longprompt", Options{USSD: []NamedLayout{
			{Name: "Africa's Talking", Layout: ussd.Layout{MaxChars: 160}}, kannelLayout}}, []string{
			`permit.yaml:4: step name, locale sw: the prompt takes 2 USSD pages of 160 characters; a prompt must fit one on Africa's Talking and Kannel [ussd-prompt]`,
		}},
		{"navigation too long for any page in one language", "longnav", Options{}, []string{
			`.: locale fr: page 1 of 60 of the screen of the language menu takes 203 GSM-7 characters; a page holds 182 [ussd-page]`,
			`permit.yaml:4: step name, locale fr: page 1 of 16 of the screen takes 215 GSM-7 characters; a page holds 182 [ussd-page]`,
			`permit.yaml:4: step name, locale fr: the prompt takes 16 USSD pages of 182 characters; a prompt must fit one [ussd-prompt]`,
		}},
		{"a screen longer than two SMS segments in one language", "longsms", Options{SMSSegments: 2}, []string{
			`permit.yaml:4: step kind, locale fr: the screen takes 3 SMS segments; a reply must fit 2 [sms-segments]`,
		}},
		{"the same screen within three segments", "longsms", Options{SMSSegments: 3}, nil},
		// The name is unicode: at its 40 characters the English screen is
		// UCS-2 and takes 3 segments, while the Swahili one, showing a
		// GSM-7 code as long, fits; a result no call returns is reported.
		{"screens showing results at their longest", "calls", Options{USSD: []NamedLayout{kannelLayout}, SMSSegments: 2}, []string{
			`pin.yaml:22: step show, locale en: the screen takes 3 SMS segments; a reply must fit 2 [sms-segments]`,
			`slot.yaml:36: step booked, locale en: message "slot.booked" uses an argument the engine does not give it (it gives Result): "Booked for 28/12/2026 23:59. Reference 1234567890. Bring your ID and the receipt <no value>." [argument]`,
		}},
		{"results at their longest within three segments", "calls", Options{USSD: []NamedLayout{kannelLayout}, SMSSegments: 3}, []string{
			`slot.yaml:36: step booked, locale en: message "slot.booked" uses an argument the engine does not give it (it gives Result): "Booked for 28/12/2026 23:59. Reference 1234567890. Bring your ID and the receipt <no value>." [argument]`,
		}},
		{"the same screen, SMS not checked", "longsms", Options{}, nil},
		{"number inputs whose answers navigation keys stand for", "navigation", Options{USSD: []NamedLayout{atLayout, kannelLayout}}, []string{
			`household.yaml:6: step children: accepts 0, which cannot be typed on ussd (0 goes back, 00 goes home) or sms (0 goes back): a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way [navigation]`,
			`household.yaml:6: step children: accepts 98, which cannot be typed on ussd (98 shows the next page): a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way [navigation]`,
		}},
		{"the same inputs under Hubtel's keys", "navigation", Options{USSD: []NamedLayout{{Name: "Hubtel", Layout: ussd.Layout{Keys: ussd.Keys{More: "9", Back: "8"}}}}}, []string{
			`household.yaml:6: step children: accepts 8, which cannot be typed on ussd (8 goes back): a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way [navigation]`,
			`household.yaml:6: step children: accepts 0, which cannot be typed on ussd (00 goes home) or sms (0 goes back): a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way [navigation]`,
			`household.yaml:6: step children: accepts 9, which cannot be typed on ussd (9 shows the next page): a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way [navigation]`,
			`household.yaml:14: step rooms: accepts 8, which cannot be typed on ussd (8 goes back): a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way [navigation]`,
			`household.yaml:14: step rooms: accepts 9, which cannot be typed on ussd (9 shows the next page): a citizen whose answer it is is stuck there; leave it out with min or max, or ask for it another way [navigation]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, bundle := load(t, tt.catalog)
			got := lines(Check(cat, bundle, tt.opts))
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

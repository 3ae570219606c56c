package flows

import (
	"reflect"
	"testing"
	"testing/fstest"
	"time"

	"github.com/govchannels/channels"
)

// photoCatalog is a service with a step that needs a photo.
const photoCatalog = `id: permit
title: permit.title
steps:
  - id: name
    kind: input
    type: text
    text: permit.name
    field: name
    next: photo
  - id: photo
    kind: input
    type: text
    text: permit.photo
    label: permit.photo.label
    field: photo
    needs: [photo]
    alternative: permit.photo.kiosk
    next: confirm
  - id: confirm
    kind: confirm
    text: permit.confirm
    summary: [name, photo]
    next: submit
  - id: submit
    kind: submit
    text: permit.done
`

func photoEngine(t *testing.T) *Engine {
	t.Helper()
	c, err := Load(fstest.MapFS{"permit.yaml": {Data: []byte(photoCatalog)}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Catalog: c, Langs: []string{"en"}, Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAlternative: on a channel that cannot take a photo, the step that
// needs one shows its alternative with one choice that goes on, and the
// answer stays empty; on the app the step shows as declared.
func TestAlternative(t *testing.T) {
	e := photoEngine(t)
	for _, ch := range []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS} {
		t.Run(string(ch), func(t *testing.T) {
			r, err := e.Start(ch, "en", "permit")
			if err != nil {
				t.Fatal(err)
			}
			step := func(in Input) {
				t.Helper()
				if r, err = e.Step(r.State, in); err != nil {
					t.Fatal(err)
				}
			}
			step(Input{Text: "Jane"})
			want := channels.Screen{Kind: channels.KindMenu, Service: "permit", Step: "photo", Text: channels.Msg("permit.photo.kiosk"),
				Options: []channels.Option{{Key: "1", Text: channels.Msg("resume.continue")}}, CanGoBack: true}
			if !reflect.DeepEqual(r.Screen, want) {
				t.Fatalf("screen %+v, want the alternative %+v", r.Screen, want)
			}
			if sc, err := e.Screen(r.State); err != nil || !reflect.DeepEqual(sc, want) {
				t.Errorf("resumed screen %+v %v, want the alternative", sc, err)
			}
			step(Input{Text: "a photo"})
			if r.State.Step != "photo" || r.Screen.Error == nil || r.Screen.Error.ID != "error.choice" || r.Screen.Text.ID != "permit.photo.kiosk" {
				t.Fatalf("typed answer: %+v, want the alternative again under error.choice", r.Screen)
			}
			step(Input{Text: " 1 "})
			if r.State.Step != "confirm" || r.Screen.Kind != channels.KindConfirm {
				t.Fatalf("after the alternative: %+v, want the confirm step", r.Screen)
			}
			if len(r.Screen.Lines) != 1 || !reflect.DeepEqual(r.Screen.Lines[0].Args["Label"], channels.Msg("permit.name")) {
				t.Errorf("summary %+v: want the name only, nothing given for the photo", r.Screen.Lines)
			}
			if got := r.State.answers(e.catalog.Service("permit")); !reflect.DeepEqual(got, []channels.Answer{{Field: "name", Value: "Jane"}, {Field: "photo", Value: ""}}) {
				t.Errorf("answers %+v", got)
			}
			step(Input{Action: Back})
			if r.State.Step != "photo" || r.Screen.Text.ID != "permit.photo.kiosk" {
				t.Errorf("back: %+v, want the alternative", r.Screen)
			}
		})
	}
	for _, ch := range []channels.Channel{channels.ChannelApp, channels.ChannelKiosk} {
		r, err := e.Start(ch, "en", "permit")
		if err == nil {
			r, err = e.Step(r.State, Input{Text: "Jane"})
		}
		if err == nil {
			r, err = e.Step(r.State, Input{Text: "photo-1234.jpg"})
		}
		if err != nil || r.State.Step != "confirm" || len(r.Screen.Lines) != 2 {
			t.Errorf("%s: %+v %v, want the photo step as declared, then a summary of both", ch, r.Screen, err)
		}
	}
}

func TestCapabilities(t *testing.T) {
	if got := Capabilities(); !reflect.DeepEqual(got, []Capability{CapPhoto}) {
		t.Errorf("Capabilities() = %v", got)
	}
	if !CapPhoto.On(channels.ChannelApp) || !CapPhoto.On(channels.ChannelKiosk) || CapPhoto.On(channels.ChannelUSSD) || CapPhoto.On(channels.ChannelSMS) {
		t.Error("a photo is taken on the app and at a kiosk only")
	}
	if got := CapPhoto.Lacking(); !reflect.DeepEqual(got, []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS}) {
		t.Errorf("Lacking() = %v", got)
	}
	if Capability("fingerprint").Known() || !CapPhoto.Known() {
		t.Error("Known")
	}
}

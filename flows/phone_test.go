package flows

import (
	"testing"
	"testing/fstest"

	"github.com/govchannels/channels"
)

// TestPhoneInputTakesNumbersThatReceiveSMS answers a phone input with
// mobile numbers, landlines and a date, on a step that will text the
// number (the default) and on one declared landline.
func TestPhoneInputTakesNumbersThatReceiveSMS(t *testing.T) {
	cat, err := Load(fstest.MapFS{"office.yaml": {Data: []byte(`id: office
title: office.title
steps:
  - {id: mobile, kind: input, type: phone, field: mobile, text: office.mobile, next: desk}
  - {id: desk, kind: input, type: phone, landline: true, field: desk, text: office.desk, next: done}
  - {id: done, kind: end, text: office.done}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Catalog: cat, Langs: []string{"en"}, Region: "KE"})
	if err != nil {
		t.Fatal(err)
	}
	// The caller's own number seen first, through the same memo: it must
	// not let the landline through an input.
	if _, ok := NormalizePhone("2020-01-15", "KE"); !ok {
		t.Fatal("2020-01-15 is not a valid Kenyan number")
	}
	tests := []struct {
		name  string
		step  string
		input string
		want  string // the value stored, or the refusal's message ID
	}{
		{"Kenyan mobile", "mobile", "0712 345 678", "+254712345678"},
		{"Kenyan mobile, international", "mobile", "+254 733 123456", "+254733123456"},
		{"Nairobi landline", "mobile", "020 2222222", "error.phone_mobile"},
		{"a date read as a Nairobi landline", "mobile", "2020-01-15", "error.phone_mobile"},
		{"a mobile of another region", "mobile", "+44 7911 123456", "+447911123456"},
		{"a landline of another region", "mobile", "+33 1 42 68 53 00", "error.phone_mobile"},
		{"a plan that cannot tell mobile from fixed", "mobile", "+1 212 736 5000", "+12127365000"},
		{"not a number", "mobile", "12", "error.phone"},
		{"a landline where one is asked for", "desk", "020 2222222", "+254202222222"},
		{"a mobile where a landline may be given", "desk", "0712 345 678", "+254712345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // again, from the memo
				st := State{Service: "office", Step: tt.step, Lang: "en", Channel: channels.ChannelUSSD}
				r, err := e.Step(st, Input{Text: tt.input})
				if err != nil {
					t.Fatal(err)
				}
				got := errID(r)
				if got == "" {
					got = r.State.Trail[len(r.State.Trail)-1].Value
				}
				if got != tt.want {
					t.Errorf("%q: got %q, want %q", tt.input, got, tt.want)
				}
			}
		})
	}
}

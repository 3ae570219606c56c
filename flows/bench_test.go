package flows

import (
	"testing"

	"github.com/govchannels/channels"
)

// BenchmarkStart measures starting a session at a service's first step and
// encoding the state to keep.
func BenchmarkStart(b *testing.B) {
	e := newTestEngine(b)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		r, err := e.Start(channels.ChannelUSSD, "en", "permit")
		if err != nil {
			b.Fatal(err)
		}
		buf = r.State.AppendEncode(buf[:0])
	}
}

// BenchmarkStep measures one resumed step as a channel runs it: decode the
// stored state, apply a checked answer, encode the new state.
func BenchmarkStep(b *testing.B) {
	e := newTestEngine(b)
	cases := []struct {
		name  string
		state State
		input string
	}{
		{"text input", State{Service: "permit", Step: "name", Lang: "en", Channel: channels.ChannelUSSD}, "Ann Njeri"},
		{"menu", State{Service: "permit", Step: "kind", Lang: "en", Channel: channels.ChannelUSSD, Trail: []Visit{{"name", "Ann Njeri"}}}, "2"},
		{"date", State{Service: "permit", Step: "day", Lang: "en", Channel: channels.ChannelUSSD, Trail: []Visit{{"name", "Ann Njeri"}, {"kind", "event"}}}, "01/12/2026"},
		{"branch", State{Service: "permit", Step: "stalls", Lang: "en", Channel: channels.ChannelUSSD, Trail: []Visit{{"name", "Ann Njeri"}, {"kind", "market"}}}, "4"},
		{"to confirm", State{Service: "permit", Step: "phone", Lang: "en", Channel: channels.ChannelUSSD, Trail: []Visit{{"name", "Ann Njeri"}, {"kind", "event"}, {"day", "2026-12-01"}}}, "0712345678"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			stored := c.state.Encode()
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				st, err := DecodeState(stored)
				if err != nil {
					b.Fatal(err)
				}
				r, err := e.Step(st, Input{Text: c.input})
				if err != nil || r.Screen.Error != nil {
					b.Fatalf("step: %v %+v", err, r.Screen.Error)
				}
				buf = r.State.AppendEncode(buf[:0])
			}
		})
	}
}

// BenchmarkNormalizePhone measures a phone number the engine has not seen
// (libphonenumber's parse and validation) and one it has (the memo).
func BenchmarkNormalizePhone(b *testing.B) {
	b.Run("new number", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !parsePhone("0712 345 678", "KE").ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("seen number", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := NormalizePhone("0712 345 678", "KE"); !ok {
				b.Fatal("refused")
			}
		}
	})
}

package flows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/services"
)

func shippedEngine(t testing.TB) *flows.Engine {
	t.Helper()
	cat, err := flows.Load(services.FS)
	if err != nil {
		t.Fatal(err)
	}
	e, err := flows.New(flows.Config{Catalog: cat, Langs: []string{"en", "fr", "sw"}, Region: "KE",
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// birthInputs is the longest path of the shipped catalog with every text
// answer at its maximum length.
var birthInputs = []string{
	strings.Repeat("Wanjiru ", 7) + "Ann", "12/03/2024", "1", strings.Repeat("K", 40), "3", "12345674",
	strings.Repeat("Achieng ", 7) + "Ann", "+254712345678", "2", strings.Repeat("P", 60),
}

// TestShippedStateFitsBudget checks the largest waiting state of the shipped
// catalog, on the confirm step of its longest path with every answer at
// its maximum length, stays under 512 bytes serialized.
func TestShippedStateFitsBudget(t *testing.T) {
	e := shippedEngine(t)
	r, err := e.Start(channels.ChannelUSSD, "sw", "birth_certificate")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range birthInputs {
		if r, err = e.Step(r.State, flows.Input{Text: in}); err != nil || r.Screen.Error != nil {
			t.Fatalf("input %q: %v %+v", in, err, r.Screen.Error)
		}
	}
	if r.Screen.Kind != channels.KindConfirm {
		t.Fatalf("not on the confirm step: %+v", r.Screen)
	}
	if n := len(r.State.Encode()); n >= 512 {
		t.Errorf("state on confirm is %d bytes, want < 512", n)
	} else {
		t.Logf("largest waiting state: %d bytes", n)
	}
}

// BenchmarkShippedStep is one resumed step of the shipped birth-certificate
// service, decoding and encoding its state, at each step of its longest path.
func BenchmarkShippedStep(b *testing.B) {
	e := shippedEngine(b)
	r, err := e.Start(channels.ChannelUSSD, "en", "birth_certificate")
	if err != nil {
		b.Fatal(err)
	}
	states := [][]byte{}
	for _, in := range birthInputs {
		states = append(states, r.State.Encode())
		if r, err = e.Step(r.State, flows.Input{Text: in}); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		st, err := flows.DecodeState(states[i%len(states)])
		if err != nil {
			b.Fatal(err)
		}
		r, err := e.Step(st, flows.Input{Text: birthInputs[i%len(states)]})
		if err != nil || r.Screen.Error != nil {
			b.Fatal(err, r.Screen.Error)
		}
		buf = r.State.AppendEncode(buf[:0])
		i++
	}
}

// BenchmarkShippedStart starts the birth-certificate service and encodes
// the state.
func BenchmarkShippedStart(b *testing.B) {
	e := shippedEngine(b)
	b.ReportAllocs()
	for b.Loop() {
		r, err := e.Start(channels.ChannelUSSD, "en", "birth_certificate")
		if err != nil {
			b.Fatal(err)
		}
		_ = r.State.Encode()
	}
}

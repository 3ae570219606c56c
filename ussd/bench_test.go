package ussd

import (
	"context"
	"fmt"
	"testing"

	"github.com/govchannels/channels"
)

// BenchmarkPages measures laying out the root menu and a paginated confirm
// screen.
func BenchmarkPages(b *testing.B) {
	f := newFixture(b)
	home, err := f.engine.Start(channels.ChannelUSSD, "fr", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Pages(f.bundle, "fr", home.Screen, Layout{})
	}
}

// BenchmarkHop measures whole hops through Server.Handle on a real bbolt
// file: a dial, then the report_problem inputs to the end, one session
// after another.
func BenchmarkHop(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	texts := []string{"", "3", "3*1", "3*1*Kisumu", "3*1*Kisumu*Pipe burst", "3*1*Kisumu*Pipe burst*1"}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		sid := fmt.Sprintf("bench-%d", n/len(texts))
		if _, err := f.srv.Handle(ctx, Request{SessionID: sid, Phone: phone, ServiceCode: "*384#", Text: texts[n%len(texts)]}); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

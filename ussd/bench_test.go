package ussd

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
)

// BenchmarkPagesMenu lays out the root menu: one page.
func BenchmarkPagesMenu(b *testing.B) {
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

// BenchmarkPagesConfirm lays out the longest confirm summary of the
// catalog: two pages, ten localized lines.
func BenchmarkPagesConfirm(b *testing.B) {
	f := newFixture(b)
	res, err := f.engine.Start(channels.ChannelUSSD, "en", "birth_certificate")
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range []string{"Amina Wanjiru Otieno", "12/03/2024", "1", "Kisumu District Hospital", "3", "12345674", "Grace Achieng Otieno", "0712345678", "2", "P.O. Box 42, Kisumu"} {
		if res, err = f.engine.Step(res.State, flows.Input{Text: in}); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(Pages(f.bundle, "en", res.Screen, Layout{})); n != 2 {
		b.Fatalf("%d pages, want 2", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		Pages(f.bundle, "en", res.Screen, Layout{})
	}
}

// BenchmarkHop measures hops through Server.Handle on a real bbolt file:
// sessions of a dial and the five inputs of a report, one after another,
// the last hop a submission. ns/op is per hop.
func BenchmarkHop(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	texts := hops(reportInputs...)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		sid := "bench-" + strconv.Itoa(n/len(texts))
		if _, err := f.srv.Handle(ctx, Request{SessionID: sid, Phone: phone, ServiceCode: "*384#", Text: texts[n%len(texts)]}); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkHopParallel runs the sessions of BenchmarkHop from many
// goroutines at once, as a gateway does: bbolt batches their writes into
// shared transactions. ns/op is per hop.
func BenchmarkHopParallel(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	texts := hops(reportInputs...)
	var worker atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		w := strconv.FormatInt(worker.Add(1), 10)
		n := 0
		for pb.Next() {
			sid := "bench-" + w + "-" + strconv.Itoa(n/len(texts))
			// Each worker is its own phone, so that no dial meets another
			// worker's resume record.
			if _, err := f.srv.Handle(ctx, Request{SessionID: sid, Phone: workerPhone(w), ServiceCode: "*384#", Text: texts[n%len(texts)]}); err != nil {
				b.Error(err)
				return
			}
			n++
		}
	})
}

// workerPhone is a valid Kenyan number per benchmark worker.
func workerPhone(w string) string {
	return "+2547" + strings.Repeat("0", 8-len(w)) + w
}

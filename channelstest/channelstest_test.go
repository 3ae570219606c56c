package channelstest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

func TestClock(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c := NewClock(at)
	c.Add(90 * time.Second)
	if got := c.Now(); !got.Equal(at.Add(90 * time.Second)) {
		t.Errorf("Now() = %v", got)
	}
}

func TestLogBufferConcurrent(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "line %d\n", i)
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 20 {
		t.Errorf("%d lines, want 20", n)
	}
}

// TestWalk walks the shipped catalog on USSD and SMS: Walk itself fails
// when it misses a step; here, the home screens come first and every
// service shows a refused answer and every outcome of its call.
func TestWalk(t *testing.T) {
	e, bundle := Shipped(t, func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) })
	for _, ch := range []channels.Channel{channels.ChannelUSSD, channels.ChannelSMS} {
		lang := bundle.Langs()[0]
		var home []string
		Walk(t, e, ch, lang, "", func(label string, _ channels.Screen) { home = append(home, label) })
		if want := []string{"root", `root ← "9"`, "language", `language ← "7"`}; !slices.Equal(home, want) {
			t.Errorf("%s home labels %q, want %q", ch, home, want)
		}
		for _, svc := range e.Catalog().Services {
			var labels []string
			Walk(t, e, ch, lang, svc.ID, func(label string, sc channels.Screen) {
				if sc.Kind == "" {
					t.Errorf("%s %s: empty screen", ch, label)
				}
				labels = append(labels, label)
			})
			all := strings.Join(labels, "\n")
			if !strings.HasPrefix(all, svc.ID+"/start") || !strings.Contains(all, " failed") {
				t.Errorf("%s %s: walk without a start or a failed call:\n%s", ch, svc.ID, all)
			}
		}
	}
}

func TestDiff(t *testing.T) {
	tests := []struct{ name, want, got, diff string }{
		{"equal", "a\nb", "a\nb", ""},
		{"second line", "a\nb", "a\nc", "line 2:\nwant: \"b\"\ngot:  \"c\""},
		{"longer", "a", "a\nb", "line 2:\nwant: \"\"\ngot:  \"b\""},
		{"line endings", "a\n", "a\r\n", "line 1:\nwant: \"a\"\ngot:  \"a\\r\""},
	}
	for _, tt := range tests {
		if got := Diff(tt.want, tt.got); got != tt.diff {
			t.Errorf("%s: Diff = %q, want %q", tt.name, got, tt.diff)
		}
	}
}

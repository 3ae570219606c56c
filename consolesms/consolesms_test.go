package consolesms

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/govchannels/channels"
)

// TestSend checks what a developer reads: each message whole between its
// marked lines, the phone in full, and the key as the provider ID.
func TestSend(t *testing.T) {
	var out strings.Builder
	s := New(&out)
	id, err := s.Send(context.Background(), &channels.Outbound{Key: "k1", To: "+254712345678", Text: "Your code: 123456\nValid 5 minutes."})
	if err != nil || id != "k1" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	want := "==== SMS to +254712345678 (console sender, development only: not sent) ====\n" +
		"Your code: 123456\nValid 5 minutes.\n" +
		"==== end of SMS ====\n"
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
	if s.Name() != "console" {
		t.Errorf("Name = %q", s.Name())
	}
}

// TestSendConcurrent checks that messages sent at once are printed one
// after the other, never interleaved.
func TestSendConcurrent(t *testing.T) {
	w := &lineWriter{}
	s := New(w)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := s.Send(context.Background(), &channels.Outbound{Key: "k", To: "+25471234567" + string(rune('0'+i%10)), Text: "a\nb"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 20*4 {
		t.Fatalf("%d lines, want %d", len(lines), 20*4)
	}
	for i := 0; i < len(lines); i += 4 {
		if !strings.HasPrefix(lines[i], "==== SMS to ") || lines[i+1] != "a" || lines[i+2] != "b" || lines[i+3] != "==== end of SMS ====" {
			t.Fatalf("message %d interleaved: %q", i/4, lines[i:i+4])
		}
	}
}

// TestSendWriteFails: a console that cannot be written is an error the
// outbox retries.
func TestSendWriteFails(t *testing.T) {
	if _, err := New(failing{}).Send(context.Background(), &channels.Outbound{Key: "k", To: "+254712345678", Text: "x"}); err == nil {
		t.Error("Send on a closed console succeeded")
	}
}

// lineWriter records writes and yields between the parts of one, so that
// unserialized senders would interleave.
type lineWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *lineWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		w.mu.Lock()
		w.buf.WriteByte(b)
		w.mu.Unlock()
		runtime.Gosched()
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("closed") }

package ussd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Simulator plays a gateway against a Server, in a terminal (`channels
// simulate`) or a transcript test: it dials, sends each line it reads as
// the next input, accumulating the text as Africa's Talking does, and
// writes the dialogue:
//
//	# dial *384#
//	CON Government services
//	1. Birth certificate
//	…
//	> 1
//	CON Child's full name:
//
// After an END, the next input dials again first. Some lines are not sent
// as they are:
//
//	$REF    is replaced, anywhere in a line, by the last case reference shown
//	~drop   cuts the session as a lost network would; the next input dials again
//	~retry  sends the last hop again, as a gateway that timed out does
//	#…      is a comment, skipped
type Simulator struct {
	Server *Server
	Phone  string // E.164
	Code   string // the service code dialled; "*384#" when empty
	// SessionPrefix starts the gateway session ID of every dial, which
	// ends with the dial's number; drawn from the clock when empty, so
	// that runs on one data file do not meet.
	SessionPrefix string

	dials   int
	inputs  int    // inputs sent in this session
	text    string // accumulated text of the session
	live    bool   // a session is open
	lastRef string
}

// refPattern finds case references in replies: ten digits, the first not 0.
var refPattern = regexp.MustCompile(`\b[1-9][0-9]{9}\b`)

// Run dials, then reads inputs from in until it ends, writing the dialogue
// to out. It fails on a read or write error, or on a hop the Server could
// not answer (its END reply is written first).
func (sim *Simulator) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	w := &errWriter{w: out}
	if err := sim.dial(ctx, w); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case line == "~drop":
			fmt.Fprintf(w, "> %s\n", line)
			sim.live = false
			continue
		case line == "~retry":
			// The same request again, even after an END.
			fmt.Fprintf(w, "> %s\n", line)
		default:
			if !sim.live {
				if err := sim.dial(ctx, w); err != nil {
					return err
				}
			}
			fmt.Fprintf(w, "> %s\n", line)
			input := strings.ReplaceAll(line, "$REF", sim.lastRef)
			if sim.inputs == 0 {
				sim.text = input
			} else {
				sim.text += "*" + input
			}
			sim.inputs++
		}
		if err := sim.hop(ctx, w); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read inputs: %w", err)
	}
	return w.err
}

func (sim *Simulator) dial(ctx context.Context, w *errWriter) error {
	if sim.SessionPrefix == "" {
		sim.SessionPrefix = "sim-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	code := sim.Code
	if code == "" {
		code = "*384#"
	}
	sim.dials++
	sim.text, sim.inputs, sim.live = "", 0, true
	fmt.Fprintf(w, "# dial %s\n", code)
	return sim.hop(ctx, w)
}

func (sim *Simulator) hop(ctx context.Context, w *errWriter) error {
	code := sim.Code
	if code == "" {
		code = "*384#"
	}
	reply, err := sim.Server.Handle(ctx, Request{
		SessionID:   sim.SessionPrefix + "-" + strconv.Itoa(sim.dials),
		Phone:       sim.Phone,
		ServiceCode: code,
		Text:        sim.text,
	})
	if reply.End {
		sim.live = false
	}
	fmt.Fprintln(w, atReply(reply))
	if ref := refPattern.FindString(reply.Text); ref != "" {
		sim.lastRef = ref
	}
	if err != nil {
		return fmt.Errorf("hop %d of dial %d: %w", sim.inputs, sim.dials, err)
	}
	return w.err
}

// errWriter keeps the first write error, so that the dialogue is written
// without checking every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("write dialogue: %w", err)
	}
	return n, err
}

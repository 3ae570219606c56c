package ussd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Simulator plays a gateway in a terminal or a test: it dials, sends each
// line read as the next input (accumulating the text as Africa's Talking
// does) and prints every reply. After an END the next line dials again.
// Two inputs are special: "$REF" stands for the last case reference shown,
// and "~drop" cuts the session as a lost network would.
type Simulator struct {
	Server *Server
	Phone  string
	Code   string // the service code dialled; "*384#" when empty

	session int
	prefix  string
	text    string
	live    bool
	lastRef string
}

var refPattern = regexp.MustCompile(`\b[1-9][0-9]{9}\b`)

// Run reads inputs from in until it ends and writes the dialogue to out:
// each input as "> input", each reply as the gateway receives it.
func (sim *Simulator) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	if sim.Code == "" {
		sim.Code = "*384#"
	}
	if sim.prefix == "" {
		sim.prefix = fmt.Sprintf("sim-%d", time.Now().UnixNano())
	}
	if err := sim.dial(ctx, out); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") {
			continue
		}
		fmt.Fprintf(out, "> %s\n", line)
		if line == "~drop" {
			sim.live = false
			if err := sim.dial(ctx, out); err != nil {
				return err
			}
			continue
		}
		if !sim.live {
			if err := sim.dial(ctx, out); err != nil {
				return err
			}
		}
		input := strings.ReplaceAll(line, "$REF", sim.lastRef)
		if sim.text == "" {
			sim.text = input
		} else {
			sim.text += "*" + input
		}
		if err := sim.hop(ctx, out); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (sim *Simulator) dial(ctx context.Context, out io.Writer) error {
	sim.session++
	sim.text = ""
	sim.live = true
	fmt.Fprintf(out, "# dial %s\n", sim.Code)
	return sim.hop(ctx, out)
}

func (sim *Simulator) hop(ctx context.Context, out io.Writer) error {
	reply, err := sim.Server.Handle(ctx, Request{
		SessionID:   fmt.Sprintf("%s-%d", sim.prefix, sim.session),
		Phone:       sim.Phone,
		ServiceCode: sim.Code,
		Text:        sim.text,
	})
	prefix := "CON "
	if reply.End {
		prefix = "END "
		sim.live = false
	}
	fmt.Fprintf(out, "%s%s\n", prefix, reply.Text)
	if ref := refPattern.FindString(reply.Text); ref != "" {
		sim.lastRef = ref
	}
	if err != nil {
		return fmt.Errorf("hop %q: %w", sim.text, err)
	}
	return nil
}

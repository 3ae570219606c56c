package kiosk

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/peertest"
)

// TestBrowser is an operator's whole visit in Debian's Chromium, headless:
// sign in, enter the citizen's phone, type the consent code the citizen
// received by SMS (through the durable outbox and Kannel, to the SMPP
// operator), run report_problem screen by screen and read the reference;
// the citizen then gets the reference by SMS. It runs twice, the second
// time with the page's scripts disabled: the console needs none.
func TestBrowser(t *testing.T) {
	e := newEnv(t, withKannel, func(o *options) { o.smpp = true })
	tests := []struct {
		name    string
		scripts bool
		phone   string
	}{
		{"scripts on", true, phoneA},
		{"scripts off", false, phoneB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, !tt.scripts)
			base := e.srv.URL

			b.open(base + "/kiosk/")
			b.must("sign-in page", b.title() == "Kiosk services" && b.has("Operator sign-in"))
			b.submit(http.StatusOK, chromedp.SendKeys(chromedp.ID("id"), amina), chromedp.SendKeys(chromedp.ID("password"), aminaPW), chromedp.Click(chromedp.ID("sign-in")))
			b.must("home page", b.has("Amina Otieno at kisumu-post-office") && b.has("Serve a citizen"))

			b.submit(http.StatusOK, chromedp.SendKeys(chromedp.ID("phone"), "0"+tt.phone[4:]), chromedp.Click(chromedp.ID("send-code")))
			b.must("consent page", b.has("A code was sent by SMS to "+channels.MaskPhone(tt.phone)))
			code := codeRE.FindString(e.sms(t, tt.phone))
			b.submit(http.StatusOK, chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(chromedp.ID("give-consent")))
			b.must("citizen page", b.has("Consent by SMS code, 30 min left.") && b.has("No applications yet."))

			b.submit(http.StatusOK, chromedp.Click(chromedp.CSS(`button[value="report_problem"]`)))
			b.must("category screen", b.has("What is the problem with?"))
			b.submit(http.StatusOK, chromedp.Click(chromedp.CSS(`button[name="text"][value="1"]`)))
			b.must("location screen", b.has("Where? Town or village and a landmark:"))
			b.submit(http.StatusOK, chromedp.SendKeys(chromedp.ID("answer"), "K"), chromedp.Click(chromedp.ID("next")))
			b.must("refusal", b.has("At least 2 characters."))
			b.submit(http.StatusOK, chromedp.SendKeys(chromedp.ID("answer"), "Kondele market\r"))
			b.must("description screen", b.has("Describe the problem briefly:"))
			b.submit(http.StatusOK, chromedp.SendKeys(chromedp.ID("answer"), "Street lights out on Jomo Kenyatta Avenue."), chromedp.Click(chromedp.ID("next")))
			b.must("confirm screen", b.has("Check your report:") && b.has("Place: Kondele market") && b.has("About: Water"))
			b.submit(http.StatusOK, chromedp.Click(chromedp.CSS(`button[name="text"][value="1"]`)))

			m := regexp.MustCompile(`Your reference is ([0-9]{10})\.`).FindStringSubmatch(b.text())
			if m == nil {
				t.Fatalf("no reference on the end screen: %s", b.text())
			}
			ref := m[1]
			b.must("the reference in large type", strings.Contains(b.html(), `id="reference">`+ref+`<`))
			b.submit(http.StatusOK, chromedp.Click(chromedp.ID("receipt")))
			b.must("receipt page", b.has("Receipt") && b.has(ref) && b.has("Assisted by operator amina at kiosk kisumu-post-office."))

			if sms := e.sms(t, tt.phone); !strings.Contains(sms, "Your reference is "+ref+".") {
				t.Errorf("receipt SMS %q", sms)
			}
			cs, err := e.db.Case(t.Context(), ref)
			if err != nil || cs.Phone != tt.phone || cs.Channel != channels.ChannelKiosk || cs.Assisted == nil || cs.Assisted.Operator != amina {
				t.Errorf("case %+v, %v", cs, err)
			}
		})
	}
}

// browser is one headless Chromium with a fresh profile, and the page it
// shows.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts Chromium for the test, with the page's scripts
// disabled when noScripts, and stops it when the test ends.
func newBrowser(t *testing.T, noScripts bool) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(peertest.Chromium(t)), chromedp.WindowSize(800, 1280)}
	for name, value := range peertest.ChromiumFlags(t) {
		opts = append(opts, chromedp.Flag(name, value))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx}
	if noScripts {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disable scripts: %v", err)
		}
		// A page whose script would retitle it proves that scripts are off.
		b.open("data:text/html,<title>scripts off</title><script>document.title='scripts on'</script>")
		if got := b.title(); got != "scripts off" {
			t.Fatalf("the page's script ran: its title is %q", got)
		}
	}
	return b
}

// open navigates to url.
func (b *browser) open(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("open %s: %v", url, err)
	}
}

// submit runs the actions, which post a form, and waits for the page that
// answers, whose status must be status.
func (b *browser) submit(status int, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("submit: %v on the page: %s", err, b.text())
	}
	if int(resp.Status) != status {
		b.t.Fatalf("submit: %d, want %d: %s", resp.Status, status, b.text())
	}
}

// html is the page's document.
func (b *browser) html() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatalf("read the page: %v", err)
	}
	return s
}

// text is what the page shows, as page.text reads it.
func (b *browser) text() string { return page{body: b.html()}.text() }

// has reports whether the page shows s.
func (b *browser) has(s string) bool { return strings.Contains(b.text(), s) }

// title is the page's title.
func (b *browser) title() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Title())
	if err != nil {
		b.t.Fatalf("title: %v", err)
	}
	return s
}

// must fails the test with what the page shows unless ok.
func (b *browser) must(what string, ok bool) {
	b.t.Helper()
	if !ok {
		b.t.Fatalf("%s: the page shows: %s", what, b.text())
	}
}

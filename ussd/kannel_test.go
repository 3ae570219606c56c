package ussd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/channelstest"
	"github.com/govchannels/channels/lenprefix"
)

// kannelRouter is the fixture's Server behind gin with the Kannel dialect
// at /ussd/kannel, checking secret when it is not empty.
func kannelRouter(f *fixture, secret string) *gin.Engine {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.srv.RegisterKannel(r, "/ussd/kannel", secret)
	return r
}

// newKannelFixture is a fixture whose Server lays pages out as serve
// does behind Kannel (KannelLayout).
func newKannelFixture(t testing.TB) *fixture {
	t.Helper()
	f := newFixture(t)
	cfg := f.srv.cfg
	cfg.Layout = KannelLayout(0)
	f.srv = New(cfg)
	return f
}

// kannelServer serves the fixture's Kannel dialect over a real listener.
func kannelServer(t *testing.T, f *fixture, secret string) string {
	t.Helper()
	srv := httptest.NewServer(kannelRouter(f, secret))
	t.Cleanup(srv.Close)
	return srv.URL + "/ussd/kannel"
}

// pct percent-encodes every octet, as Kannel's meta-data carries a raw
// TLV value.
func pct(octets ...byte) string {
	var b strings.Builder
	for _, o := range octets {
		fmt.Fprintf(&b, "%%%02X", o)
	}
	return b.String()
}

// kannelMetaData is %D of an MO: the smpp group with the two TLVs as Kannel
// 1.4 passes them, and the "&" it ends each pair with.
func kannelMetaData(op byte, info [2]byte) string {
	return "?smpp?ussd_service_op=" + pct(op) + "&its_session_info=" + pct(info[0], info[1]) + "&"
}

// kannelQuery is the query of the get-url for an MO, as Kannel expands
// from=%p&to=%P&text=%a&meta=%D; kv adds or replaces parameters.
func kannelQuery(from, text string, op byte, info [2]byte, kv ...string) string {
	v := url.Values{"from": {from}, "to": {"384"}, "text": {text}, "meta": {kannelMetaData(op, info)}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// kannelReply is the answer to an MO as Kannel reads it.
type kannelReply struct {
	status int
	body   string
	meta   string // X-Kannel-Meta-Data
	coding string // X-Kannel-Coding
}

// op is the ussd_service_op of the reply, -1 when there is none.
func (r kannelReply) op() int {
	switch {
	case strings.HasPrefix(r.meta, "?smpp?ussd_service_op=2&"):
		return 2
	case strings.HasPrefix(r.meta, "?smpp?ussd_service_op=17&"):
		return 17
	}
	return -1
}

func kannelGet(t testing.TB, target, query string) kannelReply {
	t.Helper()
	resp, err := http.Get(target + "?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	return kannelReply{resp.StatusCode, string(b), resp.Header.Get("X-Kannel-Meta-Data"), resp.Header.Get("X-Kannel-Coding")}
}

// kannelPhone plays one phone's USSD dialogues against a Kannel dialect.
type kannelPhone struct {
	t      *testing.T
	target string
	from   string
	info   [2]byte
}

func (p *kannelPhone) mo(op byte, text string, kv ...string) kannelReply {
	p.t.Helper()
	r := kannelGet(p.t, p.target, kannelQuery(p.from, text, op, p.info, kv...))
	if r.status != http.StatusOK {
		p.t.Fatalf("MO op %d %q: %d %q", op, text, r.status, r.body)
	}
	return r
}

func (p *kannelPhone) dial() kannelReply            { return p.mo(opPSSRIndication, "*384#") }
func (p *kannelPhone) answer(in string) kannelReply { return p.mo(opUSSRConfirm, in) }

func TestParseKannel(t *testing.T) {
	info := [2]byte{0x12, 0x34}
	dial := KannelMO{Phone: phone, To: "384", Text: "*384#", Op: 1, SessionInfo: info}
	with := func(m KannelMO, edit func(*KannelMO)) KannelMO { edit(&m); return m }
	q := func(meta string, kv ...string) string {
		v := url.Values{"from": {"254712345678"}, "to": {"384"}, "text": {"*384#"}, "meta": {meta}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "-" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v.Encode()
	}
	tests := []struct {
		name  string
		query string
		want  KannelMO
		msg   string // the message ID of the error; "" for none
	}{
		{"dial, raw octets", q(kannelMetaData(1, info)), dial, ""},
		{"answer, raw octet 0x12", q(kannelMetaData(18, info), "text", "Plot 5*B"), with(dial, func(m *KannelMO) { m.Op, m.Text = 18, "Plot 5*B" }), ""},
		{"no trailing &", q("?smpp?ussd_service_op=%01&its_session_info=%12%34"), dial, ""},
		{"unreserved octet left unencoded", q("?smpp?ussd_service_op=%01&its_session_info=%124"), dial, ""},
		{"decimal integers", q("?smpp?ussd_service_op=18&its_session_info=4660&"), with(dial, func(m *KannelMO) { m.Op = 18 }), ""},
		{"group name in capitals", q("?SMPP?ussd_service_op=%01&its_session_info=%12%34&"), dial, ""},
		{"other TLVs and groups", q("?other?x=1&?smpp?source_port=%00%01&ussd_service_op=%01&its_session_info=%12%34&?more?y=%3F&"), dial, ""},
		{"key twice: the last wins", q("?smpp?ussd_service_op=%12&ussd_service_op=%01&its_session_info=%12%34&"), dial, ""},
		{"zero octets", q(kannelMetaData(1, [2]byte{0, 0})), with(dial, func(m *KannelMO) { m.SessionInfo = [2]byte{} }), ""},
		{"release op 0x21", q(kannelMetaData(0x21, info)), with(dial, func(m *KannelMO) { m.Op = 0x21 }), ""},
		{"vendor abort 0x81", q(kannelMetaData(0x81, info)), with(dial, func(m *KannelMO) { m.Op = 0x81 }), ""},
		{"national number", q(kannelMetaData(1, info), "from", "0712345678"), dial, ""},
		{"E.164 number", q(kannelMetaData(1, info), "from", "+254712345678"), dial, ""},
		{"message id", q(kannelMetaData(1, info), "id", "0b5e7c44-1f5b-4c9e-8b7e-4a4d2f0e9a11"), with(dial, func(m *KannelMO) { m.ID = "0b5e7c44-1f5b-4c9e-8b7e-4a4d2f0e9a11" }), ""},
		{"no to", q(kannelMetaData(1, info), "to", "-"), with(dial, func(m *KannelMO) { m.To = "" }), ""},

		{"missing from", q(kannelMetaData(1, info), "from", "-"), KannelMO{}, "error.bad_request"},
		{"blank from", q(kannelMetaData(1, info), "from", "  "), KannelMO{}, "error.bad_request"},
		{"invalid phone", q(kannelMetaData(1, info), "from", "+2541"), KannelMO{}, "error.phone"},
		{"missing meta", q("", "meta", "-"), KannelMO{}, "error.bad_request"},
		{"meta without ?", q("smpp?ussd_service_op=%01&its_session_info=%12%34"), KannelMO{}, "error.bad_request"},
		{"group not closed", q("?smpp"), KannelMO{}, "error.bad_request"},
		{"no smpp group", q("?other?ussd_service_op=%01&its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"missing ussd_service_op", q("?smpp?its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"missing its_session_info", q("?smpp?ussd_service_op=%01&"), KannelMO{}, "error.bad_request"},
		{"empty smpp group", q("?smpp?"), KannelMO{}, "error.bad_request"},
		{"pair without =", q("?smpp?ussd_service_op&its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"two = in a pair", q("?smpp?ussd_service_op=%01=1&its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"broken escape", q("?smpp?ussd_service_op=%0&its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"op of two octets", q("?smpp?ussd_service_op=%00%01&its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"empty op", q("?smpp?ussd_service_op=&its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"op over 255", q("?smpp?ussd_service_op=256&its_session_info=%12%34&"), KannelMO{}, "error.bad_request"},
		{"session info of one octet", q("?smpp?ussd_service_op=%01&its_session_info=%12&"), KannelMO{}, "error.bad_request"},
		{"session info of three octets", q("?smpp?ussd_service_op=%01&its_session_info=%12%34%56&"), KannelMO{}, "error.bad_request"},
		{"session info over 65535", q("?smpp?ussd_service_op=%01&its_session_info=65536&"), KannelMO{}, "error.bad_request"},
		{"op 2 is ours", q(kannelMetaData(2, info)), KannelMO{}, "error.bad_request"},
		{"op 17 is ours", q(kannelMetaData(17, info)), KannelMO{}, "error.bad_request"},
		{"op 0 is no session", q(kannelMetaData(0, info)), KannelMO{}, "error.bad_request"},
		{"op 19 is no session", q(kannelMetaData(19, info)), KannelMO{}, "error.bad_request"},
		{"text not UTF-8", q(kannelMetaData(18, info), "text", "1\xff"), KannelMO{}, "error.bad_request"},
		{"text too long", q(kannelMetaData(18, info), "text", strings.Repeat("1", 800)), KannelMO{}, "error.bad_request"},
		{"to too long", q(kannelMetaData(1, info), "to", strings.Repeat("3", 65)), KannelMO{}, "error.bad_request"},
		{"meta too long", q(kannelMetaData(1, info) + "?x?y=" + strings.Repeat("z", 1100)), KannelMO{}, "error.bad_request"},
		{"query not decodable", "from=%zz&" + q(kannelMetaData(1, info), "from", "-"), KannelMO{}, "error.bad_request"},
		{"query too long", q(kannelMetaData(1, info), "pad", strings.Repeat("x", 5000)), KannelMO{}, "error.too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/ussd/kannel?"+tt.query, nil)
			got, err := ParseKannel(req, "KE")
			if tt.msg != "" {
				if err == nil || channels.ErrorMessage(err) != tt.msg {
					t.Fatalf("ParseKannel = %+v, %v; want an error %s", got, err, tt.msg)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseKannel = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestKannelMetaReply(t *testing.T) {
	if got, want := kannelMeta(2, [2]byte{0x12, 0x34}), "?smpp?ussd_service_op=2&its_session_info=%12%34"; got != want {
		t.Errorf("kannelMeta = %q, want %q", got, want)
	}
	if got, want := kannelMeta(17, [2]byte{0, 0xff}), "?smpp?ussd_service_op=17&its_session_info=%00%FF"; got != want {
		t.Errorf("kannelMeta = %q, want %q", got, want)
	}
	// What we send parses back as Kannel would read it.
	g, err := kannelMetaGroup(kannelMeta(17, [2]byte{0x12, 0x34}), "smpp")
	if err != nil || g["ussd_service_op"] != "17" || g["its_session_info"] != "\x12\x34" {
		t.Errorf("reply meta-data reads back as %q, %v", g, err)
	}
}

func TestKannelRequests(t *testing.T) {
	f := newFixture(t)
	target := kannelServer(t, f, "s3cret")
	info := [2]byte{0x01, 0x00}
	tests := []struct {
		name   string
		query  string
		status int
		body   string
	}{
		{"right secret", kannelQuery(phone, "*384#", 1, info, "secret", "s3cret"), 200, f.text("home.title") + "\n"},
		{"missing secret", kannelQuery(phone, "*384#", 1, info), 403, f.text("error.bad_request")},
		{"wrong secret", kannelQuery(phone, "*384#", 1, info, "secret", "s3creT"), 403, f.text("error.bad_request")},
		{"longer secret", kannelQuery(phone, "*384#", 1, info, "secret", "s3cret2"), 403, f.text("error.bad_request")},
		{"empty secret", kannelQuery(phone, "*384#", 1, info, "secret", ""), 403, f.text("error.bad_request")},
		{"bad meta-data", kannelQuery(phone, "*384#", 1, info, "secret", "s3cret", "meta", "?smpp?ussd_service_op=%01&"), 400, f.text("error.bad_request")},
		{"op 2 from a phone", kannelQuery(phone, "*384#", 2, info, "secret", "s3cret"), 400, f.text("error.bad_request")},
		{"invalid phone", kannelQuery("+2541", "*384#", 1, info, "secret", "s3cret"), 400, f.text("error.phone")},
		{"missing from", kannelQuery("", "*384#", 1, info, "secret", "s3cret"), 400, f.text("error.bad_request")},
		{"oversized", kannelQuery(phone, "*384#", 1, info, "secret", "s3cret", "pad", strings.Repeat("x", 5000)), 414, f.text("error.too_large")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := kannelGet(t, target, tt.query)
			if r.status != tt.status || !strings.HasPrefix(r.body, tt.body) {
				t.Errorf("%d %q, want %d %q…", r.status, r.body, tt.status, tt.body)
			}
		})
	}
	t.Run("POST is not served", func(t *testing.T) {
		resp, err := http.Post(target+"?"+kannelQuery(phone, "*384#", 1, info, "secret", "s3cret"), formType, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("POST: %d", resp.StatusCode)
		}
	})
	t.Run("logs mask the phone and hide the secret", func(t *testing.T) {
		logs := f.logs.String()
		if !strings.Contains(logs, "ussd kannel request refused") {
			t.Fatalf("no refusal logged:\n%s", logs)
		}
		for _, secret := range []string{"s3cret", "s3creT", phone, "712345678"} {
			if strings.Contains(logs, secret) {
				t.Errorf("the logs show %q:\n%s", secret, logs)
			}
		}
	})
	t.Run("a refused request touches no session", func(t *testing.T) {
		p := &kannelPhone{t: t, target: target, from: phone, info: [2]byte{0x02, 0}}
		p.mo(1, "*384#", "secret", "s3cret")
		kannelGet(t, target, kannelQuery(phone, "3", 18, p.info)) // no secret
		kannelGet(t, target, kannelQuery(phone, "3", 18, p.info, "secret", "s3cret", "meta", "?smpp?"))
		if r := p.mo(18, "3", "secret", "s3cret"); !strings.HasPrefix(r.body, f.text("report.category")) {
			t.Errorf("after refused MOs, the session continued to %q", r.body)
		}
	})
}

// TestKannelReportProblem reports a problem through the Kannel dialect: the
// pages are the ones Africa's Talking shows for the same inputs, each
// asks for an answer (op 2) with the session's its_session_info, the last
// one ends the session (op 17), and the case is in the store with what
// was typed.
func TestKannelReportProblem(t *testing.T) {
	f := newFixture(t)
	p := &kannelPhone{t: t, target: kannelServer(t, f, ""), from: "254712345678", info: [2]byte{0x2a, 0x01}}
	at := newFixture(t)
	want := func(text string) string { return at.hop(t, "golden", text).Text }
	texts := hops(reportInputs...)
	got := []kannelReply{p.dial()}
	for _, in := range reportInputs {
		got = append(got, p.answer(in))
	}
	for i, r := range got {
		w := want(texts[i])
		if maskRefs(r.body) != maskRefs(w) {
			t.Errorf("page %d differs from Africa's Talking's:\n%s", i, channelstest.Diff(maskRefs(w), maskRefs(r.body)))
		}
		wantOp := 2
		if i == len(got)-1 {
			wantOp = 17
		}
		if r.op() != wantOp || !strings.HasSuffix(r.meta, "&its_session_info=%2A%01") {
			t.Errorf("page %d: X-Kannel-Meta-Data %q, want op %d and its_session_info %%2A%%01", i, r.meta, wantOp)
		}
		if r.coding != "0" {
			t.Errorf("page %d: X-Kannel-Coding %q, want 0 (GSM-7)", i, r.coding)
		}
	}
	last := got[len(got)-1].body
	if !strings.HasPrefix(last, "Report received.") || !refPattern.MatchString(last) {
		t.Fatalf("last page %q", last)
	}
	cs := f.cases(t)
	if len(cs) != 1 || !strings.Contains(last, cs[0].Ref) || cs[0].Service != "report_problem" {
		t.Fatalf("%d cases, want 1 report whose reference is in %q", len(cs), last)
	}
	if a := cs[0].Answers; a[1].Value != reportInputs[2] || a[2].Value != reportInputs[3] {
		t.Errorf("answers = %+v", a)
	}
}

// TestKannelStarInFreeText: a "*" typed inside an answer is part of it,
// though the dialect joins inputs with "*" for Handle.
func TestKannelStarInFreeText(t *testing.T) {
	f := newFixture(t)
	p := &kannelPhone{t: t, target: kannelServer(t, f, ""), from: phone, info: [2]byte{7, 0}}
	p.dial()
	var r kannelReply
	for _, in := range []string{"3", "1", "Plot 5*B", "Leak*at*gate", "1"} {
		r = p.answer(in)
	}
	if r.op() != 17 {
		t.Fatalf("last reply %+v", r)
	}
	cs := f.cases(t)
	if len(cs) != 1 {
		t.Fatalf("%d cases", len(cs))
	}
	if a := cs[0].Answers; a[1].Value != "Plot 5*B" || a[2].Value != "Leak*at*gate" {
		t.Errorf("answers = %+v, want the * kept", a)
	}
}

// TestKannelRetries sends every MO of a report twice, as an operator that
// timed out does, and three times with Kannel's message ID, as Kannel
// retrying its request does: the same reply each time, and one case.
func TestKannelRetries(t *testing.T) {
	for _, withID := range []bool{false, true} {
		t.Run(fmt.Sprint("id=", withID), func(t *testing.T) {
			f := newFixture(t)
			p := &kannelPhone{t: t, target: kannelServer(t, f, ""), from: phone, info: [2]byte{9, 0}}
			copies := 2
			if withID {
				copies = 3
			}
			inputs := append([]string{"*384#"}, reportInputs...)
			var last kannelReply
			for i, in := range inputs {
				op := byte(opUSSRConfirm)
				if i == 0 {
					op = opPSSRIndication
				}
				var kv []string
				if withID {
					kv = []string{"id", fmt.Sprintf("uuid-%d", i)}
				}
				first := p.mo(op, in, kv...)
				for range copies - 1 {
					if again := p.mo(op, in, kv...); again != first {
						t.Fatalf("retry of MO %d: %+v then %+v", i, first, again)
					}
				}
				last = first
			}
			if last.op() != 17 || !strings.HasPrefix(last.body, "Report received.") {
				t.Fatalf("last reply %+v", last)
			}
			if cs := f.cases(t); len(cs) != 1 || !strings.Contains(last.body, cs[0].Ref) {
				t.Fatalf("%d cases, want 1 whose reference is in %q", len(cs), last.body)
			}
		})
	}
}

// TestKannelSameInputTwice: without a message ID to tell them apart, a
// second identical MO in a row is taken as a retry, a third as the
// citizen's; with a new ID, or a new sequence number in its_session_info,
// each is the citizen's at once.
func TestKannelSameInputTwice(t *testing.T) {
	f := newFixture(t)
	target := kannelServer(t, f, "")
	category, home := f.text("report.category"), f.text("home.title")+"\n"
	t.Run("no id", func(t *testing.T) {
		p := &kannelPhone{t: t, target: target, from: phone, info: [2]byte{0x10, 0}}
		p.dial()
		p.answer("3")
		p.answer("1")
		if r := p.answer("0"); !strings.HasPrefix(r.body, category) {
			t.Fatalf("back: %q", r.body)
		}
		if r := p.answer("0"); !strings.HasPrefix(r.body, category) {
			t.Fatalf("back again at once: %q, want it taken as a retry", r.body)
		}
		if r := p.answer("0"); !strings.HasPrefix(r.body, home) {
			t.Fatalf("back a third time: %q, want the root menu", r.body)
		}
	})
	t.Run("new ids", func(t *testing.T) {
		p := &kannelPhone{t: t, target: target, from: phone, info: [2]byte{0x11, 0}}
		p.mo(1, "*384#", "id", "a")
		p.mo(18, "3", "id", "b")
		p.mo(18, "1", "id", "c")
		if r := p.mo(18, "0", "id", "d"); !strings.HasPrefix(r.body, category) {
			t.Fatalf("back: %q", r.body)
		}
		if r := p.mo(18, "0", "id", "e"); !strings.HasPrefix(r.body, home) {
			t.Fatalf("back again with a new id: %q, want the root menu", r.body)
		}
	})
	t.Run("sequence numbers", func(t *testing.T) {
		p := &kannelPhone{t: t, target: target, from: phone, info: [2]byte{0x12, 0}}
		seq := func() { p.info[1] += 2 }
		p.dial()
		seq()
		p.answer("3")
		seq()
		p.answer("1")
		seq()
		if r := p.answer("0"); !strings.HasPrefix(r.body, category) {
			t.Fatalf("back: %q", r.body)
		}
		seq()
		if r := p.answer("0"); !strings.HasPrefix(r.body, home) {
			t.Fatalf("back again, next sequence number: %q, want the root menu", r.body)
		}
		if !strings.HasSuffix(p.answer("0").meta, "its_session_info=%12%08") {
			t.Errorf("its_session_info not echoed as received")
		}
	})
}

// kannelMOStep is one MO of TestKannelRetryIdentity and what it must get.
type kannelMOStep struct {
	op       byte
	text, id string
	want     string // the reply begins with it
	// resend: a retry of the MO before; its reply and the session in the
	// store must be what they were after that MO.
	resend bool
}

// kannelStored is what the store holds of a Kannel session: its record
// (without the count of replays, which a retry moves) and the Handle
// session it names.
type kannelStored struct {
	rec    kannelRecord
	handle channels.Session
}

func (f *fixture) kannelStored(t *testing.T, info [2]byte) kannelStored {
	t.Helper()
	ctx := context.Background()
	sess, err := f.db.Session(ctx, kannelRecordKey(kannelKey(KannelMO{Phone: phone, SessionInfo: info})), f.clock())
	if err != nil {
		t.Fatalf("kannel record: %v", err)
	}
	rec, err := decodeKannelRecord(sess.Edge)
	if err != nil {
		t.Fatalf("kannel record: %v", err)
	}
	rec.replays = 0
	h, err := f.db.Session(ctx, sessionKey(rec.session), f.clock())
	if err != nil {
		t.Fatalf("session %s: %v", rec.session, err)
	}
	return kannelStored{rec, *h}
}

// TestKannelRetryIdentity plays MOs as Kannel relays them, each with its
// message ID: the same input with a new ID is the citizen's, however
// often it comes, and a message ID sent again gets the answer it got and
// leaves the session in the store as it was.
func TestKannelRetryIdentity(t *testing.T) {
	dial := kannelMOStep{op: opPSSRIndication, text: "*384#", id: "a", want: "Government services\n"}
	tests := []struct {
		name  string
		steps []kannelMOStep
	}{
		{"1 then 1 with new ids is two inputs", []kannelMOStep{
			dial,
			{op: opUSSRConfirm, text: "1", id: "b", want: "Child's full name:"},
			{op: opUSSRConfirm, text: "1", id: "c", want: "At least 2 characters.\nChild's full name:"},
		}},
		{"8 then 4 with new ids is two steps", []kannelMOStep{
			dial,
			{op: opUSSRConfirm, text: "8", id: "b", want: "Choose your language\n"},
			{op: opUSSRConfirm, text: "4", id: "c", want: "الخدمات الحكومية\n"},
		}},
		{"a resent id after the same input gets its answer", []kannelMOStep{
			dial,
			{op: opUSSRConfirm, text: "2", id: "A", want: "Check by:\n"},
			{op: opUSSRConfirm, text: "2", id: "B", want: "No applications for this phone number."},
			{op: opUSSRConfirm, text: "2", id: "B", want: "No applications for this phone number.", resend: true},
			{op: opUSSRConfirm, text: "2", id: "B", want: "No applications for this phone number.", resend: true},
		}},
		{"a resent id in a live session gets its answer", []kannelMOStep{
			dial,
			{op: opUSSRConfirm, text: "3", id: "A", want: "What is the problem with?\n"},
			{op: opUSSRConfirm, text: "1", id: "B", want: "Where? Town or village"},
			{op: opUSSRConfirm, text: "1", id: "B", want: "Where? Town or village", resend: true},
			{op: opUSSRConfirm, text: "0", id: "C", want: "What is the problem with?\n"},
			{op: opUSSRConfirm, text: "0", id: "D", want: "Government services\n"},
			{op: opUSSRConfirm, text: "0", id: "D", want: "Government services\n", resend: true},
		}},
		{"a resent dial gets the root menu once", []kannelMOStep{
			dial,
			{op: opPSSRIndication, text: "*384#", id: "a", want: "Government services\n", resend: true},
			{op: opUSSRConfirm, text: "3", id: "b", want: "What is the problem with?\n"},
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := &kannelPhone{t: t, target: kannelServer(t, f, ""), from: phone, info: [2]byte{byte(0x60 + i), 0}}
			var last kannelReply
			var before kannelStored
			for j, st := range tt.steps {
				r := p.mo(st.op, st.text, "id", st.id)
				if !strings.HasPrefix(r.body, st.want) {
					t.Fatalf("MO %d (%q, id %s): %q, want %q…", j, st.text, st.id, r.body, st.want)
				}
				stored := f.kannelStored(t, p.info)
				if st.resend {
					if r != last {
						t.Errorf("MO %d (%q, id %s sent again): %+v, want %+v as the first time", j, st.text, st.id, r, last)
					}
					if !reflect.DeepEqual(stored, before) {
						t.Errorf("MO %d (%q, id %s sent again) changed the store:\n%+v\nwas\n%+v", j, st.text, st.id, stored, before)
					}
				}
				last, before = r, stored
			}
		})
	}
}

// TestKannelDialAgain: an operator reuses session numbers; each dial is a
// new session, and a second report in a later session is a second case.
func TestKannelDialAgain(t *testing.T) {
	f := newFixture(t)
	p := &kannelPhone{t: t, target: kannelServer(t, f, ""), from: phone, info: [2]byte{0x33, 0}}
	var refs []string
	for range 2 {
		if r := p.dial(); r.op() != 2 || !strings.HasPrefix(r.body, f.text("home.title")+"\n") {
			t.Fatalf("dial: %+v, want the root menu", r)
		}
		var r kannelReply
		for _, in := range reportInputs {
			r = p.answer(in)
		}
		if r.op() != 17 {
			t.Fatalf("last reply %+v", r)
		}
		refs = append(refs, refPattern.FindString(r.body))
	}
	if cs := f.cases(t); len(cs) != 2 || refs[0] == refs[1] {
		t.Errorf("%d cases, references %q; want 2 cases", len(cs), refs)
	}
}

// TestKannelRelease: an abort from the network mid-service gets an empty
// final answer; a later MO of that session, or a new dial, offers to
// resume, and the report goes on.
func TestKannelRelease(t *testing.T) {
	f := newFixture(t)
	p := &kannelPhone{t: t, target: kannelServer(t, f, ""), from: phone, info: [2]byte{0x44, 0}}
	p.dial()
	p.answer("3")
	p.answer("1")
	r := p.mo(0x21, "")
	if r.body != "" || r.op() != 17 {
		t.Fatalf("release: %+v, want an empty final answer", r)
	}
	if !strings.Contains(f.logs.String(), "ussd session released by the network") {
		t.Error("release not logged")
	}
	// The network is done with the session: a late MO of it is a dial,
	// which offers to resume the report.
	if r = p.answer("Kisumu"); r.op() != 2 || !strings.HasPrefix(r.body, f.text("resume.prompt")) {
		t.Errorf("MO after the release: %+v, want the resume offer", r)
	}
	if r = p.dial(); !strings.HasPrefix(r.body, f.text("resume.prompt")) {
		t.Errorf("dial after the release: %q, want the resume offer", r.body)
	}
	if r = p.answer("1"); !strings.HasPrefix(r.body, f.text("report.location")) {
		t.Errorf("continue: %q, want the location again", r.body)
	}
	if r = p.answer("Kisumu"); !strings.HasPrefix(r.body, f.text("report.description")) {
		t.Errorf("location: %q, want the description", r.body)
	}
}

// TestKannelFailure: a store that fails ends the session politely (op
// 17), and a retry of that MO gets the same page.
func TestKannelFailure(t *testing.T) {
	f := newFixture(t)
	p := &kannelPhone{t: t, target: kannelServer(t, f, ""), from: phone, info: [2]byte{0x55, 0}}
	p.dial()
	f.store.fail(true)
	r := p.answer("3")
	f.store.fail(false)
	if r.op() != 17 || r.body != f.text("error.internal") {
		t.Fatalf("failed hop: %+v", r)
	}
	if r = p.dial(); r.op() != 2 {
		t.Errorf("dial after a failure: %+v", r)
	}
}

// TestKannelRecordRoundTrip: the record decodes to what was encoded, and
// damaged records are refused.
func TestKannelRecordRoundTrip(t *testing.T) {
	rec := kannelRecord{released: true, replays: 3, session: "kannel/00ff", sent: "3*1", retry: strings.Repeat("\x01", 16), final: "Report received."}
	got, err := decodeKannelRecord(rec.encode())
	if err != nil || got != rec {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// A record of version 1 (digest and message ID apart) reads with no
	// retry key: the next MO is an input.
	v1 := []byte{1, 1, 3}
	for _, f := range []string{"kannel/00ff", "3*1", strings.Repeat("\x01", 16), "u", "Report received."} {
		v1 = lenprefix.AppendString(v1, f)
	}
	want := rec
	want.retry = ""
	if got, err := decodeKannelRecord(v1); err != nil || got != want {
		t.Errorf("version 1: %+v, %v; want %+v", got, err, want)
	}
	b := rec.encode()
	for _, bad := range [][]byte{nil, {2, 0}, {1, 4}, b[:len(b)-1], append(b, 0)} {
		if _, err := decodeKannelRecord(bad); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
}

// FuzzParseKannel parses an arbitrary query: ParseKannel never panics, an
// accepted MO has an E.164 phone and an op a phone sends, and the TLVs it
// read, written back as Kannel writes them, read the same. Its retry
// identity is that of the MO written back (a retry), and another when the
// message ID changes, or goes, or the text does (a new input).
func FuzzParseKannel(f *testing.F) {
	f.Add(kannelQuery(phone, "*384#", 1, [2]byte{0x12, 0x34}))
	f.Add(kannelQuery("0712345678", "Plot 5*B", 18, [2]byte{0, 0}, "id", "x"))
	f.Add(kannelQuery(phone, "1", 18, [2]byte{0x5c, 0}, "id", "0b5e7c44-1f5b-4c9e-8b7e-4a4d2f0e9a12"))
	f.Add(kannelQuery(phone, "11", 18, [2]byte{0x5c, 0}, "id", "1"))
	f.Add("from=254712345678&meta=%3Fsmpp%3Fussd_service_op%3D18%26its_session_info%3D4660%26")
	f.Add("from=254712345678&meta=%3Fa%3F%3Fsmpp%3Fussd_service_op%3D%2581%26its_session_info%3D%2512%25%26")
	f.Fuzz(func(t *testing.T, query string) {
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/ussd/kannel", RawQuery: query}}
		mo, err := ParseKannel(req, "KE")
		if err != nil {
			if channels.ErrorMessage(err) == "error.internal" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !strings.HasPrefix(mo.Phone, "+") || mo.Op == opUSSRRequest || mo.Op == opPSSRResponse {
			t.Fatalf("accepted %+v", mo)
		}
		// The op in decimal: a raw octet that is an ASCII digit reads as
		// the digit's value.
		meta := fmt.Sprintf("?smpp?ussd_service_op=%d&its_session_info=%s&", mo.Op, pct(mo.SessionInfo[0], mo.SessionInfo[1]))
		again := &http.Request{Method: http.MethodGet, URL: &url.URL{RawQuery: kannelQuery(mo.Phone, mo.Text, mo.Op, mo.SessionInfo, "to", mo.To, "id", mo.ID, "meta", meta)}}
		mo2, err := ParseKannel(again, "KE")
		if err != nil || mo2 != mo {
			t.Fatalf("round trip of %+v: %+v, %v", mo, mo2, err)
		}
		if mo2.RetryKey() != mo.RetryKey() {
			t.Fatalf("a retry of %+v has another RetryKey", mo)
		}
		other := func(edit func(*KannelMO)) {
			m := mo
			edit(&m)
			if m.RetryKey() == mo.RetryKey() {
				t.Fatalf("%+v and %+v have the same RetryKey", mo, m)
			}
		}
		other(func(m *KannelMO) { m.ID += "x" })
		other(func(m *KannelMO) { m.Text += "1" })
		if mo.ID != "" {
			other(func(m *KannelMO) { m.ID = "" })
			// A text and an ID are not confused where they meet.
			other(func(m *KannelMO) { m.Text, m.ID = m.Text+m.ID[:1], m.ID[1:] })
		}
	})
}

func TestKannelFuzzCorpusCommitted(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseKannel", "*"))
	if len(files) == 0 {
		t.Error("no seed corpus in testdata/fuzz/FuzzParseKannel")
	}
	for _, file := range files {
		if b, err := os.ReadFile(file); err != nil || !strings.HasPrefix(string(b), "go test fuzz v1") {
			t.Errorf("%s is not a Go fuzz corpus file", file)
		}
	}
}

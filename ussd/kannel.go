package ussd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
	"github.com/govchannels/channels/lenprefix"
	"github.com/govchannels/channels/locales"
)

// The Kannel dialect: USSD that a mobile operator delivers over SMPP to
// Kannel, and Kannel relays to us as one HTTP GET per mobile-originated
// message (MO), through an sms-service such as
//
//	group = sms-service
//	keyword = default
//	get-url = "http://HOST/ussd/kannel?from=%p&to=%P&text=%a&meta=%D&id=%I&secret=SECRET"
//	accept-x-kannel-headers = true
//	omit-empty = true
//	max-messages = 1
//
// with smpp-tlv groups declaring ussd_service_op (0x0501, integer, 1) and
// its_session_info (0x1383, octetstring, 2). The reply body is the page;
// the header X-Kannel-Meta-Data carries the TLVs of the answer.
// accept-x-kannel-headers lets Kannel honour that header; omit-empty keeps
// Kannel from sending "<Empty reply from service provider>" when we end a
// session quietly; `id=%I` tells a Kannel retry from the same input
// typed again (see kannelHop): without it, the same input twice in a row
// needs one press more. Kannel sends a reply as SMS of 140
// octets: a longer one is cut to one SMS under max-messages = 1, or split
// into concatenated parts that the handset shows as separate pages. A
// Server behind Kannel lays pages out with KannelLayout: 160 GSM-7
// characters or 70 UCS-2 units, one SMS each.
//
// Unlike Africa's Talking, an MO carries only the latest input: the
// dialect keeps, per session, the accumulated text it last gave Handle and
// builds each Request.Text from it, so that Handle's retry and "*"
// handling work unchanged.

// ussd_service_op values (SMPP 3.4, 5.3.2.44).
const (
	opPSSDIndication = 0  // unstructured data from the phone, outside a session
	opPSSRIndication = 1  // the citizen dialled: a session opens
	opUSSRRequest    = 2  // we show a page and wait for an answer
	opUSSNRequest    = 3  // a notification from us
	opPSSDResponse   = 16 // our answer to a PSSD
	opPSSRResponse   = 17 // our final page: the network releases the session
	opUSSRConfirm    = 18 // the citizen's answer within a session
	opUSSNConfirm    = 19 // the phone acknowledged a notification
)

// Bounds of a Kannel request.
const (
	// maxKannelQuery bounds the query string; real ones are a few
	// hundred bytes. A longer one is refused with 414.
	maxKannelQuery = 4 << 10
	// maxKannelText bounds one input: a USSD string is at most 160
	// octets (182 GSM-7 characters), at most 4 UTF-8 bytes each.
	maxKannelText = 768
	// maxKannelMeta bounds the meta-data: two TLVs and a few others.
	maxKannelMeta = 1 << 10
)

// KannelMO is one mobile-originated USSD message relayed by Kannel.
type KannelMO struct {
	Phone string // E.164, normalized
	To    string // the number the message was sent to: the service code
	// Text is the latest input only; on a dial (Op 1), the string
	// dialled, e.g. "*384#".
	Text string
	// Op is ussd_service_op: 1 a dial, 18 an answer; a value of the
	// vendor or reserved ranges ends the session (see Releases).
	Op byte
	// SessionInfo is its_session_info as received: octet 0 the session
	// number, octet 1 a sequence number and end flag that some operators
	// vary per message. It is echoed in each reply.
	SessionInfo [2]byte
	// ID is Kannel's message ID (%I) when the get-url passes it: a retry
	// of the same HTTP request carries the same one, and every message
	// the operator delivers gets a new one.
	ID string
}

// RetryKey identifies the MO for telling a retry from a new input: a
// digest of its op, its_session_info, text and message ID. With an ID, a
// retry carries the same key and an input typed again, which has a new
// ID, another one; without, the same input typed again has the same key
// as a retry (see kannelHop). Like sealText, it keeps nothing readable of
// what was typed.
func (m KannelMO) RetryKey() string {
	h := sha256.New()
	h.Write([]byte{m.Op, m.SessionInfo[0], m.SessionInfo[1]})
	h.Write(lenprefix.AppendString(nil, m.Text))
	h.Write(lenprefix.AppendString(nil, m.ID))
	return string(h.Sum(nil)[:16])
}

// Releases reports whether the MO ends the session without asking for a
// page: ussd_service_op values outside the standard set, where operators
// signal release, abort or timeout (0x17, 0x21 and 0x81 are seen). Such
// an MO is answered quietly.
func (m KannelMO) Releases() bool { return m.Op != opPSSRIndication && m.Op != opUSSRConfirm }

// ParseKannel reads the query of a Kannel get-url request: from (the
// phone, required), to, text, meta (Kannel's %D meta-data, required) and
// id (Kannel's %I, optional); a secret in the query is the handler's
// business, not read here. The phone is normalized to E.164, a national
// number read in region. The meta-data must hold, in its "smpp" group,
// ussd_service_op and its_session_info; each as the raw octets Kannel
// 1.4 passes for them (ussd_service_op=%01, its_session_info=%12%34) or
// as the decimal integer it passes for a TLV it only knows from an
// smpp-tlv group of type integer (ussd_service_op=18,
// its_session_info=4660). A one-byte value that is an ASCII digit is read
// as decimal: raw 0x30-0x39 are vendor values no operator is known to use.
//
// The error is a *channels.Error whose message ID says what is wrong:
// ETOOLARGE for a query over 4 KiB, else EINVALID — a missing or
// oversized field, text that is not UTF-8, a phone that is not a valid
// number, meta-data that does not parse, a TLV missing or of the wrong
// size, or an op that no phone sends (2, 3, 16, 17: ours; 0, 19: not a
// session).
func ParseKannel(r *http.Request, region string) (KannelMO, error) {
	if len(r.URL.RawQuery) > maxKannelQuery {
		return KannelMO{}, channels.Errorf(channels.ETOOLARGE, "error.too_large", "query over %d bytes", maxKannelQuery)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "query not decodable: %v", err)
	}
	mo := KannelMO{To: strings.TrimSpace(q.Get("to")), Text: q.Get("text"), ID: strings.TrimSpace(q.Get("id"))}
	switch {
	case len(mo.To) > maxServiceCode:
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "to longer than %d bytes", maxServiceCode)
	case len(mo.ID) > maxSessionID:
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "id longer than %d bytes", maxSessionID)
	case len(mo.Text) > maxKannelText:
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "text longer than %d bytes", maxKannelText)
	case !utf8.ValidString(mo.Text):
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "text not UTF-8")
	}
	raw := q.Get("from")
	if strings.TrimSpace(raw) == "" {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "from missing")
	}
	phone, ok := flows.NormalizePhone(raw, region)
	if !ok {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.phone", "from not a valid number")
	}
	mo.Phone = phone
	meta := q.Get("meta")
	if meta == "" {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta missing")
	}
	if len(meta) > maxKannelMeta {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta longer than %d bytes", maxKannelMeta)
	}
	smpp, err := kannelMetaGroup(meta, "smpp")
	if err != nil {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta: %v", err)
	}
	opv, ok := smpp["ussd_service_op"]
	if !ok {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta: no ussd_service_op")
	}
	op, ok := tlvInteger(opv, 1)
	if !ok {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta: ussd_service_op %q is not one octet", opv)
	}
	mo.Op = byte(op)
	switch mo.Op {
	case opPSSDIndication, opUSSRRequest, opUSSNRequest, opPSSDResponse, opPSSRResponse, opUSSNConfirm:
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta: ussd_service_op %d is not a session message from a phone", mo.Op)
	}
	info, ok := smpp["its_session_info"]
	if !ok {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta: no its_session_info")
	}
	if len(info) == 2 {
		copy(mo.SessionInfo[:], info)
	} else if v, ok := tlvInteger(info, 2); ok {
		mo.SessionInfo = [2]byte{byte(v >> 8), byte(v)}
	} else {
		return KannelMO{}, channels.Errorf(channels.EINVALID, "error.bad_request", "meta: its_session_info %q is not two octets", info)
	}
	return mo, nil
}

// tlvInteger reads an integer TLV of size octets as Kannel passes it:
// decimal digits, or (for one octet) the raw octet.
func tlvInteger(v string, size int) (int, bool) {
	if v != "" && len(v) <= 5 && strings.Trim(v, "0123456789") == "" {
		n, err := strconv.Atoi(v)
		return n, err == nil && n < 1<<(8*size)
	}
	if size == 1 && len(v) == 1 {
		return int(v[0]), true
	}
	return 0, false
}

// kannelMetaGroup returns the values of group in Kannel meta-data, whose
// format (gw/meta_data.c) is "?group?key=value&key=value&?group?…" with
// group, key and value URL-encoded; a "&" may end a group. Group names
// compare without case, as Kannel compares them; a key given twice keeps
// its last value, as Kannel keeps it. The error says what does not parse;
// a group that is absent is an error too.
func kannelMetaGroup(meta, group string) (map[string]string, error) {
	if !strings.HasPrefix(meta, "?") {
		return nil, errors.New("does not start with '?'")
	}
	var found map[string]string
	rest := meta[1:]
	for {
		name, after, ok := strings.Cut(rest, "?")
		if !ok {
			return nil, errors.New("group name not closed by '?'")
		}
		name, err := url.QueryUnescape(name)
		if err != nil {
			return nil, fmt.Errorf("group name: %w", err)
		}
		// The body runs to the next group, if any.
		body, next, more := strings.Cut(after, "?")
		values := map[string]string{}
		for pair := range strings.SplitSeq(body, "&") {
			if pair == "" {
				continue
			}
			k, v, ok := strings.Cut(pair, "=")
			if !ok || k == "" || strings.Contains(v, "=") {
				return nil, fmt.Errorf("group %q: %q is not key=value", name, pair)
			}
			if k, err = url.QueryUnescape(k); err != nil {
				return nil, fmt.Errorf("group %q: key: %w", name, err)
			}
			if v, err = url.QueryUnescape(v); err != nil {
				return nil, fmt.Errorf("group %q: value of %s: %w", name, k, err)
			}
			values[k] = v
		}
		if found == nil && strings.EqualFold(name, group) {
			found = values
		}
		if !more {
			break
		}
		rest = next
	}
	if found == nil {
		return nil, fmt.Errorf("no %q group", group)
	}
	return found, nil
}

// kannelMeta is the X-Kannel-Meta-Data of a reply: op and the session's
// its_session_info. Integer TLVs go in decimal, which is what Kannel
// packs (atol) for a TLV declared as an integer; octets are
// percent-encoded, every one, as Kannel decodes them.
func kannelMeta(op byte, info [2]byte) string {
	return fmt.Sprintf("?smpp?ussd_service_op=%d&its_session_info=%%%02X%%%02X", op, info[0], info[1])
}

// RegisterKannel mounts the Kannel dialect at path (cmd/channels uses
// "/ussd/kannel"): a GET per MO, answered 200 text/plain (UTF-8) with the
// page and X-Kannel-Meta-Data ussd_service_op=2 (USSR request: show and
// wait) or 17 (PSSR response: final page, the session is released), the
// MO's its_session_info echoed, and X-Kannel-Coding 0 (GSM-7) or 2
// (UCS-2) after the page's alphabet. An MO that releases the session gets
// an empty 200 (with op 17), which Kannel drops under omit-empty.
//
// When secret is not empty, the query must carry it as "secret": it is
// compared in constant time, and a request without it gets 403. A
// malformed request gets 400 (414 when the query is over 4 KiB). Refusals
// carry a localized text, are logged with the phone masked, and touch no
// session.
func (s *Server) RegisterKannel(r gin.IRouter, path string, secret string) {
	var want [sha256.Size]byte
	if secret != "" {
		want = sha256.Sum256([]byte(secret))
	}
	r.GET(path, func(c *gin.Context) { s.handleKannel(c, secret != "", want) })
}

func (s *Server) handleKannel(c *gin.Context, checkSecret bool, want [sha256.Size]byte) {
	if len(c.Request.URL.RawQuery) > maxKannelQuery {
		s.refuseKannel(c, http.StatusRequestURITooLong, "", channels.Errorf(channels.ETOOLARGE, "error.too_large", "query over %d bytes", maxKannelQuery))
		return
	}
	if checkSecret {
		// Comparing digests takes the same time whatever the length of
		// what was sent, as well as whatever its content.
		got := sha256.Sum256([]byte(c.Query("secret")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			s.refuseKannel(c, http.StatusForbidden, c.Query("from"), channels.Errorf(channels.EFORBIDDEN, "error.bad_request", "secret missing or wrong"))
			return
		}
	}
	mo, err := ParseKannel(c.Request, s.cfg.Region)
	if err != nil {
		status := http.StatusBadRequest
		if channels.ErrorCode(err) == channels.ETOOLARGE {
			status = http.StatusRequestURITooLong
		}
		s.refuseKannel(c, status, c.Query("from"), err)
		return
	}
	// On failure the reply is a polite final page, and what failed has
	// been logged.
	reply, quiet, err := s.kannelHop(c.Request.Context(), mo)
	if err != nil {
		_ = c.Error(err) // for the hop metrics: answered politely, yet failed
	}
	op := byte(opUSSRRequest)
	if reply.End || quiet {
		op = opPSSRResponse
	}
	h := c.Writer.Header()
	h.Set("X-Kannel-Meta-Data", kannelMeta(op, mo.SessionInfo))
	if _, ok := gsm7.Septets(reply.Text); ok {
		h.Set("X-Kannel-Coding", "0")
	} else {
		h.Set("X-Kannel-Coding", "2")
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(reply.Text))
}

// refuseKannel answers a request we will not serve: the body says why in
// the default language (the request named no citizen we could trust).
// Kannel sends its own "could not fetch" text on a 4xx; the body is for
// whoever reads the exchange.
func (s *Server) refuseKannel(c *gin.Context, status int, phone string, err error) {
	s.cfg.Log.Warn("ussd kannel request refused", "status", status, "err", err, "phone", channels.MaskPhone(phone), "client", c.ClientIP())
	msg := s.cfg.Bundle.Text(locales.Default, channels.Msg(channels.ErrorMessage(err)))
	c.Data(status, "text/plain; charset=utf-8", []byte(msg))
}

// A Kannel session is the phone and the session number (its_session_info
// octet 0); octet 1 is left out because operators that follow SMPP 3.4
// put a sequence number in it that changes with every message. Its
// record, "ussd-kannel/<phone>/<session number, hex>", holds what the
// dialect needs between MOs (kannelRecord). Each dial opens a new Handle
// session, "kannel/<random nonce>": the session number is one octet an
// operator reuses, and Handle's session ID is the idempotency key of the
// submission made in it, so reusing it would make a second application
// in a later session the first one again. The nonce also keeps the phone
// out of the session IDs that Handle logs.
func kannelKey(mo KannelMO) string {
	return mo.Phone + "/" + hex.EncodeToString(mo.SessionInfo[:1])
}

func kannelRecordKey(key string) string { return "ussd-kannel/" + key }

// kannelRecord is what the dialect keeps of a Kannel session.
//
// It is encoded (Session.Edge) as a version byte (2), a flags byte (1 the
// session was released), the number of times the last MO was answered
// again as a uvarint, then, uvarint-length-prefixed: the Handle session
// ID, the text last given to Handle ("" once released), the RetryKey of
// the last MO, and the final page ("" unless released). Version 1 kept
// the digest of the last MO without its message ID, and the ID apart: it
// is read with no retry key, so that the next MO is an input.
type kannelRecord struct {
	released bool   // we sent the final page: the network ended the session
	replays  uint64 // how many times the last MO was answered again
	session  string // Handle's session ID, "" when there is no record
	sent     string // the Request.Text of the last input; "" once released
	retry    string // the RetryKey of the last MO, repeats included
	final    string // the final page, for a retry after the release
}

const kannelRecordVersion = 2

func (r *kannelRecord) encode() []byte {
	var flags byte
	if r.released {
		flags |= 1
	}
	b := make([]byte, 0, 40+len(r.session)+len(r.sent)+len(r.retry)+len(r.final))
	b = append(b, kannelRecordVersion, flags)
	b = lenprefix.AppendUvarint(b, r.replays)
	for _, s := range []string{r.session, r.sent, r.retry, r.final} {
		b = lenprefix.AppendString(b, s)
	}
	return b
}

func decodeKannelRecord(b []byte) (kannelRecord, error) {
	if len(b) < 2 || (b[0] != 1 && b[0] != kannelRecordVersion) || b[1]&^1 != 0 {
		return kannelRecord{}, errBadEdge
	}
	r := kannelRecord{released: b[1]&1 != 0}
	rd := lenprefix.NewReader(b[2:])
	r.replays = rd.Uvarint()
	r.session, r.sent = rd.String(), rd.String()
	if b[0] == 1 {
		_, _ = rd.String(), rd.String() // the digest of the last MO and its message ID
	} else {
		r.retry = rd.String()
	}
	r.final = rd.String()
	if rd.Bad() || rd.Len() != 0 || r.session == "" {
		return kannelRecord{}, errBadEdge
	}
	return r, nil
}

// kannelHop answers one MO; quiet is true for an MO that released the
// session, which gets no page. On failure it returns, with the error, a
// polite final page in the language the phone was last answered in, as
// Handle does.
//
// It turns the MO into a Request for Handle:
//   - op 1, or an MO of a session we do not know or have released, starts
//     a new Handle session (a dial; the text dialled is not an input);
//   - op 18 in a live session continues it: Text is the text last given
//     to Handle, "*", and the new input, so that Handle reads the input
//     exactly (a "*" typed in it included);
//   - a repeat gets the reply last given and changes nothing. A repeat
//     is an MO with the RetryKey of the last MO of the session: with a
//     Kannel message ID, a retry by Kannel of that message (always a
//     repeat, however often it comes); the same input with a new ID is
//     the citizen's. Without an ID, the operator may have sent its
//     message twice, or the citizen typed the same input again ("98" for
//     the next page), and nothing tells them apart: the first such MO is
//     a repeat, a second one in a row is the citizen's input (a citizen
//     sends an input at most twice). Every MO answered, repeats included,
//     records its RetryKey, so that a retry always gets the answer its
//     message got.
//   - any other op (release, abort, timeout) forgets the session; Handle
//     keeps it, and the phone's resume record, so that dialling again
//     can resume.
func (s *Server) kannelHop(ctx context.Context, mo KannelMO) (reply Reply, quiet bool, err error) {
	key := kannelKey(mo)
	// The MOs of one Kannel session are serialized across the read of
	// its record, Handle and the write, as Handle serializes its hops
	// (inside, on a key of its own).
	var rec kannelRecord
	log := func(msg string, level slog.Level, kv ...any) {
		s.cfg.Log.Log(ctx, level, msg, append([]any{"session", rec.session, "phone", channels.MaskPhone(mo.Phone), "op", mo.Op}, kv...)...)
	}
	// failed ends the session with err's message, in the language the
	// phone was last answered in: the store could not say which.
	failed := func(err error) (Reply, bool, error) {
		log("ussd kannel hop failed", slog.LevelError, "err", err)
		lang := s.cfg.Langs.Get(mo.Phone)
		if !s.cfg.Bundle.Supports(lang) {
			lang = locales.Default
		}
		return Reply{Text: failText(s.cfg.Bundle, lang, err), End: true}, false, err
	}
	unlock, err := s.locks.LockKey(ctx, kannelRecordKey(key))
	if err != nil {
		return failed(fmt.Errorf("lock kannel session: %w", err))
	}
	defer unlock()
	now := s.cfg.Now()
	rec, err = s.kannelRecord(ctx, key, mo.Phone, now)
	if err != nil {
		return failed(err)
	}
	if mo.Releases() {
		if rec.session != "" {
			if err := s.cfg.Sessions.DeleteSession(ctx, kannelRecordKey(key)); err != nil {
				// The record expires with the session anyway.
				log("ussd kannel release not recorded", slog.LevelWarn, "err", err)
			}
		}
		log("ussd session released by the network", slog.LevelInfo)
		return Reply{}, true, nil
	}
	retry := mo.RetryKey()
	repeat := rec.session != "" && rec.retry == retry && (mo.ID != "" || rec.replays == 0)
	var text string
	switch {
	case repeat && rec.released:
		rec.replays++
		s.putKannelRecord(ctx, key, mo.Phone, rec, now, log)
		return Reply{Text: rec.final, End: true}, false, nil
	case repeat:
		rec.replays++
		text = rec.sent // Handle answers the same text again with the same reply
	case mo.Op == opPSSRIndication || rec.session == "" || rec.released:
		rec = kannelRecord{session: "kannel/" + nonce()}
	default:
		text = mo.Text
		if rec.sent != "" {
			text = rec.sent + "*" + mo.Text
		}
		rec.replays = 0
	}
	reply, err = s.Handle(ctx, Request{SessionID: rec.session, Phone: mo.Phone, ServiceCode: mo.To, Text: text})
	rec.retry, rec.sent = retry, text
	if reply.End {
		// As Handle does, keep nothing of what was typed past the end.
		rec.released, rec.sent, rec.final = true, "", reply.Text
	}
	s.putKannelRecord(ctx, key, mo.Phone, rec, now, log)
	return reply, false, err
}

// kannelRecord reads the record of session key; a zero record when there
// is none, it expired, or it cannot be read (the session then starts
// again).
func (s *Server) kannelRecord(ctx context.Context, key, phone string, now time.Time) (kannelRecord, error) {
	sess, err := s.cfg.Sessions.Session(ctx, kannelRecordKey(key), now)
	switch {
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		return kannelRecord{}, nil
	case err != nil:
		return kannelRecord{}, fmt.Errorf("read kannel record of %s: %w", channels.MaskPhone(phone), err)
	case sess.Phone != phone:
		return kannelRecord{}, nil
	}
	rec, err := decodeKannelRecord(sess.Edge)
	if err != nil {
		s.cfg.Log.Warn("unreadable ussd kannel record; starting again", "phone", channels.MaskPhone(phone), "err", err)
		return kannelRecord{}, nil
	}
	return rec, nil
}

// putKannelRecord writes rec for SessionTTL. A failed write is logged and
// not the citizen's concern: Handle has answered, and the next MO still
// reads its input right (Handle takes what follows the last "*" when the
// text does not extend the one it last saw).
func (s *Server) putKannelRecord(ctx context.Context, key, phone string, rec kannelRecord, now time.Time, log func(string, slog.Level, ...any)) {
	err := s.cfg.Sessions.PutSession(ctx, &channels.Session{
		ID: kannelRecordKey(key), Phone: phone, Channel: channels.ChannelUSSD,
		Edge: rec.encode(), UpdatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL),
	})
	if err != nil {
		log("ussd kannel record not saved", slog.LevelError, "err", fmt.Errorf("save kannel record: %w", err))
	}
}

// nonce tells apart the Handle sessions of successive dials.
func nonce() string {
	b := make([]byte, 9)
	rand.Read(b)
	return hex.EncodeToString(b)
}

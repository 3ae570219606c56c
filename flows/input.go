package flows

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/govchannels/channels"
)

// dateLayouts are the ways a citizen may type a date: day first with any
// common separator or none (the keypad-friendly DDMMYYYY), or ISO from apps.
var dateLayouts = []string{"02/01/2006", "2/1/2006", "02-01-2006", "02.01.2006", "02012006", "2006-01-02"}

// checkInput validates raw against an input step and returns the value to
// store (normalized: E.164 phones, ISO dates, plain reference digits) or the
// message explaining why it was refused.
func (e *Engine) checkInput(st *Step, raw string) (string, *channels.Message) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return "", msgPtr("error.required")
	}
	switch st.Type {
	case channels.InputText:
		n := utf8.RuneCountInString(v)
		if n < st.MinLength {
			return "", msgPtr("error.too_short", "Min", st.MinLength)
		}
		if st.MaxLength > 0 && n > st.MaxLength {
			return "", msgPtr("error.too_long", "Max", st.MaxLength)
		}
		if st.pattern != nil && !st.pattern.MatchString(v) {
			return "", msgPtr("error.pattern")
		}
		return v, nil
	case channels.InputNumber:
		f, err := strconv.ParseFloat(strings.ReplaceAll(v, " ", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", msgPtr("error.number")
		}
		if (st.min.set && f < st.min.number) || (st.max.set && f > st.max.number) {
			return "", e.rangeError(st)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case channels.InputDate:
		d, ok := parseDate(v)
		if !ok {
			return "", msgPtr("error.date_format")
		}
		now := e.now()
		if st.min.set && d.Before(st.min.resolveDate(now)) {
			return "", msgPtr("error.date_before", "Min", st.min.resolveDate(now).Format("02/01/2006"))
		}
		if st.max.set && d.After(st.max.resolveDate(now)) {
			return "", msgPtr("error.date_after", "Max", st.max.resolveDate(now).Format("02/01/2006"))
		}
		return d.Format(time.DateOnly), nil
	case channels.InputPhone:
		p := lookupPhone(v, e.region)
		if !p.ok {
			return "", msgPtr("error.phone")
		}
		if !p.sms && !st.Landline {
			return "", msgPtr("error.phone_mobile")
		}
		return p.e164, nil
	case channels.InputNationalID:
		id := strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, v)
		if utf8.RuneCountInString(id) < st.MinLength || (st.MaxLength > 0 && utf8.RuneCountInString(id) > st.MaxLength) {
			return "", msgPtr("error.national_id")
		}
		if st.pattern != nil && !st.pattern.MatchString(id) {
			return "", msgPtr("error.national_id")
		}
		if st.Check == "luhn" && !luhnValid(id) {
			return "", msgPtr("error.national_id")
		}
		return id, nil
	case channels.InputReference:
		ref, ok := channels.ParseReference(v)
		if !ok {
			return "", msgPtr("error.reference")
		}
		return ref, nil
	}
	return "", msgPtr("error.internal")
}

func (e *Engine) rangeError(st *Step) *channels.Message {
	lo, hi := st.Min, st.Max
	if lo == "" {
		lo = "-"
	}
	if hi == "" {
		hi = "-"
	}
	return msgPtr("error.number_range", "Min", lo, "Max", hi)
}

func parseDate(v string) (time.Time, bool) {
	for _, layout := range dateLayouts {
		if len(v) > len(layout)+2 {
			continue
		}
		if d, err := time.Parse(layout, v); err == nil {
			return d, true
		}
	}
	return time.Time{}, false
}

// NormalizePhone returns phone in E.164 form, reading a national number
// ("0712 345 678") as one of region (ISO 3166 code such as "KE"), and
// reports whether it is a valid number. Gateways send the same caller's
// number on every hop, so results are remembered (a bounded memo).
func NormalizePhone(phone, region string) (string, bool) {
	r := lookupPhone(phone, region)
	return r.e164, r.ok
}

// lookupPhone reads phone as NormalizePhone does, through the memo, which
// keeps whether the number can receive SMS with the number itself.
func lookupPhone(phone, region string) phoneResult {
	key := region + "|" + phone
	if v, ok := phoneMemo.Load(key); ok {
		return v.(phoneResult)
	}
	r := parsePhone(phone, region)
	if phoneMemoSize.Add(1) > phoneMemoMax {
		phoneMemo.Clear()
		phoneMemoSize.Store(0)
	}
	phoneMemo.Store(key, r)
	return r
}

type phoneResult struct {
	e164 string
	ok   bool // a valid number
	sms  bool // it can receive SMS: mobile, or the plan cannot tell
}

// phoneMemoMax bounds the memo: when full it starts over, which keeps it
// small whatever callers send.
const phoneMemoMax = 100_000

var (
	phoneMemo     sync.Map
	phoneMemoSize atomic.Int64
)

func parsePhone(phone, region string) phoneResult {
	phone = strings.TrimSpace(phone)
	if phone == "" || len(phone) > 32 {
		return phoneResult{}
	}
	// Gateways send international numbers without the plus ("254712...").
	if phone[0] != '+' && phone[0] != '0' && len(phone) > 10 {
		if n, err := phonenumbers.Parse("+"+phone, region); err == nil && phonenumbers.IsValidNumber(n) {
			return phoneOf(n)
		}
	}
	n, err := phonenumbers.Parse(phone, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return phoneResult{}
	}
	return phoneOf(n)
}

// phoneOf is the result for a valid number.
func phoneOf(n *phonenumbers.PhoneNumber) phoneResult {
	t := phonenumbers.GetNumberType(n)
	return phoneResult{
		e164: phonenumbers.Format(n, phonenumbers.E164),
		ok:   true,
		sms:  t == phonenumbers.MOBILE || t == phonenumbers.FIXED_LINE_OR_MOBILE,
	}
}

// luhnValid reports whether the digits of s end in a valid Luhn check digit.
func luhnValid(s string) bool {
	if len(s) < 2 {
		return false
	}
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func msgPtr(id string, kv ...any) *channels.Message {
	m := channels.Msg(id, kv...)
	return &m
}

// Refusals lists every message an input step can show above its prompt
// when it refuses an answer, with the arguments it would carry today, so a
// lint can check that the prompt still fits a page with any of them.
// Steps that are not inputs have none.
func (e *Engine) Refusals(service, step string) []channels.Message {
	svc := e.catalog.Service(service)
	if svc == nil || svc.steps[step] == nil {
		return nil
	}
	st := svc.steps[step]
	switch st.Kind {
	case StepMenu, StepConfirm:
		return []channels.Message{channels.Msg("error.choice")}
	case StepInput:
	default:
		return nil
	}
	out := []channels.Message{channels.Msg("error.required")}
	switch st.Type {
	case channels.InputText:
		out = append(out, channels.Msg("error.too_short", "Min", st.MinLength), channels.Msg("error.too_long", "Max", st.MaxLength))
		if st.pattern != nil {
			out = append(out, channels.Msg("error.pattern"))
		}
	case channels.InputNumber:
		out = append(out, channels.Msg("error.number"), *e.rangeError(st))
	case channels.InputDate:
		now := e.now()
		out = append(out, channels.Msg("error.date_format"))
		if st.min.set {
			out = append(out, channels.Msg("error.date_before", "Min", st.min.resolveDate(now).Format("02/01/2006")))
		}
		if st.max.set {
			out = append(out, channels.Msg("error.date_after", "Max", st.max.resolveDate(now).Format("02/01/2006")))
		}
	case channels.InputPhone:
		out = append(out, channels.Msg("error.phone"))
		if !st.Landline {
			out = append(out, channels.Msg("error.phone_mobile"))
		}
	case channels.InputNationalID:
		out = append(out, channels.Msg("error.national_id"))
	case channels.InputReference:
		out = append(out, channels.Msg("error.reference"))
	}
	return out
}

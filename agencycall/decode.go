package agencycall

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/gsm7"
)

// MaxAnswer is the most bytes an answer may have: what the slowest
// channel can show is a few hundred characters, and a bigger answer is an
// agency's mistake (a whole record, an HTML error page) to refuse, not
// to read.
const MaxAnswer = 64 << 10

// MaxID is the most characters of a list item's ID.
const MaxID = 64

// defaultMaxLength bounds a text return declared without max_length or
// values, which the loader refuses: a page of SMS.
const defaultMaxLength = 160

// integer is a JSON number without fraction or exponent.
var integer = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// itemID is the form of a list item's ID: printable ASCII, no spaces.
var itemID = regexp.MustCompile(`^[!-~]{1,64}$`)

// Decode reads an agency's answer body strictly against the fields the
// call step declared: {"outcome": "found", "result": {...}} or
// {"outcome": "not_found"}, nothing else. A found answer's texts,
// numbers, dates and datetimes land in Fields and its lists in Lists,
// each value checked against its Return; a null value is an absent
// field. The error says what is wrong without repeating the values, which
// may be a citizen's data; the caller logs it as the failed outcome's
// Reason.
func Decode(body []byte, returns map[string]*flows.Return) (flows.AgencyAnswer, error) {
	if len(body) > MaxAnswer {
		return flows.AgencyAnswer{}, fmt.Errorf("answer of %d bytes, over the %d allowed", len(body), MaxAnswer)
	}
	if !utf8.Valid(body) {
		return flows.AgencyAnswer{}, errors.New("answer is not UTF-8")
	}
	top, err := objectFields(body)
	if err != nil {
		return flows.AgencyAnswer{}, fmt.Errorf("answer: %w", err)
	}
	var outcome string
	var result json.RawMessage
	for _, f := range top {
		switch f.name {
		case "outcome":
			if err := json.Unmarshal(f.raw, &outcome); err != nil {
				return flows.AgencyAnswer{}, errors.New(`answer: "outcome" is not a string`)
			}
		case "result":
			result = f.raw
		default:
			return flows.AgencyAnswer{}, fmt.Errorf("answer: unknown field %s", quote(f.name))
		}
	}
	switch flows.CallOutcome(outcome) {
	case flows.OutcomeNotFound:
		if result != nil && string(result) != "null" {
			return flows.AgencyAnswer{}, errors.New(`answer: a not_found answer has a "result"`)
		}
		return flows.AgencyAnswer{Outcome: flows.OutcomeNotFound}, nil
	case flows.OutcomeFound:
	case "":
		return flows.AgencyAnswer{}, errors.New(`answer: no "outcome"`)
	default:
		return flows.AgencyAnswer{}, fmt.Errorf(`answer: "outcome" is %s, not found or not_found`, quote(outcome))
	}

	ans := flows.AgencyAnswer{Outcome: flows.OutcomeFound}
	var fields []field
	if result != nil && string(result) != "null" {
		if fields, err = objectFields(result); err != nil {
			return flows.AgencyAnswer{}, fmt.Errorf("answer: result: %w", err)
		}
	}
	for _, f := range fields {
		ret := returns[f.name]
		if ret == nil {
			return flows.AgencyAnswer{}, fmt.Errorf("answer: result.%s is not a declared return", quote(f.name))
		}
		if string(f.raw) == "null" {
			continue
		}
		if ret.Type == flows.ReturnList {
			items, err := decodeList(f.raw, ret)
			if err != nil {
				return flows.AgencyAnswer{}, fmt.Errorf("answer: result.%s: %w", f.name, err)
			}
			if ans.Lists == nil {
				ans.Lists = map[string][]flows.ListItem{}
			}
			ans.Lists[f.name] = items
			continue
		}
		v, err := decodeValue(f.raw, ret.Type, ret)
		if err != nil {
			return flows.AgencyAnswer{}, fmt.Errorf("answer: result.%s: %w", f.name, err)
		}
		if ans.Fields == nil {
			ans.Fields = map[string]string{}
		}
		ans.Fields[f.name] = v
	}
	for _, name := range sortedKeys(returns) {
		if ret := returns[name]; ret != nil && ret.Required {
			_, inFields := ans.Fields[name]
			_, inLists := ans.Lists[name]
			if !inFields && !inLists {
				return flows.AgencyAnswer{}, fmt.Errorf("answer: the required result.%s is missing", name)
			}
		}
	}
	return ans, nil
}

// decodeList reads a list return: an array of at most ret.MaxItems
// objects {"id": ..., "value": ...}, the IDs distinct.
func decodeList(raw json.RawMessage, ret *flows.Return) ([]flows.ListItem, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, errors.New("not a list")
	}
	if len(elems) > ret.MaxItems {
		return nil, fmt.Errorf("%d items, at most %d", len(elems), ret.MaxItems)
	}
	items := make([]flows.ListItem, 0, len(elems))
	for i, e := range elems {
		fs, err := objectFields(e)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		var it flows.ListItem
		var hasID, hasValue bool
		for _, f := range fs {
			switch f.name {
			case "id":
				if err := json.Unmarshal(f.raw, &it.ID); err != nil || !itemID.MatchString(it.ID) {
					return nil, fmt.Errorf("item %d: id is not 1 to %d printable ASCII characters", i, MaxID)
				}
				hasID = true
			case "value":
				if it.Value, err = decodeValue(f.raw, ret.Item, ret); err != nil {
					return nil, fmt.Errorf("item %d: value: %w", i, err)
				}
				hasValue = true
			default:
				return nil, fmt.Errorf("item %d: unknown field %s", i, quote(f.name))
			}
		}
		if !hasID || !hasValue {
			return nil, fmt.Errorf(`item %d: needs "id" and "value"`, i)
		}
		if slices.ContainsFunc(items, func(o flows.ListItem) bool { return o.ID == it.ID }) {
			return nil, fmt.Errorf("item %d: its id is another item's", i)
		}
		items = append(items, it)
	}
	return items, nil
}

// decodeValue reads one value of type typ with ret's bounds and returns
// it as the engine keeps it: text as is, a number in decimal, a date as
// YYYY-MM-DD, a datetime as RFC 3339.
func decodeValue(raw json.RawMessage, typ flows.ReturnType, ret *flows.Return) (string, error) {
	switch typ {
	case flows.ReturnNumber:
		if !integer.Match(raw) {
			return "", errors.New("not an integer")
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return "", errors.New("an integer out of range")
		}
		if (ret.Min != nil && n < *ret.Min) || (ret.Max != nil && n > *ret.Max) {
			return "", errors.New("outside the declared min and max")
		}
		return strconv.FormatInt(n, 10), nil
	case flows.ReturnText, flows.ReturnDate, flows.ReturnDateTime:
	default:
		return "", fmt.Errorf("declared with the unknown type %s", quote(string(typ)))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errors.New("not a string")
	}
	switch typ {
	case flows.ReturnDate:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil || t.Format(time.DateOnly) != s {
			return "", errors.New("not a date YYYY-MM-DD")
		}
		return s, nil
	case flows.ReturnDateTime:
		if _, err := time.Parse(time.RFC3339, s); err != nil || len(s) > len("2006-01-02T15:04:05.999999999-07:00") {
			return "", errors.New("not an RFC 3339 datetime with its offset")
		}
		return s, nil
	}
	return s, checkText(s, ret)
}

// checkText checks a text value against its Return: one of Values when
// they are given, at most MaxLength characters, no control characters,
// GSM-7 unless the return is Unicode.
func checkText(s string, ret *flows.Return) error {
	if len(ret.Values) > 0 {
		if !slices.Contains(ret.Values, s) {
			return fmt.Errorf("not one of the %d declared values", len(ret.Values))
		}
		return nil
	}
	limit := ret.MaxLength
	if limit <= 0 {
		limit = defaultMaxLength
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return fmt.Errorf("%d characters, at most %d", n, limit)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("a control character")
		}
	}
	if !ret.Unicode {
		if _, ok := gsm7.Septets(s); !ok {
			return errors.New("text outside GSM-7 for a field not declared unicode")
		}
	}
	return nil
}

// quote quotes an agency's name or value for an error, cut to 40 bytes so
// that a hostile answer cannot flood the log.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// sortedKeys returns m's keys in order, so that errors are the same on
// every run.
func sortedKeys(m map[string]*flows.Return) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package demoagency

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

//go:embed seed.json
var seedJSON []byte

// Seed is the made-up data set the demonstration answers from: tax PINs,
// benefit records by national ID, national IDs by phone, registry offices
// and their calendars, and the magic values that make the other outcomes
// happen.
type Seed struct {
	// TimeZone is where the offices are: slots are at their local times.
	TimeZone    string                `json:"time_zone"`
	PINs        map[string]PINRecord  `json:"pins"`
	Benefits    map[string]Benefit    `json:"benefits"`
	NationalIDs map[string]NationalID `json:"national_ids"` // by E.164 phone
	Offices     map[string]Office     `json:"offices"`
	// Magic maps a parameter value (a PIN, a national ID) or a caller's
	// phone to a Behaviour other than answering at once.
	Magic map[string]Behaviour `json:"magic"`

	location *time.Location
}

// PINRecord is a tax PIN's record at the revenue authority.
type PINRecord struct {
	Status      string `json:"status"` // valid, invalid, suspended
	Name        string `json:"name"`
	Certificate string `json:"certificate"` // the compliance certificate: ready, pending, none
}

// Benefit is a national ID's record at the social-protection agency.
type Benefit struct {
	Status    string `json:"status"` // eligible, not_eligible, under_review
	Programme string `json:"programme"`
	NextStep  string `json:"next_step"` // a code the service's texts explain: collect, appeal, wait
}

// NationalID is the record of the national registry for one phone.
type NationalID struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
}

// Office is a registry office and its calendar: on each of the next Days
// working days (Monday to Friday), a slot at each of Times (HH:MM, local),
// less the Taken ones, booked by other people every day.
type Office struct {
	Name  string   `json:"name"`
	Days  int      `json:"days"`
	Times []string `json:"times"`
	Taken []string `json:"taken"`
}

// Behaviour is what a magic value makes the demonstration do instead of
// answering at once.
type Behaviour string

// The behaviours of magic values.
const (
	// Slow answers (found, from the seeded record) after Config.Slow.
	Slow Behaviour = "slow"
	// Fail answers HTTP 500.
	Fail Behaviour = "fail"
	// Oversized answers 100 KiB of otherwise valid JSON: over the
	// contract's 64 KiB.
	Oversized Behaviour = "oversized"
	// Malformed answers a truncated JSON object.
	Malformed Behaviour = "malformed"
	// Hang never answers: the request is held until the caller gives up.
	Hang Behaviour = "hang"
)

// DefaultSeed returns the shipped data set, the one documented in the
// package doc and the README.
func DefaultSeed() (*Seed, error) {
	return ParseSeed(seedJSON)
}

// ParseSeed reads a data set in the JSON form of seed.json and checks it.
func ParseSeed(data []byte) (*Seed, error) {
	var s Seed
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("demoagency: seed: %w", err)
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("demoagency: seed time_zone: %w", err)
	}
	s.location = loc
	for id, o := range s.Offices {
		if o.Days < 1 {
			return nil, fmt.Errorf("demoagency: seed office %q: days must be at least 1", id)
		}
		for _, hm := range append(slices.Clone(o.Times), o.Taken...) {
			if _, err := time.Parse("15:04", hm); err != nil {
				return nil, fmt.Errorf("demoagency: seed office %q: time %q: %w", id, hm, err)
			}
		}
		if strings.Contains(id, "-") {
			return nil, fmt.Errorf("demoagency: seed office %q: no '-' in an office ID (slot IDs are office-YYYYMMDDHHMM)", id)
		}
	}
	for v, b := range s.Magic {
		switch b {
		case Slow, Fail, Oversized, Malformed, Hang:
		default:
			return nil, fmt.Errorf("demoagency: seed magic %q: unknown behaviour %q", v, b)
		}
	}
	return &s, nil
}

// Describe is the seeded values, one labelled line each, as the command
// prints them on start so that whoever tries the demonstration knows what
// to type.
func (s *Seed) Describe() []string {
	var out []string
	for _, pin := range sortedKeys(s.PINs) {
		if s.Magic[pin] != "" {
			continue
		}
		r := s.PINs[pin]
		out = append(out, fmt.Sprintf("tax PIN %s: %s, %s, certificate %s", pin, r.Status, r.Name, r.Certificate))
	}
	for _, id := range sortedKeys(s.Benefits) {
		if s.Magic[id] != "" {
			continue
		}
		b := s.Benefits[id]
		out = append(out, fmt.Sprintf("national ID %s (benefit): %s, %s, next step %s", id, b.Status, b.Programme, b.NextStep))
	}
	for _, phone := range sortedKeys(s.NationalIDs) {
		if s.Magic[phone] != "" {
			continue
		}
		r := s.NationalIDs[phone]
		out = append(out, fmt.Sprintf("phone %s: national ID %s, %s", phone, r.IDNumber, r.Name))
	}
	for _, id := range sortedKeys(s.Offices) {
		o := s.Offices[id]
		taken := "none taken"
		if len(o.Taken) > 0 {
			taken = strings.Join(o.Taken, " ") + " taken by others"
		}
		out = append(out, fmt.Sprintf("office %s (%s): %s on the next %d working days (%s), %s", id, o.Name,
			strings.Join(o.Times, " "), o.Days, s.TimeZone, taken))
	}
	byBehaviour := map[Behaviour][]string{}
	for _, v := range sortedKeys(s.Magic) {
		byBehaviour[s.Magic[v]] = append(byBehaviour[s.Magic[v]], v)
	}
	for _, b := range []Behaviour{Slow, Fail, Oversized, Malformed, Hang} {
		if vs := byBehaviour[b]; len(vs) > 0 {
			out = append(out, fmt.Sprintf("magic %s: %s", b, strings.Join(vs, " ")))
		}
	}
	return out
}

// slot is one appointment of an office's calendar.
type slot struct {
	ID     string // office-YYYYMMDDHHMM
	Office string
	Start  time.Time
}

// calendar returns the office's slots after now, in time order: every
// time of the office on each of its next working days, starting
// tomorrow, less the times taken by other people.
func (s *Seed) calendar(office string, now time.Time) []slot {
	o, ok := s.Offices[office]
	if !ok {
		return nil
	}
	local := now.In(s.location)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, s.location)
	var out []slot
	for n := 0; n < o.Days; {
		day = day.AddDate(0, 0, 1)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		n++
		for _, hm := range o.Times {
			if slices.Contains(o.Taken, hm) {
				continue
			}
			t, _ := time.Parse("15:04", hm)
			start := day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
			out = append(out, slot{ID: office + "-" + start.Format("200601021504"), Office: office, Start: start})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

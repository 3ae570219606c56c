package demoagency

import (
	"fmt"
	"strings"
	"time"
)

// operations are the shipped services' operations, by name.
var operations = map[string]operation{
	"pin_status":          {agency: "revenue", params: []string{"pin"}, do: (*Server).pinStatus},
	"benefit_eligibility": {agency: "social_protection", params: []string{"national_id"}, do: (*Server).benefitEligibility},
	"national_id":         {agency: "national_registry", do: (*Server).nationalID},
	"free_slots":          {agency: "civil_registry", params: []string{"office"}, do: (*Server).freeSlots},
	"hold_slot":           {agency: "civil_registry", params: []string{"office", "slot"}, changes: true, do: (*Server).holdSlot},
	"book_slot":           {agency: "civil_registry", params: []string{"hold", "reference"}, changes: true, do: (*Server).bookSlot},
	"booking":             {agency: "civil_registry", params: []string{"reference"}, do: (*Server).booking},
	"cancel_booking":      {agency: "civil_registry", params: []string{"reference"}, changes: true, do: (*Server).cancelBooking},
}

// Agency returns the agency whose secret signs calls of operation, "" for
// an operation the demonstration does not serve.
func Agency(operation string) string { return operations[operation].agency }

func (s *Server) pinStatus(req *Request, _ time.Time) Answer {
	r, ok := s.seed.PINs[strings.ToUpper(req.Params["pin"])]
	if !ok {
		return notFound
	}
	return found(map[string]any{"status": r.Status, "name": r.Name, "certificate": r.Certificate})
}

func (s *Server) benefitEligibility(req *Request, _ time.Time) Answer {
	b, ok := s.seed.Benefits[req.Params["national_id"]]
	if !ok {
		return notFound
	}
	return found(map[string]any{"status": b.Status, "programme": b.Programme, "next_step": b.NextStep})
}

// nationalID answers only for the phone the ID is registered to: the
// caller's, as its channel proved it.
func (s *Server) nationalID(req *Request, _ time.Time) Answer {
	r, ok := s.seed.NationalIDs[req.Citizen.Phone]
	if !ok || req.Citizen.Phone == "" {
		return notFound
	}
	return found(map[string]any{"id_number": r.IDNumber, "name": r.Name})
}

// freeSlots answers the office's next MaxSlots slots that nobody holds or
// has booked; not_found for an unknown office or a full calendar.
func (s *Server) freeSlots(req *Request, now time.Time) Answer {
	var items []Item
	for _, sl := range s.seed.calendar(req.Params["office"], now) {
		if len(items) == MaxSlots {
			break
		}
		if s.taken(sl.ID, now) {
			continue
		}
		items = append(items, Item{ID: sl.ID, Value: datetime(sl.Start)})
	}
	if len(items) == 0 {
		return notFound
	}
	return found(map[string]any{"slots": items})
}

// holdSlot holds a free slot of the office for HoldFor; a slot that is
// not in the office's calendar, or that another holds or has booked, is
// not_found.
func (s *Server) holdSlot(req *Request, now time.Time) Answer {
	sl, ok := s.findSlot(req.Params["office"], req.Params["slot"], now)
	if !ok || s.taken(sl.ID, now) {
		return notFound
	}
	h := &hold{ID: s.newID("H"), Slot: sl, Until: now.In(s.seed.location).Add(HoldFor)}
	s.holds[h.ID] = h
	return found(map[string]any{"hold": h.ID, "until": datetime(h.Until)})
}

// bookSlot books the held slot for the case reference, or moves the
// reference's booking there; an unknown, used or expired hold is
// not_found.
func (s *Server) bookSlot(req *Request, now time.Time) Answer {
	h, ok := s.holds[req.Params["hold"]]
	if !ok || h.Used || !now.Before(h.Until) {
		return notFound
	}
	h.Used = true
	ref := req.Params["reference"]
	b, ok := s.bookings[ref]
	if !ok || b.Cancelled {
		b = &booking{ID: s.newID("B"), Reference: ref}
		s.bookings[ref] = b
	}
	b.Slot = h.Slot
	return found(map[string]any{"booking": b.ID, "start": datetime(b.Slot.Start), "office": b.Slot.Office})
}

func (s *Server) booking(req *Request, _ time.Time) Answer {
	b, ok := s.bookings[req.Params["reference"]]
	if !ok {
		return notFound
	}
	status := "booked"
	if b.Cancelled {
		status = "cancelled"
	}
	return found(map[string]any{"booking": b.ID, "start": datetime(b.Slot.Start), "office": b.Slot.Office, "status": status})
}

// cancelBooking cancels the reference's booking, freeing its slot; a
// cancelled booking stays cancelled.
func (s *Server) cancelBooking(req *Request, _ time.Time) Answer {
	b, ok := s.bookings[req.Params["reference"]]
	if !ok {
		return notFound
	}
	b.Cancelled = true
	return found(map[string]any{"booking": b.ID, "status": "cancelled"})
}

// findSlot returns the slot id of office's calendar.
func (s *Server) findSlot(office, id string, now time.Time) (slot, bool) {
	for _, sl := range s.seed.calendar(office, now) {
		if sl.ID == id {
			return sl, true
		}
	}
	return slot{}, false
}

// taken reports whether someone holds (until the hold expires or is
// used) or has booked the slot id.
func (s *Server) taken(id string, now time.Time) bool {
	for _, h := range s.holds {
		if h.Slot.ID == id && !h.Used && now.Before(h.Until) {
			return true
		}
	}
	for _, b := range s.bookings {
		if b.Slot.ID == id && !b.Cancelled {
			return true
		}
	}
	return false
}

// newID returns the next ID with prefix: H-0001, B-0002.
func (s *Server) newID(prefix string) string {
	s.counter++
	return fmt.Sprintf("%s-%04d", prefix, s.counter)
}

// datetime is the contract's datetime: RFC 3339 with the offset.
func datetime(t time.Time) string { return t.Format(time.RFC3339) }

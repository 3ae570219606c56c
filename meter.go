package channels

// Meter counts, for the operator's metrics, the screens a channel shows
// and the answers it takes, by service and step (the catalog's IDs, never
// what a citizen typed). A screen shown and never answered is where a
// session was left: shown minus answered per step is the drop-off. It
// must be cheap and safe for concurrent use; edges given none use
// NopMeter.
type Meter interface {
	// Shown counts a step's screen shown on ch (service "" is the root or
	// language menu).
	Shown(ch Channel, service, step string)
	// Answered counts an input taken on a step's screen: an answer, even
	// a refused one, or back or home.
	Answered(ch Channel, service, step string)
}

// NopMeter counts nothing.
type NopMeter struct{}

// Shown does nothing.
func (NopMeter) Shown(Channel, string, string) {}

// Answered does nothing.
func (NopMeter) Answered(Channel, string, string) {}

package channels

// ScreenKind says what a screen asks of the citizen.
type ScreenKind string

// The kinds of screen a flow step can show.
const (
	KindMenu    ScreenKind = "menu"    // choose one of Options
	KindInput   ScreenKind = "input"   // type a value described by Input
	KindConfirm ScreenKind = "confirm" // check a summary (Lines) and confirm or go back
	KindInfo    ScreenKind = "info"    // read, then any key goes on
	KindEnd     ScreenKind = "end"     // the session is over
)

// Message is a localizable text: a message ID from the locales and the
// arguments of its template. An argument may itself be a Message, which is
// localized first (a status name inside a case line, say).
type Message struct {
	ID   string         `json:"id"`
	Args map[string]any `json:"args,omitempty"`
	// Lang, when set, is the language this message is read in whatever the
	// reader's: a language menu names each language in itself.
	Lang string `json:"lang,omitempty"`
}

// Msg is shorthand for a Message with arguments given as key, value pairs.
func Msg(id string, kv ...any) Message {
	m := Message{ID: id}
	if len(kv) > 1 {
		m.Args = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			m.Args[k] = kv[i+1]
		}
	}
	return m
}

// Option is one choice on a menu or confirm screen. Key is what the citizen
// types (on USSD and SMS) or what the app posts back.
type Option struct {
	Key  string  `json:"key"`
	Text Message `json:"text"`
}

// InputType names the kind of value an input screen takes: the type an
// input step of a service definition declares (type: phone), one
// vocabulary for the definitions and every channel.
type InputType string

// The input types every channel can collect.
const (
	InputText       InputType = "text"
	InputNumber     InputType = "number"
	InputDate       InputType = "date"
	InputPhone      InputType = "phone"
	InputNationalID InputType = "national_id"
	InputReference  InputType = "reference"
)

// Input describes the value an input screen expects, so that every channel,
// a native app included, can render and pre-check it. The engine checks it
// again whatever the channel did.
type Input struct {
	Field     string    `json:"field"`
	Type      InputType `json:"type"`
	MinLength int       `json:"min_length,omitempty"`
	MaxLength int       `json:"max_length,omitempty"`
	Min       string    `json:"min,omitempty"` // number, or ISO date for dates
	Max       string    `json:"max,omitempty"`
	Pattern   string    `json:"pattern,omitempty"`
	Secret    bool      `json:"secret,omitempty"`
}

// Screen is what one step of a flow shows, independent of any channel. Every
// text is a Message: the channel localizes and lays it out.
type Screen struct {
	Kind      ScreenKind `json:"kind"`
	Service   string     `json:"service,omitempty"`
	Step      string     `json:"step,omitempty"`
	Text      Message    `json:"text"`
	Lines     []Message  `json:"lines,omitempty"` // summary or list lines under Text
	Options   []Option   `json:"options,omitempty"`
	Input     *Input     `json:"input,omitempty"`
	Error     *Message   `json:"error,omitempty"` // why the previous input was refused
	Reference string     `json:"reference,omitempty"`
	CanGoBack bool       `json:"can_go_back,omitempty"`
	// Payment is set on the screens of a fee: the method menu (the fee
	// alone) and the screen a payment request or a bill look-up leads to
	// (the bill to poll, its fee and the outcome), so that an app can
	// show the amount and follow the payment.
	Payment *ScreenPayment `json:"payment,omitempty"`
}

// ScreenPayment is the payment a screen is about.
type ScreenPayment struct {
	Bill    string `json:"bill,omitempty"`
	Fee     Money  `json:"fee"`
	Outcome string `json:"outcome,omitempty"` // started, pending, paid, failed, unavailable, not_found
}

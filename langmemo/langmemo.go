// Package langmemo remembers, in memory, the language each phone was last
// answered in, for a bounded number of phones: a channel that cannot read
// the citizen's preference or session (the store is down, say) still
// answers them in their language.
package langmemo

import "sync"

// Memo is the language of the phones answered lately. It keeps at most
// Max phones in two generations: when the newer one holds half of them it
// becomes the older one, and the phones in the older one not answered
// since are forgotten. A nil *Memo remembers nothing. It is safe for
// concurrent use.
type Memo struct {
	max int

	mu       sync.Mutex
	cur, old map[string]string
}

// DefaultMax is the number of phones a Memo made with New(0) keeps: about
// 10 MB.
const DefaultMax = 100_000

// New returns a Memo of at most max phones (DefaultMax when max <= 0).
func New(max int) *Memo {
	if max <= 0 {
		max = DefaultMax
	}
	return &Memo{max: max, cur: map[string]string{}}
}

// Put records that phone was answered in lang; an empty lang or phone is
// ignored.
func (m *Memo) Put(phone, lang string) {
	if m == nil || phone == "" || lang == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur[phone] == lang {
		return
	}
	if len(m.cur) >= max(1, m.max/2) {
		m.old, m.cur = m.cur, make(map[string]string, len(m.cur))
	}
	m.cur[phone] = lang
}

// Get returns the language phone was last answered in, "" when it is not
// remembered.
func (m *Memo) Get(phone string) string {
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.cur[phone]; ok {
		return l
	}
	return m.old[phone]
}

package langmemo

import (
	"strconv"
	"testing"
)

func TestMemo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		puts  [][2]string // phone, lang, in order
		phone string
		want  string
	}{
		{"never answered", nil, "+254700000001", ""},
		{"answered once", [][2]string{{"+254700000001", "fr"}}, "+254700000001", "fr"},
		{"the last language wins", [][2]string{{"+254700000001", "fr"}, {"+254700000001", "sw"}}, "+254700000001", "sw"},
		{"another phone's language is not taken", [][2]string{{"+254700000002", "fr"}}, "+254700000001", ""},
		{"an empty language is ignored", [][2]string{{"+254700000001", "ar"}, {"+254700000001", ""}}, "+254700000001", "ar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(10)
			for _, p := range tc.puts {
				m.Put(p[0], p[1])
			}
			if got := m.Get(tc.phone); got != tc.want {
				t.Errorf("Get(%s) = %q, want %q", tc.phone, got, tc.want)
			}
		})
	}
}

// TestMemoBounded: a Memo keeps at most its maximum of phones, forgets the
// oldest first, and keeps a phone answered again since.
func TestMemoBounded(t *testing.T) {
	const max = 100
	m := New(max)
	phone := func(i int) string { return "+2547" + strconv.Itoa(10000000+i) }
	m.Put(phone(0), "fr")
	for i := 1; i < 10*max; i++ {
		m.Put(phone(i), "sw")
		if i%(max/4) == 0 {
			m.Put(phone(0), "fr") // answered again now and then
		}
		if n := len(m.cur) + len(m.old); n > max {
			t.Fatalf("after %d phones the memo holds %d, more than %d", i+1, n, max)
		}
	}
	if got := m.Get(phone(0)); got != "fr" {
		t.Errorf("a phone answered lately is forgotten: %q", got)
	}
	if got := m.Get(phone(1)); got != "" {
		t.Errorf("the first phones are still remembered: %q", got)
	}
	if got := m.Get(phone(10*max - 1)); got != "sw" {
		t.Errorf("the last phone is not remembered: %q", got)
	}
}

func TestNilMemo(t *testing.T) {
	var m *Memo
	m.Put("+254700000001", "fr")
	if got := m.Get("+254700000001"); got != "" {
		t.Errorf("a nil memo remembers %q", got)
	}
}

package lenprefix

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	b := AppendString(nil, "permit")
	b = AppendUvarint(b, 300)
	b = AppendBytes(b, []byte{0, 1, 2})
	b = AppendString(b, "")
	r := NewReader(b)
	if s := r.String(); s != "permit" {
		t.Errorf("string = %q", s)
	}
	if v := r.Uvarint(); v != 300 {
		t.Errorf("uvarint = %d", v)
	}
	if p := r.Bytes(); !bytes.Equal(p, []byte{0, 1, 2}) {
		t.Errorf("bytes = %v", p)
	}
	if s := r.String(); s != "" || r.Bad() || r.Len() != 0 {
		t.Errorf("last = %q bad=%v left=%d", s, r.Bad(), r.Len())
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"length past the end", []byte{5, 'a'}},
		{"unterminated uvarint", []byte{0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.b)
			if s := r.String(); s != "" || !r.Bad() {
				t.Errorf("String() = %q, bad %v", s, r.Bad())
			}
			if r.Uvarint() != 0 || r.String() != "" {
				t.Error("reads after a failure must return zero")
			}
		})
	}
}

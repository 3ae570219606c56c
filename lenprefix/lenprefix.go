// Package lenprefix writes and reads compact binary records made of
// uvarint-length-prefixed fields: the encoding of session state, which is
// written on every hop and must stay small and cheap.
package lenprefix

import "encoding/binary"

// AppendUvarint appends v as a uvarint.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendString appends s with its length in front.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBytes appends p with its length in front.
func AppendBytes(b []byte, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// Reader reads fields in the order they were appended. After the first
// malformed field every read returns zero and Bad reports true, so a caller
// reads a whole record and checks once.
type Reader struct {
	b   []byte
	bad bool
}

// NewReader reads the record b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads a length-prefixed field; the result aliases the record.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// String reads a length-prefixed field as a string.
func (r *Reader) String() string { return string(r.Bytes()) }

// Len is how many bytes are left unread.
func (r *Reader) Len() int { return len(r.b) }

// Rest returns the unread bytes and consumes them.
func (r *Reader) Rest() []byte {
	p := r.b
	r.b = nil
	return p
}

// Bad reports whether a read failed.
func (r *Reader) Bad() bool { return r.bad }

func (r *Reader) fail() {
	r.bad = true
	r.b = nil
}

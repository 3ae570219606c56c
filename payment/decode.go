package payment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// DecodeOne decodes exactly one JSON value of a provider into out,
// refusing trailing data, and unknown fields too when strict (a
// synchronous answer; callbacks tolerate a field a provider adds).
func DecodeOne(data []byte, out any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(out); err != nil {
		return err
	}
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

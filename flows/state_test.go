package flows

import (
	"reflect"
	"testing"

	"github.com/govchannels/channels"
)

func TestStateRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		st   State
	}{
		{"empty", State{}},
		{"home", State{Lang: "sw", Channel: channels.ChannelUSSD}},
		{"mid service", State{Service: "permit", Step: "stalls", Lang: "fr", Channel: channels.ChannelApp,
			Trail: []Visit{{Step: "name", Value: "Zoë"}, {Step: "kind", Value: "market"}, {Step: "confirm"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeState(tt.st.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.st) {
				t.Errorf("got %+v, want %+v", got, tt.st)
			}
		})
	}
}

func TestDecodeStateRefusesGarbage(t *testing.T) {
	good := (&State{Service: "permit", Step: "kind", Trail: []Visit{{Step: "name", Value: "Ann"}}}).Encode()
	tests := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"other version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-2]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"huge trail count", []byte{1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"bad varint", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeState(tt.b); err != ErrBadState {
				t.Errorf("err = %v, want ErrBadState", err)
			}
		})
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add((&State{Service: "permit", Step: "kind", Lang: "en", Trail: []Visit{{Step: "name", Value: "Ann"}}}).Encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeState(b)
		if err != nil {
			return
		}
		again, err := DecodeState(st.Encode())
		if err != nil || !reflect.DeepEqual(st, again) {
			t.Fatalf("re-encoding changed the state: %+v vs %+v (%v)", st, again, err)
		}
	})
}

// TestStateVersionOneStillReads: a state written before call steps (the
// same version, no call visits) reads as it did, so sessions in flight
// across the upgrade go on.
func TestStateVersionOneStillReads(t *testing.T) {
	old := []byte("\x01\x06permit\x06stalls\x02fr\x03app\x02\x04name\x03Ann\x04kind\x06market")
	st, err := DecodeState(old)
	want := State{Service: "permit", Step: "stalls", Lang: "fr", Channel: channels.ChannelApp,
		Trail: []Visit{{Step: "name", Value: "Ann"}, {Step: "kind", Value: "market"}}}
	if err != nil || !reflect.DeepEqual(st, want) {
		t.Errorf("DecodeState = %+v, %v; want %+v", st, err, want)
	}
}

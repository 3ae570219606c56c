package channels

import (
	"context"
	"time"
)

// Device is an app installation that can receive push notices: its FCM
// registration token, for the citizen signed in on it.
type Device struct {
	Phone     string    `json:"phone"`
	Token     string    `json:"token"`
	Platform  string    `json:"platform"` // "android", "ios", "web"
	Lang      string    `json:"lang,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// DeviceStore keeps the devices of each phone; a citizen may have several.
type DeviceStore interface {
	// PutDevice stores d, replacing a device with the same token (a token
	// moves to the phone that registers it last).
	PutDevice(ctx context.Context, d Device) error
	// DeleteDevice removes the device token of phone; removing a missing
	// one is no error.
	DeleteDevice(ctx context.Context, phone, token string) error
	// Devices returns the devices of phone, oldest first.
	Devices(ctx context.Context, phone string) ([]Device, error)
}

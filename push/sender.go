package push

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"

	"firebase.google.com/go/v4/messaging"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/outbox"
)

// The reasons of the permanent failures of a notice, kept on the message.
const (
	ReasonNoDevice        = "no_device"        // the phone has no device
	ReasonUnregistered    = "unregistered"     // every device of the phone is gone
	ReasonInvalidArgument = "invalid_argument" // FCM refuses the notice itself
)

// Sender sends push notices over FCM. It implements outbox.Sender for
// messages of kind channels.KindPush and is safe for concurrent use.
type Sender struct {
	client  *messaging.Client
	devices channels.DeviceStore
	log     *slog.Logger
}

var _ outbox.Sender = (*Sender)(nil)

// NewSender returns a Sender that looks devices up in devices and sends
// through client (NewClient); log may be nil.
func NewSender(client *messaging.Client, devices channels.DeviceStore, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{client: client, devices: devices, log: log.With("sender", "fcm")}
}

// Name identifies FCM in the outbox and in logs.
func (s *Sender) Name() string { return "fcm" }

// Send hands the notice m to FCM once per device of the phone m.To: a
// notification (m.Title, m.Text) with m.Data, at high priority on Android.
// A device FCM reports as unregistered is removed from the store at once.
//
// Once any device took it, the notice is sent: the answer is the FCM
// message names, comma-separated, and a device that failed otherwise misses
// it (a retry would repeat it on the others). Else the error is permanent
// (outbox.Permanent) when no retry can help: ReasonNoDevice,
// ReasonUnregistered, or ReasonInvalidArgument when FCM refuses the notice
// as malformed; any other failure (an outage, an internal error, a quota)
// is an ordinary error, to retry.
func (s *Sender) Send(ctx context.Context, m *channels.Outbound) (string, error) {
	if m.Kind != channels.KindPush {
		return "", outbox.Permanent("not_push", fmt.Errorf("fcm: message %s is of kind %q, not %q", m.Key, m.Kind, channels.KindPush))
	}
	phone := channels.MaskPhone(m.To)
	devices, err := s.devices.Devices(ctx, m.To)
	if err != nil {
		return "", fmt.Errorf("fcm: devices of %s: %w", phone, err)
	}
	if len(devices) == 0 {
		return "", outbox.Permanent(ReasonNoDevice, fmt.Errorf("fcm: %s has no device", phone))
	}

	msgs := make([]*messaging.Message, len(devices))
	for i, d := range devices {
		msgs[i] = &messaging.Message{
			Token:        d.Token,
			Notification: &messaging.Notification{Title: m.Title, Body: m.Text},
			Data:         m.Data,
			Android:      &messaging.AndroidConfig{Priority: "high"},
		}
	}
	batch, err := s.client.SendEach(ctx, msgs)
	if err != nil {
		// The SDK refused the messages before sending any: they are
		// malformed, and would be again.
		return "", outbox.Permanent(ReasonInvalidArgument, fmt.Errorf("fcm: notice %s to %s: %w", m.Key, phone, err))
	}

	var (
		names              []string
		dead, invalid      int
		retryable, refused error
	)
	for i, r := range batch.Responses {
		switch {
		case r.Success:
			names = append(names, r.MessageID)
		case messaging.IsUnregistered(r.Error):
			dead++
			// Its app was uninstalled or its token replaced: never again.
			if err := s.devices.DeleteDevice(ctx, m.To, devices[i].Token); err != nil {
				s.log.WarnContext(ctx, "push: remove an unregistered device", "phone", phone, "platform", devices[i].Platform, "err", err)
			}
		case messaging.IsInvalidArgument(r.Error):
			invalid++
			refused = cmp.Or(refused, r.Error) // the first stands for the others
		default:
			retryable = cmp.Or(retryable, r.Error)
		}
	}
	s.log.InfoContext(ctx, "push: notice handed to FCM", "key", m.Key, "phone", phone,
		"devices", len(devices), "sent", len(names), "unregistered", dead, "invalid", invalid,
		"failed", len(devices)-len(names)-dead-invalid)

	switch {
	case len(names) > 0:
		return strings.Join(names, ","), nil
	case retryable != nil:
		return "", fmt.Errorf("fcm: notice %s to %s: no device took it: %w", m.Key, phone, retryable)
	case refused != nil:
		return "", outbox.Permanent(ReasonInvalidArgument, fmt.Errorf("fcm: notice %s to %s refused: %w", m.Key, phone, refused))
	default:
		return "", outbox.Permanent(ReasonUnregistered, fmt.Errorf("fcm: all %d devices of %s are unregistered", dead, phone))
	}
}

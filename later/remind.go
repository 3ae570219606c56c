package later

import (
	"context"
	"fmt"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/outbox"
)

// ReasonCancelled is the Reason of a reminder that a later step dropped
// (the appointment was cancelled).
const ReasonCancelled = "cancelled"

// Reminders keeps the reminders of call steps in the outbox (Config.Store,
// whose dispatcher sends them): flows.Reminders; Sender.Reminders returns
// it.
// A reminder is an SMS (a push notice with the SMS as fallback for a
// citizen on the app) under the key "remind/" + its Key, due at its At; a
// new reminder of the same key replaces the pending one, and Cancel fails
// it with reason "cancelled". It changes a stored reminder by reading and
// replacing it, as the outbox does, under the outbox's lock on it
// (Config.Locks); without Locks, a reminder changed in the very second it
// is being sent may be sent as it was.
type Reminders struct {
	sender *Sender // its store, Bundle, Devices and clock
}

var _ flows.Reminders = (*Reminders)(nil)

// Remind schedules, replaces or (with r.Cancel) cancels the reminder
// r.Key.
func (rs *Reminders) Remind(ctx context.Context, r flows.Reminder) error {
	key := KeyRemind + r.Key
	if r.Key == "" {
		return fmt.Errorf("later: a reminder without a key")
	}
	if locks := rs.sender.cfg.Locks; locks != nil {
		unlock, err := locks.LockKey(ctx, outbox.LockName(key))
		if err != nil {
			return fmt.Errorf("later: lock reminder %s: %w", key, err)
		}
		defer unlock()
	}
	old, err := rs.sender.cfg.Store.Outbound(ctx, key)
	switch {
	case channels.ErrorCode(err) == channels.ENOTFOUND:
		old = nil
	case err != nil:
		return fmt.Errorf("later: read reminder %s: %w", key, err)
	}
	now := rs.sender.cfg.Now()
	if r.Cancel {
		if old == nil || old.Status.Final() {
			return nil // nothing pending: cancelling twice is harmless
		}
		old.Status, old.Reason, old.UpdatedAt = channels.OutboundFailed, ReasonCancelled, now
		if err := rs.sender.cfg.Store.UpdateOutbound(ctx, old); err != nil {
			return fmt.Errorf("later: cancel reminder %s: %w", key, err)
		}
		return nil
	}
	if r.Phone == "" {
		return fmt.Errorf("later: reminder %s: %w", key, errNoPhone)
	}
	lang := rs.sender.lang(r.Lang)
	b := rs.sender.cfg.Bundle
	m, err := rs.sender.notice(ctx, r.Phone, r.Channel, key, b.Text(lang, r.Text), b.Text(lang, channels.Msg(MsgReminderTitle)), "", r.At.Add(rs.sender.cfg.RemindTTL))
	if err != nil {
		return err
	}
	m.Purpose = channels.PurposeNotice
	if m.Fallback != nil {
		m.Fallback.Purpose = channels.PurposeNotice
	}
	m.NextAttempt = r.At
	queued(now, m)
	if old == nil {
		if err := rs.sender.cfg.Store.Enqueue(ctx, m); err != nil {
			return fmt.Errorf("later: queue reminder %s: %w", key, err)
		}
		return nil
	}
	m.CreatedAt = old.CreatedAt
	if err := rs.sender.cfg.Store.UpdateOutbound(ctx, m); err != nil {
		return fmt.Errorf("later: replace reminder %s: %w", key, err)
	}
	return nil
}

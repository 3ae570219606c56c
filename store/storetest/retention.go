package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// runRetention checks the purges of what need no longer be kept and the
// sign-out records.
func runRetention(t *testing.T, open func(t *testing.T) channels.Store) {
	t.Run("OutboxPurge", func(t *testing.T) { testOutboxPurge(t, open(t)) })
	t.Run("OutboxPurgeIndex", func(t *testing.T) { testOutboxPurgeIndex(t, open(t)) })
	t.Run("SignOuts", func(t *testing.T) { testSignOuts(t, open(t)) })
}

// testOutboxPurge checks that PurgeOutbound removes final messages last
// updated before the cut, oldest first and at most limit a call, and
// leaves queued and sending messages, whatever their age, and newer ones.
func testOutboxPurge(t *testing.T, s channels.Store) {
	ctx := context.Background()
	cut := base.Add(-7 * 24 * time.Hour)
	day := 24 * time.Hour
	msgs := []struct {
		key     string
		status  channels.OutboundStatus
		updated time.Time
		purged  bool
	}{
		{"sent, 10 days old", channels.OutboundSent, base.Add(-10 * day), true},
		{"delivered, 9 days old", channels.OutboundDelivered, base.Add(-9 * day), true},
		{"failed, 8 days old", channels.OutboundFailed, base.Add(-8 * day), true},
		{"failed a microsecond before the cut", channels.OutboundFailed, cut.Add(-time.Microsecond), true},
		{"failed at the cut", channels.OutboundFailed, cut, false},
		{"sent a day ago", channels.OutboundSent, base.Add(-day), false},
		{"queued, 10 days old", channels.OutboundQueued, base.Add(-10 * day), false},
		{"sending, 10 days old", channels.OutboundSending, base.Add(-10 * day), false},
	}
	for _, m := range msgs {
		o := outbound(m.key, m.updated)
		o.CreatedAt = m.updated
		if err := s.Enqueue(ctx, o); err != nil {
			t.Fatal(err)
		}
		o.Status, o.UpdatedAt = m.status, m.updated
		if err := s.UpdateOutbound(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	// Batches of two take the oldest first.
	for i, want := range []int{2, 2, 0} {
		n, err := s.PurgeOutbound(ctx, cut, 2)
		if err != nil || n != want {
			t.Fatalf("purge %d = %d, %v; want %d", i+1, n, err, want)
		}
		if i == 0 {
			if _, err := s.Outbound(ctx, "failed, 8 days old"); err != nil {
				t.Errorf("the first batch took a message that was not among the two oldest: %v", err)
			}
		}
	}
	for _, m := range msgs {
		_, err := s.Outbound(ctx, m.key)
		switch {
		case m.purged && channels.ErrorCode(err) != channels.ENOTFOUND:
			t.Errorf("%s: read after purge = %v, want not found", m.key, err)
		case !m.purged && err != nil:
			t.Errorf("%s: read after purge = %v, want it kept", m.key, err)
		}
	}
	due, err := s.DueOutbound(ctx, channels.KindSMS, base, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(due), []string{"sending, 10 days old", "queued, 10 days old"}; !reflect.DeepEqual(got, want) {
		t.Errorf("due after purge = %v, want %v", got, want)
	}
	if n, err := s.PurgeOutbound(ctx, base.Add(time.Hour), 0); err != nil || n != 0 {
		t.Errorf("a purge of limit 0 = %d, %v; want 0", n, err)
	}
}

// testOutboxPurgeIndex checks that the purge follows a message's latest
// update: one final long ago but reported since, or queued again, is not
// purged for its old state, and a purged key can be enqueued anew.
func testOutboxPurgeIndex(t *testing.T, s channels.Store) {
	ctx := context.Background()
	old := base.Add(-30 * 24 * time.Hour)
	put := func(key string, status channels.OutboundStatus, updated time.Time) *channels.Outbound {
		t.Helper()
		m, err := s.Outbound(ctx, key)
		if channels.ErrorCode(err) == channels.ENOTFOUND {
			m = outbound(key, old)
			if err := s.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		m.Status, m.UpdatedAt = status, updated
		if err := s.UpdateOutbound(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	put("reported late", channels.OutboundSent, old)
	put("reported late", channels.OutboundDelivered, base)
	put("queued again", channels.OutboundFailed, old)
	put("queued again", channels.OutboundQueued, old)
	put("gone", channels.OutboundSent, old)

	if n, err := s.PurgeOutbound(ctx, base, 10); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want 1 (gone)", n, err)
	}
	if m, err := s.Outbound(ctx, "reported late"); err != nil || m.Status != channels.OutboundDelivered {
		t.Errorf("reported late = %+v, %v; want it kept, delivered", m, err)
	}
	due, err := s.DueOutbound(ctx, channels.KindSMS, base, 10)
	if err != nil || !reflect.DeepEqual(keys(due), []string{"queued again"}) {
		t.Errorf("due = %v, %v; want [queued again]", keys(due), err)
	}
	if err := s.Enqueue(ctx, outbound("gone", base)); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Outbound(ctx, "gone"); err != nil || m.Status != channels.OutboundQueued {
		t.Errorf("a purged key enqueued anew = %+v, %v; want it queued", m, err)
	}
	if n, err := s.PurgeOutbound(ctx, base.Add(time.Hour), 10); err != nil || n != 1 {
		t.Errorf("purge an hour later = %d, %v; want 1 (reported late)", n, err)
	}
	due, err = s.DueOutbound(ctx, channels.KindSMS, base, 10)
	if got := keys(due); err != nil || !slices.Equal(got, []string{"gone", "queued again"}) && !slices.Equal(got, []string{"queued again", "gone"}) {
		t.Errorf("due = %v, %v; want gone and queued again", got, err)
	}
}

// testSignOuts checks the sign-out records: the latest wins, an earlier one
// changes nothing, a time finer than the store keeps is rounded up, and the
// purge removes a record once it is kept no longer, by its latest keep.
func testSignOuts(t *testing.T, s channels.Store) {
	ctx := context.Background()
	const phone, other = "+254712345678", "+254712345679"
	month := 30 * 24 * time.Hour
	signedOut := func(p string) time.Time {
		t.Helper()
		at, err := s.SignedOut(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	steps := []struct {
		name  string
		at    time.Time // signed out at, kept a month
		check func() time.Time
		want  time.Time
	}{
		{"none recorded", time.Time{}, func() time.Time { return signedOut(phone) }, time.Time{}},
		{"recorded", base, func() time.Time { return signedOut(phone) }, base},
		{"another phone is not signed out", time.Time{}, func() time.Time { return signedOut(other) }, time.Time{}},
		{"an earlier one changes nothing", base.Add(-time.Hour), func() time.Time { return signedOut(phone) }, base},
		{"a later one replaces it", base.Add(time.Hour), func() time.Time { return signedOut(phone) }, base.Add(time.Hour)},
	}
	for _, st := range steps {
		if !st.at.IsZero() {
			if err := s.SignOut(ctx, phone, st.at, st.at.Add(month)); err != nil {
				t.Fatal(err)
			}
		}
		if got := st.check(); !got.Equal(st.want) {
			t.Errorf("%s: signed out at %v, want %v", st.name, got, st.want)
		}
	}

	t.Run("rounded up, never down", func(t *testing.T) {
		at := base.Add(2*time.Hour + time.Nanosecond)
		if err := s.SignOut(ctx, other, at, at.Add(month)); err != nil {
			t.Fatal(err)
		}
		if got := signedOut(other); got.Before(at) || !got.Before(at.Add(time.Microsecond)) {
			t.Errorf("signed out at %v, want within a microsecond at or after %v", got, at)
		}
	})
	t.Run("purged once kept no longer", func(t *testing.T) {
		// The record of phone was first kept until base+month, then, replaced,
		// until an hour later: only the latest counts.
		purges := []struct {
			now  time.Time
			want int
		}{
			{base.Add(month), 0},
			{base.Add(month + time.Hour - time.Second), 0},
			{base.Add(month + time.Hour), 1},
			{base.Add(2 * month), 1},
			{base.Add(3 * month), 0},
		}
		for _, p := range purges {
			if n, err := s.PurgeSignOuts(ctx, p.now); err != nil || n != p.want {
				t.Errorf("purge at %v = %d, %v; want %d", p.now, n, err, p.want)
			}
		}
		if got := signedOut(phone); !got.IsZero() {
			t.Errorf("after purge, signed out at %v, want none", got)
		}
		if err := s.SignOut(ctx, phone, base, base.Add(month)); err != nil {
			t.Fatal(err)
		}
		if got := signedOut(phone); !got.Equal(base) {
			t.Errorf("signed out again after purge at %v, want %v", got, base)
		}
	})
}

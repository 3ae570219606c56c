package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/govchannels/channels"
)

// testOutboxSkip checks that DueOutbound leaves out the messages of the
// recipients it is told to skip, sending ones included, so that one
// recipient's backlog fills no window.
func testOutboxSkip(t *testing.T, s channels.Store) {
	ctx := context.Background()
	var ms []*channels.Outbound
	for i := range 6 {
		m := outbound(fmt.Sprintf("dead-%d", i), base.Add(time.Duration(i)*time.Second))
		m.Kind, m.To = channels.KindWebhook, "dead_agency"
		ms = append(ms, m)
	}
	live := outbound("live-0", base.Add(time.Minute))
	live.Kind, live.To = channels.KindWebhook, "live_agency"
	other := outbound("other-0", base.Add(2*time.Minute))
	other.Kind, other.To = channels.KindWebhook, "other_agency"
	if err := s.Enqueue(ctx, append(ms, live, other)...); err != nil {
		t.Fatal(err)
	}
	sending := *ms[5]
	sending.Status = channels.OutboundSending
	if err := s.UpdateOutbound(ctx, &sending); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		limit int
		skip  []string
		want  []string
	}{
		{"without skip the backlog fills the window", 3, nil, []string{"dead-5", "dead-0", "dead-1"}},
		{"skipped recipient's messages left out", 3, []string{"dead_agency"}, []string{"live-0", "other-0"}},
		{"several skipped", 3, []string{"dead_agency", "live_agency"}, []string{"other-0"}},
		{"an unknown recipient skips nothing", 2, []string{"nobody"}, []string{"dead-5", "dead-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DueOutbound(ctx, channels.KindWebhook, base.Add(time.Hour), tt.limit, tt.skip...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(keys(got), tt.want) {
				t.Errorf("due = %v, want %v", keys(got), tt.want)
			}
		})
	}
}

// testOutboxFailed checks the listing of failed messages: by kind, by key,
// page after page, and only failed ones.
func testOutboxFailed(t *testing.T, s channels.Store) {
	ctx := context.Background()
	put := func(key, kind string, status channels.OutboundStatus) {
		t.Helper()
		m := outbound(key, base)
		m.Kind = kind
		if err := s.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		if status != channels.OutboundQueued {
			m.Status, m.Attempts, m.Reason = status, 3, "gave_up"
			if err := s.UpdateOutbound(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("sms/c", channels.KindSMS, channels.OutboundFailed)
	put("sms/a", channels.KindSMS, channels.OutboundFailed)
	put("sms/b", channels.KindSMS, channels.OutboundSent)
	put("sms/d", channels.KindSMS, channels.OutboundQueued)
	put("sms/e", channels.KindSMS, channels.OutboundFailed)
	put("hook/a", channels.KindWebhook, channels.OutboundFailed)
	put("event/1", channels.KindEvent, channels.OutboundFailed)

	tests := []struct {
		name, kind, after string
		limit             int
		want              []string
	}{
		{"SMS by key, only failed", channels.KindSMS, "", 10, []string{"sms/a", "sms/c", "sms/e"}},
		{"first page", channels.KindSMS, "", 2, []string{"sms/a", "sms/c"}},
		{"next page after a key", channels.KindSMS, "sms/c", 2, []string{"sms/e"}},
		{"after a key that is not failed", channels.KindSMS, "sms/b", 10, []string{"sms/c", "sms/e"}},
		{"after the last", channels.KindSMS, "sms/e", 10, nil},
		{"webhooks apart", channels.KindWebhook, "", 10, []string{"hook/a"}},
		{"parked events apart", channels.KindEvent, "", 10, []string{"event/1"}},
		{"a kind with none", channels.KindPush, "", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FailedOutbound(ctx, tt.kind, tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(keys(got), tt.want) {
				t.Errorf("failed = %v, want %v", keys(got), tt.want)
			}
		})
	}
	t.Run("a failed message read in full", func(t *testing.T) {
		got, err := s.FailedOutbound(ctx, channels.KindWebhook, "", 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("got %v %v", got, err)
		}
		if got[0].Status != channels.OutboundFailed || got[0].Reason != "gave_up" || got[0].Attempts != 3 || got[0].To != "+254712345678" {
			t.Errorf("got %+v", got[0])
		}
	})
}

// testOutboxRequeue checks that a failed message goes back to the queue as
// new, leaves the failed listing, and that nothing else is requeued.
func testOutboxRequeue(t *testing.T, s channels.Store) {
	ctx := context.Background()
	failed := outbound("hook/1", base)
	failed.Kind, failed.To, failed.AtMostOnce, failed.Purpose = channels.KindWebhook, "civil_registry", false, channels.PurposeEvent
	sent := outbound("sms/1", base)
	if err := s.Enqueue(ctx, failed, sent); err != nil {
		t.Fatal(err)
	}
	failed.Status, failed.Attempts, failed.Sender, failed.ProviderID, failed.Reason = channels.OutboundFailed, 7, "webhook", "x", "gave_up"
	sent.Status, sent.Attempts = channels.OutboundSent, 1
	for _, m := range []*channels.Outbound{failed, sent} {
		if err := s.UpdateOutbound(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	now := base.Add(time.Hour)
	got, err := s.RequeueOutbound(ctx, "hook/1", now)
	if err != nil {
		t.Fatal(err)
	}
	want := *failed
	want.Status, want.Attempts, want.Sender, want.ProviderID, want.Reason, want.NextAttempt, want.UpdatedAt = channels.OutboundQueued, 0, "", "", "", now, now
	if !reflect.DeepEqual(normalize(got), normalize(&want)) {
		t.Errorf("requeued = %+v, want %+v", got, want)
	}
	if stored, err := s.Outbound(ctx, "hook/1"); err != nil || !reflect.DeepEqual(normalize(stored), normalize(&want)) {
		t.Errorf("stored = %+v %v, want %+v", stored, err, want)
	}
	if due, err := s.DueOutbound(ctx, channels.KindWebhook, now, 10); err != nil || !reflect.DeepEqual(keys(due), []string{"hook/1"}) {
		t.Errorf("due = %v %v, want [hook/1]", keys(due), err)
	}
	if list, err := s.FailedOutbound(ctx, channels.KindWebhook, "", 10); err != nil || len(list) != 0 {
		t.Errorf("still listed as failed: %v %v", keys(list), err)
	}

	tests := []struct {
		name, key, code string
	}{
		{"queued again is not failed", "hook/1", channels.ECONFLICT},
		{"sent is not failed", "sms/1", channels.ECONFLICT},
		{"unknown", "nope", channels.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.RequeueOutbound(ctx, tt.key, now); channels.ErrorCode(err) != tt.code {
				t.Errorf("err = %v, want %s", err, tt.code)
			}
		})
	}
}

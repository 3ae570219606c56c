package admin_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
)

// failedMessages puts in s's store a failed message of each sort an
// operator meets, and one of every other state.
func failedMessages(t *testing.T, s setup) {
	t.Helper()
	ms := []*channels.Outbound{
		{Key: "evt_1", Kind: channels.KindWebhook, To: "civil_registry", Text: `{"ref":"X"}`, Purpose: channels.PurposeEvent, Reason: "gave_up", Attempts: 430},
		{Key: "evt_2", Kind: channels.KindWebhook, To: "civil_registry", Text: `{}`, Purpose: channels.PurposeEvent, Reason: "no_webhook", Attempts: 1},
		{Key: "notice/7", To: "+254712345678", Text: "Your case moved", Purpose: channels.PurposeNotice, Reason: "gave_up", Attempts: 8, ExpiresAt: start.Add(time.Hour)},
		{Key: "notice/8", To: "+254712345678", Text: "Your case moved", Purpose: channels.PurposeNotice, Reason: "expired", ExpiresAt: start.Add(-time.Minute)},
		{Key: "otp/1", To: "+254712345678", Text: "Your code is 482913", Purpose: channels.PurposeOTP, AtMostOnce: true, Reason: "outcome_unknown", Attempts: 1},
		{Key: "event/12", Kind: channels.KindEvent, To: "BC-7K2M9Q", Data: map[string]string{"seq": "12"}, Purpose: channels.PurposeEvent, Reason: "bolt: case BC-7K2M9Q: unreadable", Attempts: 6},
		{Key: "notice/9", To: "+254712345678", Text: "sent", Purpose: channels.PurposeNotice, Status: channels.OutboundSent},
		{Key: "remind/registry_appointment/R1", To: "+254712345678", Text: "Your appointment is tomorrow", Purpose: channels.PurposeNotice, Reason: "cancelled", ExpiresAt: start.Add(48 * time.Hour)},
		{Key: "call/ussd/s1/pin_status/2", Kind: channels.KindCall, To: "revenue", Text: `{"request":{}}`, Purpose: channels.PurposeReply, Reason: "gave_up", Attempts: 8},
	}
	for _, m := range ms {
		status := cmpStatus(m.Status)
		m.Status, m.CreatedAt, m.UpdatedAt, m.NextAttempt = channels.OutboundQueued, start, start, start
		if err := s.db.Enqueue(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		m.Status = status
		if err := s.db.UpdateOutbound(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// cmpStatus is the status a test message ends in: failed unless given.
func cmpStatus(s channels.OutboundStatus) channels.OutboundStatus {
	if s == "" {
		return channels.OutboundFailed
	}
	return s
}

func TestFailedMessages(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			failedMessages(t, s)
			tests := []struct {
				name, kind, after string
				limit             int
				want              []string
			}{
				{"webhooks", "webhook", "", 0, []string{"evt_1", "evt_2"}},
				{"a page", "webhook", "", 1, []string{"evt_1"}},
				{"the next page", "webhook", "evt_1", 1, []string{"evt_2"}},
				{"SMS, the sent one left out", "sms", "", 0, []string{"notice/7", "notice/8", "otp/1", "remind/registry_appointment/R1"}},
				{"parked events", "event", "", 0, []string{"event/12"}},
				{"late calls", "call", "", 0, []string{"call/ussd/s1/pin_status/2"}},
				{"none of a kind", "push", "", 0, nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := s.ops.FailedMessages(t.Context(), tt.kind, tt.after, tt.limit)
					if err != nil {
						t.Fatal(err)
					}
					var keys []string
					for _, m := range got {
						keys = append(keys, m.Key)
					}
					if !reflect.DeepEqual(keys, tt.want) {
						t.Errorf("keys %v, want %v", keys, tt.want)
					}
				})
			}
			got, err := s.ops.FailedMessages(t.Context(), "sms", "", 0)
			if err != nil || len(got) != 4 {
				t.Fatalf("%v %v", got, err)
			}
			otp := got[2]
			if otp.To != channels.MaskPhone("+254712345678") || otp.Kind != "sms" || otp.Reason != "outcome_unknown" || !strings.Contains(otp.Refusal, "one-time code") {
				t.Errorf("the code as listed: %+v; want its phone masked, its reason, and that it is not sent again", otp)
			}
			if got[0].Refusal != "" || !strings.Contains(got[1].Refusal, "expired") {
				t.Errorf("refusals %q and %q, want none and expired", got[0].Refusal, got[1].Refusal)
			}
			_, err = s.ops.FailedMessages(t.Context(), "fax", "", 0)
			wantError(t, err, channels.EINVALID, `kind "fax"`)
			_, err = s.ops.FailedMessages(t.Context(), "sms", "", admin.MaxOutboxLimit+1)
			wantError(t, err, channels.EINVALID, "limit")
		})
	}
}

func TestRetryMessage(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			failedMessages(t, s)
			s.clock.Add(time.Minute)
			for _, key := range []string{"evt_1", "notice/7", "event/12"} {
				out, err := s.ops.RetryMessage(t.Context(), key)
				if err != nil {
					t.Fatalf("retry %s: %v", key, err)
				}
				if out.Status != channels.OutboundQueued || out.Attempts != 0 {
					t.Errorf("retry %s: %+v, want queued with no attempts", key, out)
				}
				m, err := s.db.Outbound(t.Context(), key)
				if err != nil || m.Status != channels.OutboundQueued || m.Attempts != 0 || m.Reason != "" || !m.NextAttempt.Equal(s.clock.Now()) {
					t.Errorf("%s stored as %+v %v, want queued afresh, due now", key, m, err)
				}
			}
			tests := []struct {
				name, key, code, what string
			}{
				{"a one-time code is never sent twice", "otp/1", channels.EINVALID, "one-time code"},
				{"an expired notice", "notice/8", channels.EINVALID, "expired at"},
				{"a cancelled reminder", "remind/registry_appointment/R1", channels.EINVALID, "something cancelled"},
				{"a late call, whose citizen had the failed screen", "call/ussd/s1/pin_status/2", channels.EINVALID, "a call answers once"},
				{"queued already", "evt_1", channels.ECONFLICT, "is queued, not failed"},
				{"sent", "notice/9", channels.ECONFLICT, "is sent, not failed"},
				{"unknown", "nope", channels.ENOTFOUND, "channels outbox failed"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before, _ := s.db.Outbound(t.Context(), tt.key)
					_, err := s.ops.RetryMessage(t.Context(), tt.key)
					wantError(t, err, tt.code, tt.what)
					after, _ := s.db.Outbound(t.Context(), tt.key)
					if !reflect.DeepEqual(before, after) {
						t.Errorf("refused, yet changed: %+v → %+v", before, after)
					}
				})
			}
		})
	}
}

package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
)

// TestAuditTamper edits the data file behind the store's back, as someone
// with the file could, and checks that VerifyAudit names what was done.
func TestAuditTamper(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		tamper func(b *bbolt.Bucket) error
		want   string
	}{
		{"an entry edited", func(b *bbolt.Bucket) error {
			var e channels.AuditEntry
			if err := json.Unmarshal(b.Get(seqKey(2)), &e); err != nil {
				return err
			}
			e.Citizen = "+254700000000"
			v, _ := json.Marshal(e)
			return b.Put(seqKey(2), v)
		}, "audit entry 2 was altered"},
		{"an entry removed", func(b *bbolt.Bucket) error { return b.Delete(seqKey(2)) }, "audit entry 2 is missing"},
		{"the last entry removed", func(b *bbolt.Bucket) error { return b.Delete(seqKey(3)) }, "audit entries after 2 were removed"},
		{"an entry edited with its hash recomputed", func(b *bbolt.Bucket) error {
			var e, prev channels.AuditEntry
			if err := json.Unmarshal(b.Get(seqKey(1)), &prev); err != nil {
				return err
			}
			if err := json.Unmarshal(b.Get(seqKey(2)), &e); err != nil {
				return err
			}
			e.Actor = "operator:mallory"
			e.Hash = e.ChainHash(prev.Hash)
			v, _ := json.Marshal(e)
			return b.Put(seqKey(2), v)
		}, "audit entry 3 was altered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "channels.db")
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i, action := range []string{channels.AuditSignIn, channels.AuditConsentGiven, channels.AuditCaseSubmitted} {
				if _, err := db.Audit(context.Background(), channels.AuditEntry{At: at.Add(time.Duration(i) * time.Minute), Actor: "operator:amina", Action: action, Citizen: "+254712345678"}); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()

			raw, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := raw.Update(func(tx *bbolt.Tx) error { return tt.tamper(tx.Bucket(bucketAudit)) }); err != nil {
				t.Fatal(err)
			}
			raw.Close()

			db, err = Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.VerifyAudit(context.Background()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyAudit = %v, want %q", err, tt.want)
			}
		})
	}
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// TestAuditAppendOnly checks that the store offers no method that could
// change or remove an audit entry: the only ones that touch the log
// append, read and verify.
func TestAuditAppendOnly(t *testing.T) {
	allowed := map[string]bool{"Audit": true, "AuditEntries": true, "VerifyAudit": true}
	typ := reflect.TypeFor[*DB]()
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		if strings.Contains(strings.ToLower(name), "audit") && !allowed[name] {
			t.Errorf("*bolt.DB has method %s, which reaches the audit log", name)
		}
	}
	log := reflect.TypeFor[channels.AuditLog]()
	if log.NumMethod() != len(allowed) {
		t.Errorf("channels.AuditLog has %d methods, want only %v", log.NumMethod(), allowed)
	}
}

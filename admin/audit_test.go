package admin_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/store/bolt"
)

// seedAudit appends what a day at two kiosks leaves in the log, and
// returns the entries as stored.
func seedAudit(t *testing.T, log channels.AuditLog) []channels.AuditEntry {
	t.Helper()
	const citizen = "+254712345678"
	entries := []channels.AuditEntry{
		{At: start, Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditSignIn},
		{At: start.Add(time.Minute), Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditConsentGiven, Citizen: citizen},
		{At: start.Add(2 * time.Minute), Actor: "operator:baraka", Kiosk: "eldoret-centre", Action: channels.AuditSignIn},
		{At: start.Add(3 * time.Minute), Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditCaseSubmitted, Citizen: citizen, Ref: "4821773057"},
		{At: start.Add(24 * time.Hour), Actor: "operator:baraka", Kiosk: "eldoret-centre", Action: channels.AuditCaseLookup, Citizen: "id:12345678", Ref: "4821773057"},
	}
	var out []channels.AuditEntry
	for _, e := range entries {
		got, err := log.Audit(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got)
	}
	return out
}

func seqs(entries []channels.AuditEntry) []uint64 {
	out := []uint64{}
	for _, e := range entries {
		out = append(out, e.Seq)
	}
	return out
}

func TestAuditEntries(t *testing.T) {
	tests := []struct {
		name      string
		q         channels.AuditQuery
		want      []uint64
		code, why string
	}{
		{"everything", channels.AuditQuery{}, []uint64{1, 2, 3, 4, 5}, "", ""},
		{"by an actor", channels.AuditQuery{Actor: "operator:amina"}, []uint64{1, 2, 4}, "", ""},
		{"for a citizen", channels.AuditQuery{Citizen: "+254712345678"}, []uint64{2, 4}, "", ""},
		{"for a citizen by document", channels.AuditQuery{Citizen: "id:12345678"}, []uint64{5}, "", ""},
		{"one action", channels.AuditQuery{Action: channels.AuditSignIn}, []uint64{1, 3}, "", ""},
		{"an actor and an action", channels.AuditQuery{Actor: "operator:baraka", Action: channels.AuditSignIn}, []uint64{3}, "", ""},
		{"since, inclusive", channels.AuditQuery{Since: start.Add(2 * time.Minute)}, []uint64{3, 4, 5}, "", ""},
		{"until, exclusive", channels.AuditQuery{Until: start.Add(3 * time.Minute)}, []uint64{1, 2, 3}, "", ""},
		{"a window", channels.AuditQuery{Since: start.Add(time.Minute), Until: start.Add(time.Hour)}, []uint64{2, 3, 4}, "", ""},
		{"after a sequence number", channels.AuditQuery{After: 3}, []uint64{4, 5}, "", ""},
		{"a page", channels.AuditQuery{After: 1, Limit: 2}, []uint64{2, 3}, "", ""},
		{"the largest page", channels.AuditQuery{Limit: admin.MaxAuditLimit}, []uint64{1, 2, 3, 4, 5}, "", ""},
		{"nothing matches", channels.AuditQuery{Actor: "operator:nobody"}, []uint64{}, "", ""},
		{"a negative limit", channels.AuditQuery{Limit: -1}, nil, channels.EINVALID, "limit -1: list 1 to 1000"},
		{"a limit too large", channels.AuditQuery{Limit: admin.MaxAuditLimit + 1}, nil, channels.EINVALID, "limit 1001"},
		{"until before since", channels.AuditQuery{Since: start.Add(time.Hour), Until: start}, nil, channels.EINVALID, "until (2026-03-02T09:00:00Z) must be after since (2026-03-02T10:00:00Z)"},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			seeded := seedAudit(t, s.db)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := s.ops.AuditEntries(context.Background(), tt.q)
					if tt.code != "" {
						wantError(t, err, tt.code, tt.why)
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(seqs(got), tt.want) {
						t.Fatalf("entries %v, want %v", seqs(got), tt.want)
					}
					for _, e := range got {
						if !reflect.DeepEqual(e, seeded[e.Seq-1]) {
							t.Errorf("entry %d read back as %+v, stored %+v", e.Seq, e, seeded[e.Seq-1])
						}
					}
				})
			}
		})
	}
}

// serveOn returns the operations on db, directly or (socket) through a
// live admin socket served over it, and the socket's path.
func serveOn(t *testing.T, db *bolt.DB, socket bool) (admin.Operations, string) {
	t.Helper()
	ops := admin.New(db, agency.NewKey, nil)
	if !socket {
		return ops, ""
	}
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.NewServer(ops, slog.New(slog.DiscardHandler))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return admin.NewClient(path), path
}

// rawClient is an HTTP client on the admin socket at path, to send what
// the Client never would.
func rawClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
}

// TestVerifyAudit verifies an intact log, then edits the data file behind
// the store's back, as someone with the file could: the verdict names the
// first entry touched, directly and through the socket alike.
func TestVerifyAudit(t *testing.T) {
	key := func(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
	tests := []struct {
		name    string
		tamper  func(b *bbolt.Bucket) error
		checked int
		want    string
	}{
		{"nothing", nil, 6, ""},
		{"a citizen changed", func(b *bbolt.Bucket) error {
			var e channels.AuditEntry
			if err := json.Unmarshal(b.Get(key(2)), &e); err != nil {
				return err
			}
			e.Citizen = "+254700000000"
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			return b.Put(key(2), v)
		}, 1, "audit entry 2 was altered"},
		{"an admin change removed", func(b *bbolt.Bucket) error { return b.Delete(key(6)) }, 5, "audit entries after 5 were removed"},
		{"an entry removed", func(b *bbolt.Bucket) error { return b.Delete(key(3)) }, 2, "audit entry 3 is missing"},
	}
	for _, socket := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(map[bool]string{false: "direct", true: "socket"}[socket]+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				path := filepath.Join(t.TempDir(), "channels.db")
				db, err := bolt.Open(path, bolt.Options{BatchDelay: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				seedAudit(t, db)
				if _, err := admin.New(db, agency.NewKey, nil).AddOperator(ctx, "amina", "Amina", "kisumu-post", "Kisumu", ""); err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if tt.tamper != nil {
					raw, err := bbolt.Open(path, 0o600, nil)
					if err != nil {
						t.Fatal(err)
					}
					if err := raw.Update(func(tx *bbolt.Tx) error { return tt.tamper(tx.Bucket([]byte("audit"))) }); err != nil {
						t.Fatal(err)
					}
					if err := raw.Close(); err != nil {
						t.Fatal(err)
					}
				}
				db, err = bolt.Open(path, bolt.Options{BatchDelay: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				ops, _ := serveOn(t, db, socket)
				n, err := ops.VerifyAudit(ctx)
				if n != tt.checked {
					t.Errorf("checked %d entries, want %d", n, tt.checked)
				}
				switch {
				case tt.want == "" && err != nil:
					t.Errorf("an intact log: %v", err)
				case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
					t.Errorf("VerifyAudit = %v, want %q", err, tt.want)
				}
			})
		}
	}
}

// TestAuditAppendOnly tries to change and remove audit entries every way
// the package could offer: no method of the operations, of their direct or
// socket implementation, or of the server reaches the log but to read or
// verify it; and the socket refuses every other request on it, leaving the
// log as it was.
func TestAuditAppendOnly(t *testing.T) {
	t.Run("methods", func(t *testing.T) {
		readOnly := []string{"AuditEntries", "VerifyAudit"}
		for _, typ := range []reflect.Type{reflect.TypeFor[admin.Operations](), reflect.TypeFor[admin.AuditOperations](), reflect.TypeFor[*admin.Admin](), reflect.TypeFor[*admin.Client](), reflect.TypeFor[*admin.Server]()} {
			var audit []string
			for i := range typ.NumMethod() {
				if name := typ.Method(i).Name; strings.Contains(strings.ToLower(name), "audit") {
					audit = append(audit, name)
				}
			}
			if typ != reflect.TypeFor[*admin.Server]() && !slices.Equal(audit, readOnly) {
				t.Errorf("%v reaches the audit log with %v, want only %v", typ, audit, readOnly)
			}
			if typ == reflect.TypeFor[*admin.Server]() && len(audit) != 0 {
				t.Errorf("%v has exported methods %v on the audit log", typ, audit)
			}
		}
	})

	db := filepath.Join(t.TempDir(), "channels.db")
	store, err := bolt.Open(db, bolt.Options{BatchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	seedAudit(t, store)
	ops, path := serveOn(t, store, true)
	client := ops.(*admin.Client)
	ctx := context.Background()
	before, err := client.AuditEntries(ctx, channels.AuditQuery{})
	if err != nil || len(before) != 5 {
		t.Fatalf("before: %v %v", before, err)
	}
	forged, err := json.Marshal(channels.AuditEntry{Seq: 2, At: start, Actor: "operator:mallory", Action: channels.AuditSignIn, Hash: before[1].Hash})
	if err != nil {
		t.Fatal(err)
	}
	raw := rawClient(path)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"append an entry", "POST", "/v1/audit", 405},
		{"replace the log", "PUT", "/v1/audit", 405},
		{"empty the log", "DELETE", "/v1/audit", 405},
		{"patch the log", "PATCH", "/v1/audit", 405},
		{"replace an entry", "PUT", "/v1/audit/2", 404},
		{"delete an entry", "DELETE", "/v1/audit/2", 404},
		{"patch an entry", "PATCH", "/v1/audit/2", 404},
		{"post to an entry", "POST", "/v1/audit/2", 404},
		{"a delete action", "POST", "/v1/audit/2/delete", 404},
		{"a truncate action", "POST", "/v1/audit/truncate", 404},
		{"post to verify", "POST", "/v1/audit/verify", 405},
		{"delete verify", "DELETE", "/v1/audit/verify", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://admin"+tt.path, strings.NewReader(string(forged)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := raw.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.status)
			}
		})
	}
	after, err := client.AuditEntries(ctx, channels.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("the log changed:\n%+v\nwas\n%+v", after, before)
	}
	if n, err := client.VerifyAudit(ctx); n != 5 || err != nil {
		t.Errorf("VerifyAudit = %d, %v; want 5 intact entries", n, err)
	}
}

// TestOperatorAndAuditRefusals sends the socket what the Client never
// would: an operator with a hash of the caller's choosing, or a listing
// with unreadable parameters.
func TestOperatorAndAuditRefusals(t *testing.T) {
	db := filepath.Join(t.TempDir(), "channels.db")
	store, err := bolt.Open(db, bolt.Options{BatchDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, path := serveOn(t, store, true)
	raw := rawClient(path)
	tests := []struct {
		name, method, path, body string
		status                   int
		code, detail             string
	}{
		{"an operator with a hash", "POST", "/v1/operators", `{"id":"mallory","name":"M","kiosk":"k","region":"r","password_hash":"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}`, 400, "invalid", `unknown field "password_hash"`},
		{"an operator with a password", "POST", "/v1/operators", `{"id":"mallory","name":"M","kiosk":"k","region":"r","password":"chosen-by-me"}`, 400, "invalid", `unknown field "password"`},
		{"an operator that is not JSON", "POST", "/v1/operators", `id=mallory`, 400, "invalid", "body is not an object"},
		{"an unknown operator", "POST", "/v1/operators/nobody/enable", ``, 404, "not_found", `no operator "nobody"`},
		{"a set password action", "POST", "/v1/operators/amina/set-password", `{"password":"x"}`, 404, "", ""},
		{"since not a time", "GET", "/v1/audit?since=yesterday", ``, 400, "invalid", `parameter since="yesterday" is not valid`},
		{"until a date only", "GET", "/v1/audit?until=2026-03-02", ``, 400, "invalid", `parameter until="2026-03-02"`},
		{"after negative", "GET", "/v1/audit?after=-1", ``, 400, "invalid", `parameter after="-1"`},
		{"limit not a number", "GET", "/v1/audit?limit=all", ``, 400, "invalid", `parameter limit="all"`},
		{"limit too large", "GET", "/v1/audit?limit=5000", ``, 400, "invalid", "limit 5000: list 1 to 1000 entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://admin"+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := raw.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.status)
			}
			if tt.code == "" {
				return
			}
			var e struct {
				Error struct{ Code, Message, Detail string } `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tt.code || !strings.Contains(e.Error.Detail, tt.detail) {
				t.Errorf("%s, want code %s with %q", body, tt.code, tt.detail)
			}
		})
	}
	if list, err := store.Operators(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("a refused request stored an operator: %+v %v", list, err)
	}
	if n, err := store.VerifyAudit(context.Background()); n != 0 || err != nil {
		t.Errorf("a refused request was audited: %d entries, %v", n, err)
	}
}

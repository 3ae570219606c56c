package main

import (
	"context"
	byteorder "encoding/binary" // "binary" is the built command in main_test.go
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/agency"
	"github.com/govchannels/channels/store/bolt"
)

var auditDay = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

// seedAudit appends to the log of db what two days at two kiosks leave
// there (the sixth entry with a detail that tries to forge a line), and an
// operator added by the admin; it returns the entries as stored.
func seedAudit(t *testing.T, db *bolt.DB) []channels.AuditEntry {
	t.Helper()
	ctx := context.Background()
	const citizen = "+254712345678"
	for _, e := range []channels.AuditEntry{
		{At: auditDay, Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditSignIn},
		{At: auditDay.Add(time.Minute), Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditConsentGiven, Citizen: citizen},
		{At: auditDay.Add(2 * time.Minute), Actor: "operator:baraka", Kiosk: "eldoret-centre", Action: channels.AuditSignIn},
		{At: auditDay.Add(3 * time.Minute), Actor: "operator:amina", Kiosk: "kisumu-post", Action: channels.AuditCaseSubmitted, Citizen: citizen, Ref: "4821773057"},
		{At: auditDay.Add(24 * time.Hour), Actor: "operator:baraka", Kiosk: "eldoret-centre", Action: channels.AuditCaseLookup, Citizen: "id:12345678", Ref: "4821773057"},
		{At: auditDay.Add(25 * time.Hour), Actor: "operator:baraka", Kiosk: "eldoret-centre", Action: channels.AuditServiceStarted, Citizen: "id:12345678", Detail: "birth_certificate\n7\t2026-11-02T09:00:00Z\tadmin"},
	} {
		if _, err := db.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	clock := func() time.Time { return auditDay.Add(26 * time.Hour) }
	if _, err := admin.New(db, agency.NewKey, clock).AddOperator(ctx, "zawadi", "Zawadi", "nyeri", "Nyeri", ""); err != nil {
		t.Fatal(err)
	}
	entries, err := db.AuditEntries(ctx, channels.AuditQuery{Limit: admin.MaxAuditLimit})
	if err != nil || len(entries) != 7 {
		t.Fatalf("seeded %d entries: %v", len(entries), err)
	}
	return entries
}

// auditWays are the two ways `channels audit` reaches the log: the data
// file, or the admin socket of a server that holds it.
var auditWays = []struct {
	name string
	// open readies the data file (already seeded and closed, maybe
	// tampered with) for the commands, and returns a store to read it
	// back with.
	open func(t *testing.T, data string) (readBack func(func(db *bolt.DB)))
}{
	{"data file", func(t *testing.T, data string) func(func(*bolt.DB)) {
		return func(f func(*bolt.DB)) { inData(t, data, f) }
	}},
	{"socket", func(t *testing.T, data string) func(func(*bolt.DB)) {
		db := openData(t, data)
		serveAdmin(t, db, data)
		return func(f func(*bolt.DB)) { f(db) }
	}},
}

// seededFile returns a data file holding the seeded log, closed.
func seededFile(t *testing.T) (string, []channels.AuditEntry) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "channels.db")
	var entries []channels.AuditEntry
	inData(t, data, func(db *bolt.DB) { entries = seedAudit(t, db) })
	return data, entries
}

// listedSeqs returns the sequence numbers of the table `channels audit`
// printed, checking its header and that each entry takes one line.
func listedSeqs(t *testing.T, out string) []uint64 {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !regexp.MustCompile(`^SEQ +TIME +ACTOR +KIOSK +ACTION +CITIZEN +REFERENCE +DETAIL$`).MatchString(lines[0]) {
		t.Fatalf("no header:\n%s", out)
	}
	seqs := []uint64{}
	for _, line := range lines[1:] {
		seq, err := strconv.ParseUint(strings.Fields(line)[0], 10, 64)
		if err != nil {
			t.Fatalf("a line that is no entry: %q\n%s", line, out)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func TestAuditCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		seqs   []uint64 // of the entries listed, when the command lists
		stdout []string
		stderr []string
	}{
		{"everything", nil, 0, []uint64{1, 2, 3, 4, 5, 6, 7}, nil, nil},
		{"by an operator", []string{"-actor", "operator:amina"}, 0, []uint64{1, 2, 4}, nil, nil},
		{"by the admin", []string{"-actor", "admin"}, 0, []uint64{7}, []string{"admin  -      operator_changed  -  "}, nil},
		{"for a citizen", []string{"-citizen", "+254712345678"}, 0, []uint64{2, 4}, nil, nil},
		{"for a citizen by document", []string{"-citizen", "id:12345678"}, 0, []uint64{5, 6}, nil, nil},
		{"one action", []string{"-action", "sign_in"}, 0, []uint64{1, 3}, nil, nil},
		{"filters combined", []string{"-actor", "operator:baraka", "-action", "sign_in"}, 0, []uint64{3}, nil, nil},
		{"since a date", []string{"-since", "2026-11-02"}, 0, []uint64{5, 6, 7}, nil, nil},
		{"until a date, the whole day", []string{"-until", "2026-11-01"}, 0, []uint64{1, 2, 3, 4}, nil, nil},
		{"since a time, inclusive", []string{"-since", "2026-11-01T08:02:00Z"}, 0, []uint64{3, 4, 5, 6, 7}, nil, nil},
		{"until a time, exclusive", []string{"-until", "2026-11-01T11:02:00+03:00"}, 0, []uint64{1, 2}, nil, nil},
		{"a page", []string{"-after", "1", "-limit", "2"}, 0, []uint64{2, 3}, nil, []string{"channels audit: listed 2 entries, as many as -limit allows: more may follow (-after 3)\n"}},
		{"the last page", []string{"-after", "5", "-limit", "2"}, 0, []uint64{6, 7}, nil, []string{"more may follow (-after 7)"}},
		{"a row", []string{"-after", "3", "-limit", "1"}, 0, []uint64{4}, []string{"\n4    2026-11-01T08:03:00Z  operator:amina  kisumu-post  case_submitted  +254712345678  4821773057  -\n"}, nil},
		{"a detail that forges a line", []string{"-action", "service_started"}, 0, []uint64{6}, []string{`  "birth_certificate\n7\t2026-11-02T09:00:00Z\tadmin"` + "\n"}, nil},
		{"nothing matches", []string{"-actor", "operator:nobody"}, 0, nil, []string{"No audit entries match.\n"}, nil},
		{"a bad -since", []string{"-since", "yesterday"}, 2, nil, nil, []string{`channels audit: -since: "yesterday" is neither a date (2026-11-01) nor an RFC 3339 time`}},
		{"a bad -format", []string{"-format", "xml"}, 2, nil, nil, []string{`-format "xml": want one of text, json`}},
		{"-limit over the most", []string{"-limit", "5000"}, 1, nil, nil, []string{"channels audit: limit 5000: list 1 to 1000 entries at a time (page on with -after)"}},
		{"-until before -since", []string{"-since", "2026-11-02", "-until", "2026-11-01T00:00:00Z"}, 1, nil, nil, []string{"until (2026-11-01T00:00:00Z) must be after since (2026-11-02T00:00:00Z)"}},
		{"-verify with a filter", []string{"-verify", "-actor", "admin"}, 2, nil, nil, []string{"-verify checks the whole log and takes no -actor"}},
	}
	for _, way := range auditWays {
		t.Run(way.name, func(t *testing.T) {
			t.Setenv(envAdminSocket, "")
			data, seeded := seededFile(t)
			readBack := way.open(t, data)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, out, errOut := runCmd(t, "", append([]string{"audit", "-data", data}, tt.args...)...)
					if code != tt.code {
						t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, errOut)
					}
					if tt.seqs != nil {
						if got := listedSeqs(t, out); !slices.Equal(got, tt.seqs) {
							t.Errorf("listed %v, want %v\n%s", got, tt.seqs, out)
						}
					}
					for _, w := range tt.stdout {
						if !strings.Contains(out, w) {
							t.Errorf("stdout lacks %q:\n%s", w, out)
						}
					}
					for _, w := range tt.stderr {
						if !strings.Contains(errOut, w) {
							t.Errorf("stderr lacks %q:\n%s", w, errOut)
						}
					}
				})
			}
			t.Run("json", func(t *testing.T) {
				code, out, errOut := runCmd(t, "", "audit", "-data", data, "-format", "json")
				var got []channels.AuditEntry
				if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
					t.Fatalf("%d %v\n%s\n%s", code, err, out, errOut)
				}
				if !reflect.DeepEqual(got, seeded) {
					t.Errorf("listed\n%+v\nstored\n%+v", got, seeded)
				}
				code, out, _ = runCmd(t, "", "audit", "-data", data, "-format", "json", "-actor", "operator:nobody")
				if code != 0 || strings.TrimSpace(out) != "[]" {
					t.Errorf("no entry as JSON: %d %q", code, out)
				}
			})
			readBack(func(db *bolt.DB) {
				if n, err := db.VerifyAudit(context.Background()); n != len(seeded) || err != nil {
					t.Errorf("after listing: VerifyAudit = %d, %v", n, err)
				}
			})
		})
	}
}

// auditKey is the key of the entry seq in the bbolt bucket "audit".
func auditKey(seq uint64) []byte { return byteorder.BigEndian.AppendUint64(nil, seq) }

// TestAuditVerify verifies an intact log, then one edited in the data file
// behind the store's back (with the store closed, as someone with the file
// could): the command exits 1 naming the entry touched.
func TestAuditVerify(t *testing.T) {
	edit := func(seq uint64, change func(e *channels.AuditEntry)) func(b *bbolt.Bucket) error {
		return func(b *bbolt.Bucket) error {
			var e channels.AuditEntry
			if err := json.Unmarshal(b.Get(auditKey(seq)), &e); err != nil {
				return err
			}
			change(&e)
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			return b.Put(auditKey(seq), v)
		}
	}
	tests := []struct {
		name   string
		tamper func(b *bbolt.Bucket) error
		code   int
		stdout string
		stderr string
	}{
		{"intact", nil, 0, "audit log intact: 7 entries\n", ""},
		{"a citizen changed", edit(2, func(e *channels.AuditEntry) { e.Citizen = "+254700000000" }), 1, "", "channels audit -verify: the audit log is not intact: audit entry 2 was altered, or one before it (entries checked: 1)\n"},
		{"the admin's entry rewritten", edit(7, func(e *channels.AuditEntry) { e.Detail = "added nobody" }), 1, "", "audit entry 7 was altered"},
		{"an entry removed", func(b *bbolt.Bucket) error { return b.Delete(auditKey(4)) }, 1, "", "audit entry 4 is missing or out of place"},
		{"the last entry removed", func(b *bbolt.Bucket) error { return b.Delete(auditKey(7)) }, 1, "", "audit entries after 6 were removed"},
	}
	for _, way := range auditWays {
		for _, tt := range tests {
			t.Run(way.name+"/"+tt.name, func(t *testing.T) {
				t.Setenv(envAdminSocket, "")
				data, _ := seededFile(t)
				if tt.tamper != nil {
					raw, err := bbolt.Open(data, 0o600, nil)
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
				way.open(t, data)
				code, out, errOut := runCmd(t, "", "audit", "-verify", "-data", data)
				if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.stderr) {
					t.Errorf("exit %d, want %d\nstdout %q, want %q\nstderr %q, want it to hold %q", code, tt.code, out, tt.stdout, errOut, tt.stderr)
				}
			})
		}
	}
	t.Run("no data file", func(t *testing.T) {
		t.Setenv(envAdminSocket, "")
		data := filepath.Join(t.TempDir(), "typo.db")
		code, out, errOut := runCmd(t, "", "audit", "-verify", "-data", data)
		if code != 1 || out != "" || !strings.Contains(errOut, "channels audit: no data file "+data) {
			t.Errorf("%d %q %q", code, out, errOut)
		}
	})
}

// TestAuditAppendOnly tries to change and remove entries through the
// command and the admin socket: the command has no argument or flag that
// could, and the socket refuses every request but reading and verifying;
// the log reads back as it was and still verifies.
func TestAuditAppendOnly(t *testing.T) {
	t.Run("flags", func(t *testing.T) {
		code, out, _ := runCmd(t, "", "audit", "-h")
		var flags []string
		for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(out, -1) {
			flags = append(flags, m[1])
		}
		want := []string{"action", "actor", "admin-socket", "after", "citizen", "data", "database-url", "format", "limit", "since", "until", "verify"}
		if code != 0 || !slices.Equal(flags, want) {
			t.Errorf("channels audit has flags %v, want only the read-only %v", flags, want)
		}
	})
	attempts := []struct {
		name string
		args []string
		why  string
	}{
		{"delete an entry", []string{"delete", "3"}, `unexpected argument "delete"`},
		{"edit an entry", []string{"edit", "3", "-detail", "nothing happened"}, `unexpected argument "edit"`},
		{"remove after filtering", []string{"-actor", "operator:amina", "rm"}, `unexpected argument "rm"`},
		{"a -delete flag", []string{"-delete", "3"}, "flag provided but not defined: -delete"},
		{"an -edit flag", []string{"-edit", "3"}, "flag provided but not defined: -edit"},
		{"a -truncate flag", []string{"-truncate"}, "flag provided but not defined: -truncate"},
		{"a -purge flag", []string{"-purge", "-until", "2026-11-02"}, "flag provided but not defined: -purge"},
	}
	for _, way := range auditWays {
		t.Run(way.name, func(t *testing.T) {
			t.Setenv(envAdminSocket, "")
			data, seeded := seededFile(t)
			readBack := way.open(t, data)
			for _, tt := range attempts {
				t.Run(tt.name, func(t *testing.T) {
					code, _, errOut := runCmd(t, "", append([]string{"audit", "-data", data}, tt.args...)...)
					if code != 2 || !strings.Contains(errOut, tt.why) || !strings.Contains(errOut, "usage: channels audit") {
						t.Errorf("exit %d, want 2 with %q and the usage:\n%s", code, tt.why, errOut)
					}
				})
			}
			if way.name == "socket" {
				raw := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", admin.SocketPath(data))
				}}}
				forged, err := json.Marshal(channels.AuditEntry{Seq: 3, At: auditDay, Actor: "operator:mallory", Action: channels.AuditSignIn, Hash: seeded[2].Hash})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range []struct {
					method, path string
					status       int
				}{
					{"POST", "/v1/audit", 405}, {"PUT", "/v1/audit", 405}, {"DELETE", "/v1/audit", 405}, {"PATCH", "/v1/audit", 405},
					{"PUT", "/v1/audit/3", 404}, {"DELETE", "/v1/audit/3", 404}, {"PATCH", "/v1/audit/3", 404}, {"POST", "/v1/audit/3/delete", 404},
					{"POST", "/v1/audit/verify", 405}, {"DELETE", "/v1/audit/verify", 405},
				} {
					t.Run(r.method+" "+r.path, func(t *testing.T) {
						req, err := http.NewRequest(r.method, "http://admin"+r.path, strings.NewReader(string(forged)))
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
						if resp.StatusCode != r.status {
							t.Errorf("%d %s, want %d", resp.StatusCode, body, r.status)
						}
					})
				}
			}
			code, out, errOut := runCmd(t, "", "audit", "-data", data, "-format", "json")
			var got []channels.AuditEntry
			if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
				t.Fatalf("read back: %d %v %s", code, err, errOut)
			}
			if !reflect.DeepEqual(got, seeded) {
				t.Errorf("the log changed:\n%+v\nwas\n%+v", got, seeded)
			}
			if code, out, errOut := runCmd(t, "", "audit", "-data", data, "-verify"); code != 0 || out != "audit log intact: 7 entries\n" {
				t.Errorf("-verify after the attempts: %d %s %s", code, out, errOut)
			}
			readBack(func(db *bolt.DB) {
				if n, err := db.VerifyAudit(context.Background()); n != len(seeded) || err != nil {
					t.Errorf("VerifyAudit on the store = %d, %v", n, err)
				}
			})
		})
	}
}

package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/admin"
	"github.com/govchannels/channels/password"
	"github.com/govchannels/channels/store/bolt"
)

// auditLog returns every entry of the log behind db.
func auditLog(t *testing.T, db *bolt.DB) []channels.AuditEntry {
	t.Helper()
	entries, err := db.AuditEntries(context.Background(), channels.AuditQuery{Limit: admin.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// wantAudited checks that the log gained exactly one entry since it held
// before entries: by the admin, at at, saying detail.
func wantAudited(t *testing.T, db *bolt.DB, before int, at time.Time, detail string) {
	t.Helper()
	log := auditLog(t, db)
	if len(log) != before+1 {
		t.Fatalf("the audit log went from %d to %d entries, want one more: %+v", before, len(log), log)
	}
	e := log[before]
	if e.Actor != "admin" || e.Action != channels.AuditOperatorChanged || e.Detail != detail || !e.At.Equal(at) || e.Citizen != "" {
		t.Errorf("audit entry %+v, want admin %s %q at %s", e, channels.AuditOperatorChanged, detail, at)
	}
}

// checks reports whether pw is the password of the stored hash.
func checks(t *testing.T, hash, pw string) bool {
	t.Helper()
	ok, err := password.Check(hash, pw)
	if err != nil {
		t.Fatalf("stored hash %q: %v", hash, err)
	}
	return ok
}

func TestAddOperator(t *testing.T) {
	tests := []struct {
		name, id, opName, kiosk, region, lang string
		code, why                             string // of the refusal; "" when it is accepted
	}{
		{"everything", "amina", "Amina Otieno", "kisumu-post", "Kisumu", "sw", "", ""},
		{"no language", "baraka", "Baraka", "eldoret-centre", "Uasin Gishu", "", "", ""},
		{"dots, dashes and underscores", "j.w_k-1", "J. W. Kamau", "nyeri", "Nyeri", "en", "", ""},
		{"trimmed", "wanjiru", "  Wanjiru  ", " thika ", " Kiambu ", " fr ", "", ""},
		{"2 characters", "ab", "A B", "k", "r", "", "", ""},
		{"32 characters", strings.Repeat("a", 32), "Long", "k", "r", "", "", ""},
		{"a language tag with a region", "tag", "Tag", "k", "r", "pt-BR", "", ""},
		{"capitals", "Amina", "Amina", "k", "r", "", channels.EINVALID, `operator id "Amina" must be 2 to 32`},
		{"a space", "amina o", "Amina", "k", "r", "", channels.EINVALID, "must be 2 to 32"},
		{"an at sign", "amina@post", "Amina", "k", "r", "", channels.EINVALID, "must be 2 to 32"},
		{"one character", "a", "A", "k", "r", "", channels.EINVALID, "must be 2 to 32"},
		{"33 characters", strings.Repeat("a", 33), "Long", "k", "r", "", channels.EINVALID, "must be 2 to 32"},
		{"empty id", "", "Nobody", "k", "r", "", channels.EINVALID, "must be 2 to 32"},
		{"dots only", "..", "Dots", "k", "r", "", channels.EINVALID, "starting with a letter or digit"},
		{"a leading dash", "-amina", "Amina", "k", "r", "", channels.EINVALID, "starting with a letter or digit"},
		{"no name", "nameless", " ", "k", "r", "", channels.EINVALID, "operator name must be 1 to 200"},
		{"a name on two lines", "twolines", "Amina\nOtieno", "k", "r", "", channels.EINVALID, "operator name"},
		{"no kiosk", "nokiosk", "Amina", "", "r", "", channels.EINVALID, "kiosk must be 1 to 100"},
		{"a kiosk too long", "longkiosk", "Amina", strings.Repeat("k", 101), "r", "", channels.EINVALID, "kiosk must be 1 to 100"},
		{"no region", "noregion", "Amina", "k", "  ", "", channels.EINVALID, "region must be 1 to 100"},
		{"a language that is no tag", "badlang", "Amina", "k", "r", "s w", channels.EINVALID, `language "s w" is not a language tag`},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := len(auditLog(t, s.db))
					out, err := s.ops.AddOperator(ctx, tt.id, tt.opName, tt.kiosk, tt.region, tt.lang)
					if tt.code != "" {
						wantError(t, err, tt.code, tt.why)
						if _, err := s.db.Operator(ctx, tt.id); channels.ErrorCode(err) != channels.ENOTFOUND {
							t.Errorf("a refused operator was stored: %v", err)
						}
						if n := len(auditLog(t, s.db)); n != before {
							t.Errorf("a refused operator was audited: %d entries, want %d", n, before)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					stored, err := s.db.Operator(ctx, tt.id)
					if err != nil {
						t.Fatal(err)
					}
					want := channels.Operator{
						ID: tt.id, Name: strings.TrimSpace(tt.opName), Kiosk: strings.TrimSpace(tt.kiosk), Region: strings.TrimSpace(tt.region), Lang: strings.TrimSpace(tt.lang),
						PasswordHash: stored.PasswordHash, PasswordSetAt: start, CreatedAt: start,
					}
					if stored.ID != want.ID || stored.Name != want.Name || stored.Kiosk != want.Kiosk || stored.Region != want.Region || stored.Lang != want.Lang ||
						!stored.PasswordSetAt.Equal(start) || !stored.CreatedAt.Equal(start) || stored.Disabled || stored.FailedSignIns != 0 || !stored.LockedUntil.IsZero() {
						t.Errorf("stored %+v, want %+v", stored, want)
					}
					if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$") || strings.Contains(stored.PasswordHash, out.Password) {
						t.Errorf("stored hash %q is not an argon2id hash of the password", stored.PasswordHash)
					}
					if len(out.Password) != 16 || !checks(t, stored.PasswordHash, out.Password) || checks(t, stored.PasswordHash, out.Password+"x") {
						t.Errorf("the password %q does not check against the stored hash (or another does)", out.Password)
					}
					if out.Operator.ID != tt.id || out.Operator.Name != want.Name || out.Operator.Kiosk != want.Kiosk || !out.Operator.PasswordSetAt.Equal(start) {
						t.Errorf("returned %+v", out.Operator)
					}
					wantAudited(t, s.db, before, start, "added "+tt.id+" ("+want.Kiosk+")")
				})
			}
			t.Run("twice", func(t *testing.T) {
				first, err := s.db.Operator(ctx, "amina")
				if err != nil {
					t.Fatal(err)
				}
				before := len(auditLog(t, s.db))
				_, err = s.ops.AddOperator(ctx, "amina", "Another Amina", "k", "r", "")
				wantError(t, err, channels.ECONFLICT, "operator amina exists already")
				if o, _ := s.db.Operator(ctx, "amina"); o == nil || o.Name != "Amina Otieno" || o.PasswordHash != first.PasswordHash {
					t.Errorf("the operator was replaced: %+v", o)
				}
				if n := len(auditLog(t, s.db)); n != before {
					t.Errorf("a refused operator was audited: %d entries, want %d", n, before)
				}
			})
			t.Run("passwords differ", func(t *testing.T) {
				a, errA := s.ops.AddOperator(ctx, "twin-a", "Twin", "k", "r", "")
				b, errB := s.ops.AddOperator(ctx, "twin-b", "Twin", "k", "r", "")
				if errA != nil || errB != nil || a.Password == b.Password {
					t.Errorf("two operators got %q and %q (%v, %v)", a.Password, b.Password, errA, errB)
				}
			})
		})
	}
}

// TestOperatorLifecycle disables, enables (clearing a lockout) and resets
// an operator, step by step, each change audited once and each refusal
// neither stored nor audited.
func TestOperatorLifecycle(t *testing.T) {
	type step struct {
		name    string
		lockout bool // lock the account out first, as wrong passwords at the console do
		do      func(ctx context.Context, ops admin.Operations) (pw string, err error)
		code    string // of the refusal, whose detail says why; "" when it is done
		why     string
		detail  string // of the audit entry the change adds
		check   func(t *testing.T, before, after *channels.Operator, pw string)
	}
	disable := func(id string) func(context.Context, admin.Operations) (string, error) {
		return func(ctx context.Context, ops admin.Operations) (string, error) {
			o, err := ops.DisableOperator(ctx, id)
			if err == nil && (!o.Disabled || o.ID != id) {
				return "", fmt.Errorf("DisableOperator returned %+v", o)
			}
			return "", err
		}
	}
	enable := func(id string) func(context.Context, admin.Operations) (string, error) {
		return func(ctx context.Context, ops admin.Operations) (string, error) {
			o, err := ops.EnableOperator(ctx, id)
			if err == nil && (o.Disabled || o.FailedSignIns != 0 || !o.LockedUntil.IsZero()) {
				return "", fmt.Errorf("EnableOperator returned %+v", o)
			}
			return "", err
		}
	}
	reset := func(id string) func(context.Context, admin.Operations) (string, error) {
		return func(ctx context.Context, ops admin.Operations) (string, error) {
			out, err := ops.ResetPassword(ctx, id)
			if err != nil {
				return "", err
			}
			return out.Password, nil
		}
	}
	steps := []step{
		{name: "disable", do: disable("amina"), detail: "disabled amina", check: func(t *testing.T, _, after *channels.Operator, _ string) {
			if !after.Disabled {
				t.Error("not disabled")
			}
		}},
		{name: "disable again", do: disable("amina"), code: channels.ECONFLICT, why: "operator amina is disabled already"},
		{name: "enable", do: enable("amina"), detail: "enabled amina", check: func(t *testing.T, _, after *channels.Operator, _ string) {
			if after.Disabled {
				t.Error("still disabled")
			}
		}},
		{name: "enable again", do: enable("amina"), code: channels.ECONFLICT, why: "operator amina is enabled already and not locked out"},
		// The fifth step: the clock is 5 hours on, the lockout 15 minutes.
		{name: "enable clears a lockout", lockout: true, do: enable("amina"), detail: "enabled amina (lockout until 2026-03-02T14:15:00Z cleared)", check: func(t *testing.T, _, after *channels.Operator, _ string) {
			if after.FailedSignIns != 0 || !after.LockedUntil.IsZero() || after.Disabled {
				t.Errorf("the lockout is left: %+v", after)
			}
		}},
		{name: "reset the password", lockout: true, do: reset("amina"), detail: "reset the password of amina", check: func(t *testing.T, before, after *channels.Operator, pw string) {
			if !checks(t, after.PasswordHash, pw) || after.PasswordHash == before.PasswordHash {
				t.Error("the new password does not check against the stored hash")
			}
			if !after.PasswordSetAt.After(before.PasswordSetAt) || after.FailedSignIns != 0 || !after.LockedUntil.IsZero() {
				t.Errorf("after a reset: set at %s (was %s), %d failures, locked until %s", after.PasswordSetAt, before.PasswordSetAt, after.FailedSignIns, after.LockedUntil)
			}
		}},
		{name: "disable an unknown operator", do: disable("nobody"), code: channels.ENOTFOUND, why: `no operator "nobody"`},
		{name: "enable an unknown operator", do: enable("nobody"), code: channels.ENOTFOUND, why: `no operator "nobody"`},
		{name: "reset an unknown operator", do: reset("nobody"), code: channels.ENOTFOUND, why: `no operator "nobody"`},
		{name: "an ID no operator can have", do: disable(".."), code: channels.ENOTFOUND, why: `no operator ".."`},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			added, err := s.ops.AddOperator(ctx, "amina", "Amina Otieno", "kisumu-post", "Kisumu", "sw")
			if err != nil {
				t.Fatal(err)
			}
			passwords := []string{added.Password}
			for _, st := range steps {
				t.Run(st.name, func(t *testing.T) {
					s.clock.Add(time.Hour)
					if st.lockout {
						if _, err := s.db.UpdateOperator(ctx, "amina", func(o *channels.Operator) error {
							o.FailedSignIns, o.LockedUntil = 5, s.clock.Now().Add(15*time.Minute)
							return nil
						}); err != nil {
							t.Fatal(err)
						}
					}
					before, err := s.db.Operator(ctx, "amina")
					if err != nil {
						t.Fatal(err)
					}
					entries := len(auditLog(t, s.db))
					pw, err := st.do(ctx, s.ops)
					after, aerr := s.db.Operator(ctx, "amina")
					if aerr != nil {
						t.Fatal(aerr)
					}
					if st.code != "" {
						wantError(t, err, st.code, st.why)
						if n := len(auditLog(t, s.db)); n != entries {
							t.Errorf("a refusal was audited: %d entries, want %d", n, entries)
						}
						if *after != *before {
							t.Errorf("a refusal changed the operator: %+v, was %+v", after, before)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					st.check(t, before, after, pw)
					wantAudited(t, s.db, entries, s.clock.Now(), st.detail)
					if pw != "" {
						for _, old := range passwords {
							if old == pw || checks(t, after.PasswordHash, old) {
								t.Errorf("an old password %q still checks", old)
							}
						}
						passwords = append(passwords, pw)
					} else if after.PasswordHash != before.PasswordHash || !after.PasswordSetAt.Equal(before.PasswordSetAt) {
						t.Error("the password changed without a reset")
					}
				})
			}
		})
	}
}

// TestListOperators lists operators by ID with their state, never a hash
// or a password, and the socket's log shows none either.
func TestListOperators(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := way.open(t)
			ctx := context.Background()
			if list, err := s.ops.ListOperators(ctx); err != nil || len(list) != 0 {
				t.Fatalf("empty store: %v %v", list, err)
			}
			baraka, err := s.ops.AddOperator(ctx, "baraka", "Baraka", "eldoret-centre", "Uasin Gishu", "")
			if err != nil {
				t.Fatal(err)
			}
			s.clock.Add(time.Minute)
			amina, err := s.ops.AddOperator(ctx, "amina", "Amina Otieno", "kisumu-post", "Kisumu", "sw")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ops.DisableOperator(ctx, "baraka"); err != nil {
				t.Fatal(err)
			}
			reset, err := s.ops.ResetPassword(ctx, "amina")
			if err != nil {
				t.Fatal(err)
			}
			list, err := s.ops.ListOperators(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range list {
				got = append(got, strings.Join([]string{o.ID, o.Name, o.Kiosk, o.Region, o.Lang, map[bool]string{true: "disabled", false: "active"}[o.Disabled], o.CreatedAt.Format(time.RFC3339)}, "|"))
			}
			want := []string{
				"amina|Amina Otieno|kisumu-post|Kisumu|sw|active|2026-03-02T09:01:00Z",
				"baraka|Baraka|eldoret-centre|Uasin Gishu||disabled|2026-03-02T09:00:00Z",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			data, err := json.Marshal(list)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"hash", "argon2", "password\"", baraka.Password, amina.Password, reset.Password} {
				if strings.Contains(string(data), secret) || strings.Contains(s.logs.String(), secret) {
					t.Errorf("the list or the log shows %q:\n%s\n%s", secret, data, s.logs.String())
				}
			}
		})
	}
}

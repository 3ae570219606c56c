package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/peertest"
)

// TestDiskFull fills the disk under a store, on a small tmpfs mounted for
// the test, to see what bbolt does when a write fails for want of space:
// the write's error is Unavailable and names the file and the cause, the
// transaction is rolled back whole (what was stored before reads back, and
// both files pass bbolt's check), reads go on, and once space is freed
// writes succeed again in the same open store. The disk is
// peertest.SmallDisk's tmpfs.
func TestDiskFull(t *testing.T) {
	disk := peertest.SmallDisk(t, "1m")
	path := filepath.Join(disk, "channels.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	newCase := func(i int) *channels.Case {
		return &channels.Case{Ref: fmt.Sprintf("%010d", 1000000000+i), Service: "report_problem", Phone: "+254712345678",
			Status: channels.StatusSubmitted, IdempotencyKey: fmt.Sprint("k", i), CreatedAt: at,
			Answers: []channels.Answer{{Field: "description", Value: strings.Repeat("x", 500)}}}
	}
	newSession := func(i int) *channels.Session {
		return &channels.Session{ID: fmt.Sprint("ussd/", i), Phone: "+254712345678", State: make([]byte, 400), ExpiresAt: at.Add(time.Hour)}
	}
	if _, err := db.CreateCase(ctx, newCase(0)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSession(ctx, newSession(0)); err != nil {
		t.Fatal(err)
	}

	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for chunk := make([]byte, 4096); ; {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	for _, tc := range []struct {
		name, file string
		write      func(i int) error
	}{
		{"cases", path, func(i int) error { _, err := db.CreateCase(ctx, newCase(i)); return err }},
		{"sessions", path + "-sessions", func(i int) error { return db.PutSession(ctx, newSession(i)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failed error
			n := 1
			for ; n < 5000 && failed == nil; n++ {
				failed = tc.write(n)
			}
			switch {
			case failed == nil:
				t.Fatalf("%d writes on a full disk all succeeded", n)
			case !Unavailable(failed):
				t.Errorf("the error of a write on a full disk is not Unavailable: %v", failed)
			case !errors.Is(failed, syscall.ENOSPC) || !strings.Contains(failed.Error(), tc.file):
				t.Errorf("the error does not name the file %s and the full disk: %v", tc.file, failed)
			}
			t.Logf("write %d failed: %v", n-1, failed)
			if tc.name == "cases" {
				if _, err := db.Case(ctx, newCase(n-1).Ref); channels.ErrorCode(err) != channels.ENOTFOUND {
					t.Errorf("the case whose write failed: %v, want not found", err)
				}
			}
		})
	}
	if _, err := db.Case(ctx, newCase(0).Ref); err != nil {
		t.Errorf("a case stored before the disk filled up: %v", err)
	}
	if _, err := db.Session(ctx, "ussd/0", at); err != nil {
		t.Errorf("a session stored before the disk filled up: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCase(ctx, newCase(9999)); err != nil {
		t.Errorf("a case once space is freed: %v", err)
	}
	if err := db.PutSession(ctx, newSession(9999)); err != nil {
		t.Errorf("a session once space is freed: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-sessions"} {
		b, err := bbolt.Open(p, 0o600, &bbolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		b.View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				t.Errorf("%s: %v", p, err)
			}
			return nil
		})
		b.Close()
	}
}

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"disk full", fmt.Errorf("bolt: put sessions: %w", &os.PathError{Op: "write", Path: "/d/channels.db-sessions", Err: syscall.ENOSPC}), true},
		{"quota spent", &os.PathError{Op: "write", Path: "/d/channels.db", Err: syscall.EDQUOT}, true},
		{"read-only file system", &os.PathError{Op: "write", Path: "/d/channels.db", Err: syscall.EROFS}, true},
		{"growing the file failed", errors.New("file resize error: truncate /d/channels.db: no space left on device"), true},
		{"the file is not mapped", fmt.Errorf("bolt: case: %w", bolterrors.ErrInvalidMapping), true},
		{"not found", notFound("case 1"), false},
		{"another error", errors.New("unreadable session record"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unavailable(tc.err); got != tc.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

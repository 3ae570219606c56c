package main

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/govchannels/channels/peertest"
)

var (
	loadPhones  = regexp.MustCompile(`phones: the server saw (\d+) USSD dials from (\d+) distinct phones`)
	loadPrefill = regexp.MustCompile(`prefill: (\d+) cases in .*; the store holds (\d+) cases; .*\(\+[0-9.]+ MiB, (\d+) B a case\)`)
	loadStored  = regexp.MustCompile(`store: (\d+) cases before the warm-up, (\d+) after the rounds \((\d+) made\); .* B a case`)
	loadPurge   = regexp.MustCompile(`purge: \d+ expired session records removed`)
)

// TestLoad runs `channels load` small, on bbolt and on PostgreSQL, with
// a pre-fill and a burst: every dial the server saw came from a phone of
// its own, the pre-filled cases are in the store and their bytes are
// reported, and every measured session made its case. A path that makes
// no case is walked and checked as one; a path naming no service is
// refused. The database the harness made on PostgreSQL is dropped after.
func TestLoad(t *testing.T) {
	pg := peertest.StartPostgres(t)
	const warm, burst, dials, prefill = 4, 20, 8, 50
	tests := []struct {
		name     string
		args     []string
		cases    int // cases each measured session makes
		two      bool
		wantFail string
	}{
		{"bbolt", nil, 1, false, ""},
		{"postgres", []string{"-database-url", pg.URL()}, 1, false, ""},
		{"postgres, hops alternating between two instances", []string{"-database-url", pg.URL(), "-instances", "2"}, 1, true, ""},
		{"bbolt, a path without a case", []string{"-path", "check_status:2"}, 0, false, ""},
		{"a service not in the catalog", []string{"-path", "no_such_service:1"}, 0, false, `no service "no_such_service"`},
		{"two instances on one bbolt file", []string{"-instances", "2"}, 0, false, "-instances is 1, or 2 with -database-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"load", "-sessions", "4", "-dials", strconv.Itoa(dials), "-rounds", "1", "-warmup", strconv.Itoa(warm),
				"-prefill", strconv.Itoa(prefill), "-burst", strconv.Itoa(burst)}, tt.args...)
			out, err := exec.Command(binary, args...).CombinedOutput()
			if tt.wantFail != "" {
				if err == nil || !strings.Contains(string(out), tt.wantFail) {
					t.Errorf("load %v: %v, want a failure saying %q:\n%s", tt.args, err, tt.wantFail, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("load %v: %v\n%s", tt.args, err, out)
			}
			// With two instances, the warm-up and the rounds also run
			// their sessions alternating between the two.
			sessions := warm + burst + dials
			if tt.two {
				sessions += warm + dials
				if !strings.Contains(string(out), "ussd-two/ussd: hops/s") {
					t.Errorf("no ratio of two instances to one:\n%s", out)
				}
			}
			m := loadPhones.FindStringSubmatch(string(out))
			if want := strconv.Itoa(sessions); m == nil || m[1] != want || m[2] != want {
				t.Errorf("want %s dials from as many phones:\n%s", want, out)
			}
			m = loadPrefill.FindStringSubmatch(string(out))
			if m == nil {
				t.Fatalf("no pre-fill line with bytes a case:\n%s", out)
			}
			// The probe made a case (or, for a path without one, the
			// default path did), the pre-fill the others.
			if held, _ := strconv.Atoi(m[2]); m[1] != strconv.Itoa(prefill) || held != prefill+1 {
				t.Errorf("pre-fill of %s cases left %s in the store, want %d", m[1], m[2], prefill+1)
			}
			if per, _ := strconv.Atoi(m[3]); per < 100 {
				t.Errorf("pre-fill reports %d B a case", per)
			}
			m = loadStored.FindStringSubmatch(string(out))
			if want := strconv.Itoa(tt.cases * sessions); m == nil || m[1] != strconv.Itoa(prefill+1) || m[3] != want {
				t.Errorf("want %d cases before the warm-up and %s made:\n%s", prefill+1, want, out)
			}
			if !loadPurge.MatchString(string(out)) {
				t.Errorf("no purge line after the burst:\n%s", out)
			}
		})
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE 'channels_load_%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d databases of the harness left on the server (%v)", left, err)
	}
}

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/govchannels/channels/peertest"
)

// TestServePostgres runs the binary on PostgreSQL: a case made by USSD is
// in the database, an agency made with `channels agency` directly on the database finds the
// case, and after a restart the citizen still sees it.
func TestServePostgres(t *testing.T) {
	pg := peertest.StartPostgres(t)
	db := pg.Database(t)
	dir := t.TempDir()
	p := startServe(t, filepath.Join(dir, "a.db"), "-database-url", db)
	if !strings.Contains(p.banner, "data PostgreSQL") || strings.Contains(p.banner, filepath.Join(dir, "a.db")) {
		t.Errorf("the banner does not say the data is in PostgreSQL: %s", p.banner)
	}
	const citizen = "+254712345678"
	for _, hop := range []string{"", "3", "3*1", "3*1*Kisumu, near the bus park", "3*1*Kisumu, near the bus park*Broken water pipe"} {
		p.ussd(t, "s1", citizen, hop)
	}
	ref := reference.FindString(p.ussd(t, "s1", citizen, "3*1*Kisumu, near the bus park*Broken water pipe*1"))
	if ref == "" {
		t.Fatal("no reference")
	}

	// No server answers on c.db's socket: the command works on the
	// database itself.
	out, err := exec.Command(binary, "agency", "add", "-data", filepath.Join(dir, "c.db"), "-database-url", db, "county_works", "County Works").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "on the database") {
		t.Fatalf("agency add on the database: %v\n%s", err, out)
	}
	m := printedKey.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no key printed:\n%s", out)
	}
	if st := p.agencyAPI(t, "GET", "/v1/agency/cases/"+ref, string(m[2]), "", nil); st != 200 {
		t.Errorf("the agency reading the case: %d", st)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	again := startServe(t, filepath.Join(dir, "d.db"), "-database-url", db)
	again.ussd(t, "s2", citizen, "")
	again.ussd(t, "s2", citizen, "2")
	if mine := again.ussd(t, "s2", citizen, "2*2"); !strings.Contains(mine, ref) {
		t.Errorf("after a restart the citizen's cases are %q, want %s among them", mine, ref)
	}
}

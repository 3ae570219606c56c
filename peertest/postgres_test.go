package peertest_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/govchannels/channels/peertest"
)

// TestPostgres checks that the cluster serves databases that are new,
// empty and apart from each other, in UTF-8 whatever the machine's locale.
func TestPostgres(t *testing.T) {
	pg := peertest.StartPostgres(t)
	ctx := context.Background()
	exec := func(url, sql string) []*pgconn.Result {
		t.Helper()
		conn, err := pgconn.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		res, err := conn.Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return res
	}
	a, b := pg.Database(t), pg.Database(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	exec(a, "CREATE TABLE t (s text); INSERT INTO t VALUES ('Zoë €')")
	if res := exec(a, "SELECT s FROM t"); len(res) != 1 || len(res[0].Rows) != 1 || string(res[0].Rows[0][0]) != "Zoë €" {
		t.Errorf("read back %+v", res)
	}
	if res := exec(b, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); string(res[0].Rows[0][0]) != "0" {
		t.Errorf("a table made in %s shows in %s", a, b)
	}
	if res := exec(b, "SHOW server_encoding"); string(res[0].Rows[0][0]) != "UTF8" {
		t.Errorf("server encoding %s, want UTF8", res[0].Rows[0][0])
	}
}

// TestPostgresRestart stops the cluster's server in each way Stop offers
// and starts it again: it comes back on the same URL with what was
// committed before.
func TestPostgresRestart(t *testing.T) {
	pg := peertest.StartPostgres(t)
	db := pg.Database(t)
	ctx := context.Background()
	exec := func(sql string) ([]*pgconn.Result, error) {
		conn, err := pgconn.Connect(ctx, db)
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		return conn.Exec(ctx, sql).ReadAll()
	}
	// Commits are synchronous in this database, so even a crash keeps them.
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec("ALTER DATABASE " + strings.TrimPrefix(u.Path, "/") + " SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	if _, err := exec("CREATE TABLE t (n int)"); err != nil {
		t.Fatal(err)
	}
	for i, stop := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"fast shutdown", syscall.SIGINT},
		{"immediate shutdown", syscall.SIGQUIT},
		{"postmaster killed", syscall.SIGKILL},
	} {
		if _, err := exec(fmt.Sprintf("INSERT INTO t VALUES (%d)", i)); err != nil {
			t.Fatalf("%s: insert: %v", stop.name, err)
		}
		pg.Stop(t, stop.sig)
		if _, err := exec("SELECT 1"); err == nil {
			t.Fatalf("%s: the server answers after Stop", stop.name)
		}
		pg.Start(t)
		res, err := exec("SELECT count(*) FROM t")
		if err != nil {
			t.Fatalf("%s: after Start: %v", stop.name, err)
		}
		if got, want := string(res[0].Rows[0][0]), fmt.Sprint(i+1); got != want {
			t.Errorf("%s: %s rows after Start, want %s", stop.name, got, want)
		}
	}
}

// TestPostgresPause: a paused server answers nothing, not even a refusal,
// until it is resumed.
func TestPostgresPause(t *testing.T) {
	pg := peertest.StartPostgres(t)
	db := pg.Database(t)
	conn, err := pgconn.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	pg.Pause(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = conn.Exec(ctx, "SELECT 1").ReadAll()
	cancel()
	if !pgconn.Timeout(err) {
		t.Errorf("a query to a paused server: %v, want a timeout", err)
	}
	pg.Resume(t)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fresh, err := pgconn.Connect(ctx, db)
	if err != nil {
		t.Fatalf("connect once resumed: %v", err)
	}
	defer fresh.Close(ctx)
	if _, err := fresh.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
		t.Errorf("a query once resumed: %v", err)
	}
}

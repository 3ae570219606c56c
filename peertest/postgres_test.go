package peertest_test

import (
	"context"
	"testing"

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

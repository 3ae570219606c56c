package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/govchannels/channels"
)

// TestUnavailable checks which errors say the database cannot do the work
// now: a refused connection is made for real, on a port nothing listens on.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, refused := pgconn.Connect(ctx, "postgres://postgres@"+closed+"/x?sslmode=disable")
	if refused == nil {
		t.Fatal("a connection to a closed port succeeded")
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"connection refused", fmt.Errorf("postgres: session x: %w", refused), true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"server starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"disk full", &pgconn.PgError{Code: "53100"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"read-only standby", &pgconn.PgError{Code: "25006"}, true},
		{"a query cancelled", &pgconn.PgError{Code: "57014"}, false},
		{"a unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"a deadline passed", fmt.Errorf("postgres: case: %w", context.DeadlineExceeded), true},
		{"the caller gave up", fmt.Errorf("postgres: case: %w", context.Canceled), false},
		{"a connection closed", pgconn.ErrConnClosed, true},
		{"not found", notFound("case 1"), false},
		{"a refusal of ours", channels.Errorf(channels.ECONFLICT, "error.conflict", "taken"), false},
		{"another error", errors.New("case 1: history is append-only"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unavailable(tc.err); got != tc.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

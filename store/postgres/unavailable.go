package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err says that the database cannot do the
// work just now, rather than that the work was refused: the server is
// down, starting, shutting down or out of connections or disk, the
// connection was lost, or a deadline passed before it answered. Retrying
// later may succeed. The server uses it to answer citizens politely and
// to log an outage once, not once per request.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return unavailableCode(pe.Code)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// unavailableCode reports whether a server's SQLSTATE says it cannot do
// the work now (https://www.postgresql.org/docs/current/errcodes-appendix.html):
// connection exceptions (08), insufficient resources such as a full disk
// or too many connections (53), operator intervention such as a shutdown
// or a server still starting (57P01 to 57P05, not a cancel), system
// errors such as I/O (58), and a read-only server (25006), as a standby
// is while a failover is under way.
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "58"):
		return true
	case strings.HasPrefix(code, "57P"), code == "25006":
		return true
	}
	return false
}

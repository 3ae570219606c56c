package bolt

import (
	"errors"
	"strings"
	"syscall"

	bolterrors "go.etcd.io/bbolt/errors"
)

// Unavailable reports whether err says that a data file cannot be written
// or read just now, rather than that the work was refused: its disk is
// full (or its quota spent), read-only or failing, or bbolt lost its
// mapping of the file. Retrying once the cause is gone may succeed: a
// write that fails so is rolled back whole, and the file stays as it was
// before it (TestDiskFull). The server uses it to answer citizens
// politely and to log an outage once, not once per request.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EIO) ||
		errors.Is(err, bolterrors.ErrInvalidMapping) || errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return true
	}
	// bbolt keeps only the text of the cause when growing the file, or
	// mapping it again, fails.
	msg := err.Error()
	for _, s := range growErrors {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// growErrors are the texts bbolt gives a failure to grow or map the file.
var growErrors = []string{"file resize error", "file sync error", "mmap allocate error"}

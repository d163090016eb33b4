package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/twinway/twinway/twin"
)

// errClosed is the cause of the errors returned after Close.
var errClosed = errors.New("sqlitestore: store is closed")

// closedErr is what an operation on a closed store returns: it wraps
// twin.ErrUnavailable because another store (after a restart) may serve it.
func closedErr(op string) error {
	return fmt.Errorf("sqlitestore: %s: %w: %w", op, twin.ErrUnavailable, errClosed)
}

// wrapErr adds op to a driver error and, for failures that may pass (a lock
// held too long, I/O, a full disk), wraps twin.ErrUnavailable as well so the
// caller can answer "try again later".
func wrapErr(op string, err error) error {
	if isUnavailable(err) {
		return fmt.Errorf("sqlitestore: %s: %w: %w", op, twin.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

// isUnavailable reports whether err is a failure of the storage rather than
// of the request: retrying later may succeed.
func isUnavailable(err error) bool {
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, twin.ErrUnavailable) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, // "database is locked"
		sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_NOMEM,
		sqlite3.SQLITE_PROTOCOL,
		sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}

// isRequestError reports whether err, returned by one statement of a batch,
// concerns that request alone. SQLite undoes just the failed statement for
// these, so the other requests of the batch can still commit. Any other
// error aborts the whole transaction.
func isRequestError(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT,
		sqlite3.SQLITE_TOOBIG,
		sqlite3.SQLITE_MISMATCH,
		sqlite3.SQLITE_RANGE:
		return true
	}
	return false
}

// Package sqlitestore is the embedded twin.Store: one SQLite file,
// <Dir>/things.db, opened with the pure-Go driver modernc.org/sqlite, so the
// gateway needs neither cgo nor anything installed.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every commit fsyncs the
// write-ahead log before it returns. Put returns nil only after the commit
// that holds its record has returned, so an acknowledged Put survives kill -9
// of the process and a power loss.
//
// # Group commit
//
// An fsync costs far more than the writes it makes durable, so the store
// shares one fsync between many Puts. One writer goroutine owns the only
// write connection. Put hands it a request and waits for the answer; the
// writer takes every request that is waiting (up to Config.MaxBatch), runs
// them in one transaction, commits once, and answers each. Under load the
// batch grows by itself: requests that arrive during one commit form the
// next batch. A single Put pays one commit, as without batching.
//
// The revision condition is checked per request inside the transaction: a
// request whose prevRevision is stale gets twin.ErrRevisionConflict and the
// others in the batch still commit. If the transaction fails, every request
// of the batch gets an error wrapping twin.ErrUnavailable and none of them is
// stored; only when the final fsync itself fails is the outcome unknown, as
// after a crash, and a retry then meets a revision conflict.
//
// Put blocks (honouring its context) while Config.MaxBatch requests already
// wait for the writer: the queue is bounded, and a slow disk pushes back on
// the callers instead of growing memory.
//
// # Reads
//
// Get and GetMany use a separate pool of read-only connections. WAL lets
// readers see the last committed state while the writer holds its
// transaction, so reads never wait behind a commit.
//
// # Concurrency
//
// A Store is safe for concurrent use. Its goroutines: the writer, started by
// Open and stopped by Close after it has finished every request it accepted.
//
// # Schema
//
// One table, things, indexed by namespace and policy_id. The schema version
// is PRAGMA user_version; Open migrates an older file forward and refuses a
// file written by a newer version. Timestamps are unix nanoseconds (INTEGER,
// NULL for the zero time), so they cover the years 1678 to 2262 exactly and
// read back in UTC.
package sqlitestore

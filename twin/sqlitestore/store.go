package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/twinway/twinway/twin"
)

// FileName is the name of the database file inside Config.Dir.
const FileName = "things.db"

// Defaults for the zero values of Config.
const (
	DefaultMaxBatch    = 256
	DefaultReadConns   = 4
	DefaultBusyTimeout = 5 * time.Second
)

// getManyChunk bounds the ids bound into one GetMany query, well below
// SQLite's limit on host parameters.
const getManyChunk = 500

// Config configures a Store. The zero value of every field but Dir is a
// documented default.
type Config struct {
	// Dir is the data directory; the database is <Dir>/things.db. Open
	// creates Dir when it is missing. Required.
	Dir string
	// Logger receives commit failures (Error) and batch details (Debug).
	// Nil discards.
	Logger *slog.Logger
	// MaxBatch is the most Puts one group commit holds, and the number of
	// Puts that can wait for the writer before Put blocks. 0 means
	// DefaultMaxBatch. Here and in Observe, a PutPolicy counts as a Put:
	// both share the writer.
	MaxBatch int
	// ReadConns is the size of the read-only connection pool used by Get,
	// GetMany and GetPolicy. 0 means DefaultReadConns.
	ReadConns int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process (another gateway, a backup, the sqlite3 shell) before it fails
	// with an error wrapping twin.ErrUnavailable. 0 means
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// Observe, if not nil, is called after each committed group commit with
	// the number of Puts it answered (revision conflicts included) and the
	// time from BEGIN to the end of COMMIT (the fsync included). It runs on
	// the writer goroutine, so it must be quick; it is meant for metrics
	// such as metrics.Metrics.ObserveCommit.
	Observe func(batchSize int, commitDuration time.Duration)
}

// Store is the SQLite twin.Store. Create it with Open; it is safe for
// concurrent use.
type Store struct {
	log      *slog.Logger
	observe  func(int, time.Duration)
	maxBatch int

	// Write side, owned by the writer goroutine (see writer.go).
	writeDB    *sql.DB
	writeConn  *sql.Conn
	insertStmt *sql.Stmt // Put with prevRevision 0
	updateStmt *sql.Stmt // Put with prevRevision > 0
	// PutPolicy's, as insertStmt and updateStmt for the policies table.
	insertPolicyStmt, updatePolicyStmt *sql.Stmt
	// The transaction statements, prepared once: a group commit runs them
	// thousands of times a second.
	beginStmt, commitStmt, rollbackStmt *sql.Stmt
	reqs                                chan *request
	quit                                chan struct{} // closed by Close: accept no more Puts
	stopped                             chan struct{} // closed by the writer when it has exited

	// Read side.
	readDB        *sql.DB
	getStmt       *sql.Stmt
	getPolicyStmt *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var (
	_ twin.Store       = (*Store)(nil)
	_ twin.PolicyStore = (*Store)(nil)
)

// Open opens (creating it if needed) the database in cfg.Dir, brings its
// schema up to date and starts the writer goroutine. ctx bounds the opening
// only; Close stops the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("sqlitestore: Config.Dir is empty")
	}
	if cfg.MaxBatch < 0 || cfg.ReadConns < 0 || cfg.BusyTimeout < 0 {
		return nil, errors.New("sqlitestore: Config.MaxBatch, ReadConns and BusyTimeout must not be negative")
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.ReadConns == 0 {
		cfg.ReadConns = DefaultReadConns
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: create data directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(cfg.Dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: database path: %w", err)
	}

	s := &Store{
		log:      cfg.Logger.With("component", "sqlitestore", "path", path),
		observe:  cfg.Observe,
		maxBatch: cfg.MaxBatch,
		reqs:     make(chan *request, cfg.MaxBatch),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	if err := s.openWriter(ctx, path, cfg.BusyTimeout); err != nil {
		s.closeDBs()
		return nil, err
	}
	// The read pool opens after the writer: mode=ro cannot create the file
	// nor switch it to WAL.
	if err := s.openReaders(ctx, path, cfg.BusyTimeout, cfg.ReadConns); err != nil {
		s.closeDBs()
		return nil, err
	}
	go s.run()
	return s, nil
}

// dsn is the driver's name for the database at path: a file: URI, so that
// SQLite itself applies mode=ro, with the driver's own parameters.
func dsn(path string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), OmitHost: true, RawQuery: params.Encode()}
	return u.String()
}

func (s *Store) openWriter(ctx context.Context, path string, busy time.Duration) error {
	params := url.Values{}
	params.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", dsn(path, params))
	if err != nil {
		return fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	s.writeDB = db
	// One connection: only the writer goroutine writes, so transactions of
	// this process never contend with each other for SQLite's write lock.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	conn, err := db.Conn(ctx)
	if err != nil {
		return wrapErr("open "+path, err)
	}
	s.writeConn = conn

	// journal_mode=WAL is refused silently where the file system cannot
	// share memory; synchronous is per connection. Check both: durability
	// rests on them.
	var mode string
	if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return wrapErr("read journal mode", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlitestore: journal mode is %q, want wal", mode)
	}
	var sync int
	if err := conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		return wrapErr("read synchronous", err)
	}
	if sync < 2 { // 2 is FULL, 3 EXTRA
		return fmt.Errorf("sqlitestore: synchronous is %d, want 2 (FULL)", sync)
	}

	if err := migrate(ctx, conn); err != nil {
		return err
	}

	// Both statements make the revision check and the write one statement:
	// changes() is 0 when the stored revision is not prevRevision.
	const cols = `namespace = ?2, policy_id = ?3, revision = ?4, created = ?5, modified = ?6, deleted = ?7, doc = ?8`
	s.insertStmt, err = conn.PrepareContext(ctx, `INSERT INTO things
		(id, namespace, policy_id, revision, created, modified, deleted, doc)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
		ON CONFLICT (id) DO UPDATE SET `+cols+` WHERE things.revision = 0`)
	if err != nil {
		return wrapErr("prepare insert", err)
	}
	s.updateStmt, err = conn.PrepareContext(ctx, `UPDATE things SET `+cols+` WHERE id = ?1 AND revision = ?9`)
	if err != nil {
		return wrapErr("prepare update", err)
	}
	// The same two for policies, whose table lacks policy_id.
	const policyCols = `namespace = ?2, revision = ?3, created = ?4, modified = ?5, deleted = ?6, doc = ?7`
	s.insertPolicyStmt, err = conn.PrepareContext(ctx, `INSERT INTO policies
		(id, namespace, revision, created, modified, deleted, doc)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
		ON CONFLICT (id) DO UPDATE SET `+policyCols+` WHERE policies.revision = 0`)
	if err != nil {
		return wrapErr("prepare policy insert", err)
	}
	s.updatePolicyStmt, err = conn.PrepareContext(ctx, `UPDATE policies SET `+policyCols+` WHERE id = ?1 AND revision = ?8`)
	if err != nil {
		return wrapErr("prepare policy update", err)
	}
	// IMMEDIATE takes the write lock at BEGIN: if another process holds it,
	// the writer waits (busy_timeout) there rather than fail halfway through
	// a batch.
	for _, st := range []struct {
		into **sql.Stmt
		sql  string
	}{{&s.beginStmt, `BEGIN IMMEDIATE`}, {&s.commitStmt, `COMMIT`}, {&s.rollbackStmt, `ROLLBACK`}} {
		if *st.into, err = conn.PrepareContext(ctx, st.sql); err != nil {
			return wrapErr("prepare "+st.sql, err)
		}
	}
	return nil
}

func (s *Store) openReaders(ctx context.Context, path string, busy time.Duration, conns int) error {
	params := url.Values{}
	params.Set("mode", "ro")
	params.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	db, err := sql.Open("sqlite", dsn(path, params))
	if err != nil {
		return fmt.Errorf("sqlitestore: open %s read-only: %w", path, err)
	}
	s.readDB = db
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s.getStmt, err = db.PrepareContext(ctx, `SELECT `+recordCols+` FROM things WHERE id = ?`)
	if err != nil {
		return wrapErr("prepare get", err)
	}
	s.getPolicyStmt, err = db.PrepareContext(ctx, `SELECT `+policyRecordCols+` FROM policies WHERE id = ?`)
	if err != nil {
		return wrapErr("prepare get policy", err)
	}
	return nil
}

// recordCols are the columns scanRecord reads, in its order.
const recordCols = `id, namespace, policy_id, revision, created, modified, deleted, doc`

// policyRecordCols are recordCols from the policies table: a policy has no
// policy id, so scanRecord reads an empty one.
const policyRecordCols = `id, namespace, '', revision, created, modified, deleted, doc`

// closeDBs releases the statements and connections that are open. Called
// once, when the writer goroutine is not running (or never ran).
func (s *Store) closeDBs() error {
	var errs []error
	closeIt := func(c io.Closer) {
		if err := c.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
			errs = append(errs, err)
		}
	}
	// Readers first: the writer's connection, closed last, then checkpoints
	// the WAL into the database file.
	for _, st := range []*sql.Stmt{s.getStmt, s.getPolicyStmt} {
		if st != nil {
			closeIt(st)
		}
	}
	if s.readDB != nil {
		closeIt(s.readDB)
	}
	for _, st := range []*sql.Stmt{s.insertStmt, s.updateStmt, s.insertPolicyStmt, s.updatePolicyStmt,
		s.beginStmt, s.commitStmt, s.rollbackStmt} {
		if st != nil {
			closeIt(st)
		}
	}
	if s.writeConn != nil {
		closeIt(s.writeConn)
	}
	if s.writeDB != nil {
		closeIt(s.writeDB)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// Close stops accepting Puts, waits until the writer has committed and
// answered every Put it accepted, then closes the database. Close is
// idempotent; later calls return the
// first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.stopped
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

// closed reports whether Close has begun.
func (s *Store) closed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// ReadsOwnWrites tells the twin handler that Get returns what the last
// successful Put of a thing stored, until another Put of it succeeds (in this
// process or another one: the revision condition of Put catches the
// latter), so that it may write a thing from the record it stored last.
// GetPolicy and PutPolicy behave the same way.
func (s *Store) ReadsOwnWrites() bool { return true }

// Get returns the record of id, a tombstone included, or an error wrapping
// twin.ErrNotFound when id was never stored.
func (s *Store) Get(ctx context.Context, id string) (twin.Record, error) {
	if s.closed() {
		return twin.Record{}, closedErr("get")
	}
	rec, err := scanRecord(s.getStmt.QueryRowContext(ctx, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return twin.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, twin.ErrNotFound)
	case err != nil:
		return twin.Record{}, s.readErr(fmt.Sprintf("get %q", id), err)
	}
	return rec, nil
}

// GetPolicy returns the record of policy id, a tombstone included, or an
// error wrapping twin.ErrNotFound when id was never stored. Its PolicyID is
// empty.
func (s *Store) GetPolicy(ctx context.Context, id string) (twin.Record, error) {
	if s.closed() {
		return twin.Record{}, closedErr("get policy")
	}
	rec, err := scanRecord(s.getPolicyStmt.QueryRowContext(ctx, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return twin.Record{}, fmt.Errorf("sqlitestore: get policy %q: %w", id, twin.ErrNotFound)
	case err != nil:
		return twin.Record{}, s.readErr(fmt.Sprintf("get policy %q", id), err)
	}
	return rec, nil
}

// GetMany returns the records of ids that exist and are not deleted, in the
// order of ids. Missing ids are skipped; an id given twice is returned once,
// at its first position.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]twin.Record, error) {
	if s.closed() {
		return nil, closedErr("get many")
	}
	if len(ids) == 0 {
		return nil, nil
	}
	found := make(map[string]twin.Record, len(ids))
	for start := 0; start < len(ids); start += getManyChunk {
		chunk := ids[start:min(start+getManyChunk, len(ids))]
		if err := s.getChunk(ctx, chunk, found); err != nil {
			return nil, err
		}
	}
	out := make([]twin.Record, 0, len(found))
	for _, id := range ids {
		if rec, ok := found[id]; ok {
			out = append(out, rec)
			delete(found, id) // an id given twice is returned once
		}
	}
	return out, nil
}

// getChunk reads the live records of ids (at most getManyChunk) into found.
func (s *Store) getChunk(ctx context.Context, ids []string, found map[string]twin.Record) error {
	var q strings.Builder
	q.WriteString(`SELECT ` + recordCols + ` FROM things WHERE deleted = 0 AND id IN (`)
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('?')
		args[i] = id
	}
	q.WriteByte(')')
	rows, err := s.readDB.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return s.readErr("get many", err)
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return s.readErr("get many", err)
		}
		found[rec.ID] = rec
	}
	if err := rows.Err(); err != nil {
		return s.readErr("get many", err)
	}
	return nil
}

// readErr wraps a read failure. A read that fails because Close closed the
// pool under it wraps twin.ErrUnavailable like any other closed-store error.
func (s *Store) readErr(op string, err error) error {
	if s.closed() && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlitestore: %s: %w: %w", op, twin.ErrUnavailable, err)
	}
	return wrapErr(op, err)
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanRecord(sc scanner) (twin.Record, error) {
	var (
		rec               twin.Record
		created, modified sql.NullInt64
	)
	err := sc.Scan(&rec.ID, &rec.Namespace, &rec.PolicyID, &rec.Revision, &created, &modified, &rec.Deleted, &rec.Doc)
	if err != nil {
		return twin.Record{}, err
	}
	rec.Created = decodeTime(created)
	rec.Modified = decodeTime(modified)
	if len(rec.Doc) == 0 {
		rec.Doc = nil
	}
	return rec, nil
}

// Timestamps are stored as unix nanoseconds: exact, and comparable in SQL.
// The zero time is NULL.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func encodeTime(t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return sql.NullInt64{}, fmt.Errorf("sqlitestore: time %s is outside the storable range (%s to %s)",
			t, minTime.UTC(), maxTime.UTC())
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, nil
}

func decodeTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

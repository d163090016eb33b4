package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twinway/twinway/twin"
)

// request is one Put or PutPolicy on its way to the writer goroutine.
// Both kinds share the queue and the group commits: a policy write is as
// durable as a thing write, and a thing and a policy written together (a
// thing with its implicit policy) can share one fsync.
type request struct {
	ctx      context.Context // the Put's; a request whose ctx is done before its batch starts is skipped
	policy   bool            // a PutPolicy: rec goes to the policies table
	rec      twin.Record
	created  sql.NullInt64
	modified sql.NullInt64
	prev     int64
	reply    chan error // buffered (1): the writer never waits for the Put
	err      error      // the answer, set by the writer
}

// op names the request in errors: "put <id>" or "put policy <id>".
func (r *request) op() string { return putOp(r.policy, r.rec.ID) }

func putOp(policy bool, id string) string {
	if policy {
		return fmt.Sprintf("put policy %q", id)
	}
	return fmt.Sprintf("put %q", id)
}

// Put stores rec if the stored revision is still prevRevision (0: no record
// yet), else it returns an error wrapping twin.ErrRevisionConflict. When Put
// returns nil, the record is committed and fsynced.
//
// Put waits for the writer goroutine to commit the batch holding rec (see
// the package doc). If ctx ends first, Put returns ctx's error, and the
// record may or may not have been stored: a request the writer has already
// taken is committed regardless. Put copies rec.Doc, so the caller may reuse
// it as soon as Put returns. After Close, Put returns an error wrapping
// twin.ErrUnavailable.
func (s *Store) Put(ctx context.Context, rec twin.Record, prevRevision int64) error {
	if rec.ID == "" {
		return errors.New("sqlitestore: put: empty thing id")
	}
	return s.put(ctx, false, rec, prevRevision)
}

// PutPolicy stores the policy rec if the stored revision of the policy is
// still prevRevision (0: no record yet), else it returns an error wrapping
// twin.ErrRevisionConflict. It is Put for the policies table, through the
// same writer and group commits: when PutPolicy returns nil, the record is
// committed and fsynced. rec.PolicyID must be empty (a policy has none).
func (s *Store) PutPolicy(ctx context.Context, rec twin.Record, prevRevision int64) error {
	if rec.ID == "" {
		return errors.New("sqlitestore: put policy: empty policy id")
	}
	if rec.PolicyID != "" {
		// The table has no column for it: refuse rather than drop it.
		return fmt.Errorf("sqlitestore: put policy %q: a policy record has no policy id (got %q)", rec.ID, rec.PolicyID)
	}
	return s.put(ctx, true, rec, prevRevision)
}

// put hands the write of rec (to the policies table if policy) to the
// writer goroutine and waits for its answer.
func (s *Store) put(ctx context.Context, policy bool, rec twin.Record, prevRevision int64) error {
	// Named only on the way out: Put is hot, its errors are not.
	op := func() string { return putOp(policy, rec.ID) }
	if prevRevision < 0 {
		return fmt.Errorf("sqlitestore: %s: negative previous revision %d", op(), prevRevision)
	}
	created, err := encodeTime(rec.Created)
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: created: %w", op(), err)
	}
	modified, err := encodeTime(rec.Modified)
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: modified: %w", op(), err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlitestore: %s: %w", op(), err)
	}
	if s.closed() {
		return closedErr(op())
	}
	// The copy keeps the writer's view of Doc stable even when the caller
	// gives up (ctx) and reuses its buffer while the writer still binds it.
	rec.Doc = bytes.Clone(rec.Doc)
	r := &request{ctx: ctx, policy: policy, rec: rec, created: created, modified: modified, prev: prevRevision, reply: make(chan error, 1)}

	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return fmt.Errorf("sqlitestore: %s: %w", op(), ctx.Err())
	case <-s.quit:
		return closedErr(op())
	}

	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		select {
		case err := <-r.reply: // answered meanwhile: report the outcome
			return err
		default:
			return fmt.Errorf("sqlitestore: %s: %w (the write may still be committed)", op(), ctx.Err())
		}
	case <-s.stopped:
		// The writer answers every request it takes before it stops; a
		// request without an answer slipped in after its last look.
		select {
		case err := <-r.reply:
			return err
		default:
			return closedErr(op())
		}
	}
}

// run is the writer goroutine: it owns writeConn and the write statements.
// It commits one batch at a time until Close, then commits what is still
// queued and exits.
func (s *Store) run() {
	defer close(s.stopped)
	batch := make([]*request, 0, s.maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = s.fill(append(batch, r))
			s.commit(batch)
			clear(batch) // drop references to records already answered
			batch = batch[:0]
		case <-s.quit:
			for {
				batch = s.fill(batch)
				if len(batch) == 0 {
					return
				}
				s.commit(batch)
				clear(batch)
				batch = batch[:0]
			}
		}
	}
}

// fill adds the requests already waiting, without blocking, up to maxBatch.
// Waiting for more would add latency to a lone Put; under load the queue
// fills during the previous commit instead.
func (s *Store) fill(batch []*request) []*request {
	for len(batch) < s.maxBatch {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit runs the live requests of batch in one transaction and answers
// every request.
func (s *Store) commit(batch []*request) {
	// A request whose Put has already returned (ctx done) is not written:
	// its caller was told the outcome is unknown, and skipping it keeps a
	// cancelled client from costing the others.
	live := 0
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.reply <- fmt.Errorf("sqlitestore: %s: %w", r.op(), err)
			continue
		}
		batch[live] = r
		live++
	}
	batch = batch[:live]
	if len(batch) == 0 {
		return
	}

	// The writer's own context: a request's cancellation must not abort the
	// transaction the others share.
	ctx := context.Background()
	start := time.Now()
	if err := s.transact(ctx, batch); err != nil {
		s.log.Error("group commit failed", "batch", len(batch), "err", err)
		for _, r := range batch {
			r.reply <- fmt.Errorf("sqlitestore: %s: %w", r.op(), err)
		}
		return
	}
	elapsed := time.Since(start)
	for _, r := range batch {
		r.reply <- r.err
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("group commit", "batch", len(batch), "duration", elapsed)
	}
	if s.observe != nil {
		s.observe(len(batch), elapsed)
	}
}

// transact writes batch in one transaction, setting each request's err (nil
// or a revision conflict or a request-specific failure). It returns an error
// wrapping twin.ErrUnavailable when the transaction as a whole failed, and
// then nothing of batch is stored.
func (s *Store) transact(ctx context.Context, batch []*request) (err error) {
	// BEGIN IMMEDIATE (see openWriter).
	if _, err := s.beginStmt.ExecContext(ctx); err != nil {
		return unavailable("begin", err)
	}
	defer func() {
		if err != nil {
			// After some errors (I/O, full disk) SQLite has already rolled
			// back; a failed ROLLBACK then only says so.
			if _, rbErr := s.rollbackStmt.ExecContext(ctx); rbErr != nil {
				s.log.Debug("rollback after failed group commit", "err", rbErr)
			}
		}
	}()
	for _, r := range batch {
		if err := s.apply(ctx, r); err != nil {
			return unavailable(r.op(), err)
		}
	}
	if _, err := s.commitStmt.ExecContext(ctx); err != nil {
		return unavailable("commit", err)
	}
	return nil
}

// apply writes one request inside the open transaction. The revision check
// is part of the write statement: no row changed means the stored revision
// was not r.prev. A failure of the request alone is put in r.err; a failure
// that breaks the transaction is returned.
func (s *Store) apply(ctx context.Context, r *request) error {
	rec := r.rec
	// Driver values as they are bound (int64 for the flag, nil or int64 for
	// the times), so that database/sql has nothing to convert.
	deleted := int64(0)
	if rec.Deleted {
		deleted = 1
	}
	var (
		args                   []any
		insertStmt, updateStmt = s.insertStmt, s.updateStmt
	)
	if r.policy {
		// The policies table has no policy_id: the same columns less that
		// one, numbered 1 to 7, prevRevision 8.
		args = make([]any, 7, 8)
		args[0], args[1], args[2] = rec.ID, rec.Namespace, rec.Revision
		args[3], args[4], args[5], args[6] = nullable(r.created), nullable(r.modified), deleted, rec.Doc
		insertStmt, updateStmt = s.insertPolicyStmt, s.updatePolicyStmt
	} else {
		args = make([]any, 8, 9)
		args[0], args[1], args[2], args[3] = rec.ID, rec.Namespace, rec.PolicyID, rec.Revision
		args[4], args[5], args[6], args[7] = nullable(r.created), nullable(r.modified), deleted, rec.Doc
	}
	var (
		res sql.Result
		err error
	)
	if r.prev == 0 {
		res, err = insertStmt.ExecContext(ctx, args...)
	} else {
		res, err = updateStmt.ExecContext(ctx, append(args, r.prev)...)
	}
	if err != nil {
		if isRequestError(err) {
			r.err = fmt.Errorf("sqlitestore: %s: %w", r.op(), err)
			return nil
		}
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		r.err = fmt.Errorf("sqlitestore: %s at revision %d: %w", r.op(), r.prev, twin.ErrRevisionConflict)
		return nil
	}
	r.err = nil
	return nil
}

// nullable is n as a driver value: nil or its int64.
func nullable(n sql.NullInt64) any {
	if !n.Valid {
		return nil
	}
	return n.Int64
}

// unavailable wraps a failure of the whole batch: whatever the cause, the
// store could not make the batch durable, and a retry may succeed.
func unavailable(op string, err error) error {
	if errors.Is(err, twin.ErrUnavailable) {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	return fmt.Errorf("sqlitestore: %s: %w: %w", op, twin.ErrUnavailable, err)
}

package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/storetest"
)

// The thing contract (round trip, tombstones, revision conditions, GetMany)
// is in twin/storetest (TestContract); these tests cover what only this
// store can show: the group commit, closing and reopening, the schema,
// SQLite's locks and chunked reads.

// openTest opens a store in dir and closes it at the end of the test.
func openTest(t testing.TB, dir string, cfg Config) *Store {
	t.Helper()
	cfg.Dir = dir
	st, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// testRecord is a live record of id at rev whose doc names both.
func testRecord(id string, rev int64) twin.Record {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).Add(time.Duration(rev) * time.Second)
	return twin.Record{
		ID:        id,
		Namespace: "org.example",
		PolicyID:  "org.example:policy",
		Revision:  rev,
		Created:   time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Modified:  ts,
		Doc:       fmt.Appendf(nil, `{"thingId":%q,"attributes":{"rev":%d}}`, id, rev),
	}
}

// waitFor polls cond; the tests use it to see requests queue up behind a
// writer held in Observe, never to assert timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// holdWriter is an Observe hook that records every batch size and parks the
// writer goroutine after its first commit until release is closed. With
// the writer parked, a test can queue requests and know they form the next
// batch together.
type holdWriter struct {
	mu      sync.Mutex
	sizes   []int
	first   chan int
	release chan struct{}
	once    sync.Once
}

func newHoldWriter() *holdWriter {
	return &holdWriter{first: make(chan int, 1), release: make(chan struct{})}
}

func (h *holdWriter) observe(n int, _ time.Duration) {
	h.mu.Lock()
	h.sizes = append(h.sizes, n)
	h.mu.Unlock()
	h.once.Do(func() {
		h.first <- n
		<-h.release
	})
}

func (h *holdWriter) batchSizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

// park commits one primer Put and returns with the writer parked in Observe.
func (h *holdWriter) park(t *testing.T, st *Store) {
	t.Helper()
	storetest.MustPut(t, st, testRecord("test:primer", 1), 0)
	if n := <-h.first; n != 1 {
		t.Fatalf("primer batch size = %d, want 1", n)
	}
}

// TestGetManyAcrossChunks: GetMany reads its ids in queries of
// getManyChunk. Asked for more than two chunks' worth, one of them deleted,
// it keeps their order across the chunks' bounds, whatever getManyChunk
// is. The contract (TestContract) holds GetMany to the rest of its rules.
func TestGetManyAcrossChunks(t *testing.T) {
	st := openTest(t, t.TempDir(), Config{})
	ids := make([]string, 2*getManyChunk+37)
	for i := range ids {
		ids[i] = fmt.Sprintf("test:many-%04d", i)
		storetest.MustPut(t, st, testRecord(ids[i], 1), 0)
	}
	tomb := testRecord(ids[5], 2)
	tomb.Deleted, tomb.Doc = true, nil
	storetest.MustPut(t, st, tomb, 1)

	slices.Reverse(ids)
	got, err := st.GetMany(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == tomb.ID })
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, rec := range got {
		if rec.ID != want[i] {
			t.Fatalf("record %d is %s, want %s", i, rec.ID, want[i])
		}
		storetest.EqualRecord(t, rec, testRecord(rec.ID, 1))
	}
}

// TestConflictInBatch checks that one request's conflict does not fail the
// other requests committed in the same transaction.
func TestConflictInBatch(t *testing.T) {
	h := newHoldWriter()
	st := openTest(t, t.TempDir(), Config{Observe: h.observe})
	h.park(t, st)

	errs := make(map[string]chan error)
	put := func(rec twin.Record, prev int64) {
		ch := make(chan error, 1)
		errs[rec.ID] = ch
		go func() { ch <- st.Put(context.Background(), rec, prev) }()
	}
	put(testRecord("test:ok-1", 1), 0)
	put(testRecord("test:primer", 5), 4) // stale: the primer is at 1
	put(testRecord("test:ok-2", 1), 0)
	waitFor(t, "3 queued puts", func() bool { return len(st.reqs) == 3 })
	close(h.release)

	for id, ch := range errs {
		err := <-ch
		if id == "test:primer" {
			if !errors.Is(err, twin.ErrRevisionConflict) {
				t.Errorf("%s: err = %v, want ErrRevisionConflict", id, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	// Observe runs after the replies: wait for the second batch's call.
	waitFor(t, "the second batch observed", func() bool { return len(h.batchSizes()) == 2 })
	if got := h.batchSizes(); got[1] != 3 {
		t.Fatalf("batch sizes = %v, want [1 3]", got)
	}
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:ok-1"), testRecord("test:ok-1", 1))
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:ok-2"), testRecord("test:ok-2", 1))
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:primer"), testRecord("test:primer", 1))
}

func TestConcurrentPutsGroupCommit(t *testing.T) {
	const writers = 64
	h := newHoldWriter()
	st := openTest(t, t.TempDir(), Config{Observe: h.observe})
	h.park(t, st)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			errs <- st.Put(context.Background(), testRecord(fmt.Sprintf("test:w%02d", i), 1), 0)
		})
	}
	// All 64 are queued while the writer is parked, so they share commits.
	waitFor(t, "all puts queued", func() bool { return len(st.reqs) == writers })
	close(h.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Observe runs after the replies: wait until every put is observed.
	waitFor(t, "every batch observed", func() bool {
		n := 0
		for _, s := range h.batchSizes() {
			n += s
		}
		return n == writers+1
	})
	sizes := h.batchSizes()
	sum, largest := 0, 0
	for _, n := range sizes {
		sum += n
		largest = max(largest, n)
	}
	if sum != writers+1 { // + the primer
		t.Errorf("batch sizes %v sum to %d, want %d", sizes, sum, writers+1)
	}
	if largest < 2 {
		t.Errorf("batch sizes %v: no group commit", sizes)
	}
	for i := range writers {
		id := fmt.Sprintf("test:w%02d", i)
		storetest.EqualRecord(t, storetest.MustGet(t, st, id), testRecord(id, 1))
	}
}

// TestConcurrentPutsUnsteered runs writers without parking the writer: only
// the totals are deterministic.
func TestConcurrentPutsUnsteered(t *testing.T) {
	const writers, each = 64, 8
	var (
		mu    sync.Mutex
		sum   int
		count int
	)
	st := openTest(t, t.TempDir(), Config{MaxBatch: 16, Observe: func(n int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if n > 16 || d < 0 {
			t.Errorf("batch of %d (max 16) took %v", n, d)
		}
		sum += n
		count++
	}})
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("test:w%02d", w)
				errs <- st.Put(context.Background(), testRecord(id, int64(i+1)), int64(i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if sum != writers*each {
		t.Errorf("batch sizes sum to %d, want %d", sum, writers*each)
	}
	t.Logf("%d puts in %d commits", sum, count)
	for w := range writers {
		id := fmt.Sprintf("test:w%02d", w)
		storetest.EqualRecord(t, storetest.MustGet(t, st, id), testRecord(id, each))
	}
}

func TestCloseDrainsPending(t *testing.T) {
	const pending = 20
	dir := t.TempDir()
	h := newHoldWriter()
	st, err := Open(context.Background(), Config{Dir: dir, MaxBatch: 8, Observe: h.observe})
	if err != nil {
		t.Fatal(err)
	}
	h.park(t, st)

	var wg sync.WaitGroup
	errs := make(chan error, pending)
	for i := range pending {
		wg.Go(func() {
			errs <- st.Put(context.Background(), testRecord(fmt.Sprintf("test:p%02d", i), 1), 0)
		})
	}
	// The queue holds MaxBatch; the others wait to enqueue.
	waitFor(t, "queue full", func() bool { return len(st.reqs) == 8 })
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	waitFor(t, "Close to begin", st.closed)
	close(h.release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(errs)

	// Every Put either committed or was refused as closed; the queued ones
	// committed.
	committed := 0
	for err := range errs {
		switch {
		case err == nil:
			committed++
		case errors.Is(err, twin.ErrUnavailable):
		default:
			t.Errorf("Put during Close: %v", err)
		}
	}
	if committed < 8 {
		t.Errorf("%d puts committed, want at least the 8 queued", committed)
	}

	st2 := openTest(t, dir, Config{})
	recs, err := st2.GetMany(context.Background(), func() []string {
		var ids []string
		for i := range pending {
			ids = append(ids, fmt.Sprintf("test:p%02d", i))
		}
		return ids
	}())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != committed {
		t.Errorf("after reopen %d records, want the %d committed", len(recs), committed)
	}
}

func TestUseAfterClose(t *testing.T) {
	st, err := Open(context.Background(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustPut(t, st, testRecord("test:x", 1), 0)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := st.Put(context.Background(), testRecord("test:y", 1), 0); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("Put after Close: err = %v, want ErrUnavailable", err)
	}
	if _, err := st.Get(context.Background(), "test:x"); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("Get after Close: err = %v, want ErrUnavailable", err)
	}
	if _, err := st.GetMany(context.Background(), []string{"test:x"}); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("GetMany after Close: err = %v, want ErrUnavailable", err)
	}
	if err := st.PutPolicy(context.Background(), policyRecord("test:y", 1), 0); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("PutPolicy after Close: err = %v, want ErrUnavailable", err)
	}
	if _, err := st.GetPolicy(context.Background(), "test:x"); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("GetPolicy after Close: err = %v, want ErrUnavailable", err)
	}
}

func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data") // Open creates it
	st, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustPut(t, st, testRecord("test:r", 1), 0)
	storetest.MustPut(t, st, testRecord("test:r", 2), 1)
	tomb := testRecord("test:gone", 1)
	tomb.Deleted, tomb.Doc = true, nil
	storetest.MustPut(t, st, tomb, 0)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openTest(t, dir, Config{})
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:r"), testRecord("test:r", 2))
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:gone"), tomb)
	storetest.MustPut(t, st, testRecord("test:r", 3), 2)
}

func TestPutContext(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		st := openTest(t, t.TempDir(), Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := st.Put(ctx, testRecord("test:c", 1), 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if _, err := st.Get(context.Background(), "test:c"); !errors.Is(err, twin.ErrNotFound) {
			t.Fatalf("Get: err = %v, want ErrNotFound", err)
		}
	})
	t.Run("cancelled while queued", func(t *testing.T) {
		h := newHoldWriter()
		st := openTest(t, t.TempDir(), Config{Observe: h.observe})
		h.park(t, st)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- st.Put(ctx, testRecord("test:c", 1), 0) }()
		waitFor(t, "put queued", func() bool { return len(st.reqs) == 1 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		close(h.release)
		// The writer had not taken it: it is dropped, not written.
		storetest.MustPut(t, st, testRecord("test:d", 1), 0)
		if _, err := st.Get(context.Background(), "test:c"); !errors.Is(err, twin.ErrNotFound) {
			t.Fatalf("Get: err = %v, want ErrNotFound", err)
		}
	})
}

func TestPutInvalid(t *testing.T) {
	st := openTest(t, t.TempDir(), Config{})
	far := testRecord("test:far", 1)
	far.Modified = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  twin.Record
		prev int64
	}{
		{"empty id", twin.Record{Revision: 1}, 0},
		{"negative prev", testRecord("test:neg", 1), -1},
		{"time out of range", far, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := st.Put(context.Background(), tt.rec, tt.prev)
			if err == nil || errors.Is(err, twin.ErrUnavailable) || errors.Is(err, twin.ErrRevisionConflict) {
				t.Fatalf("err = %v, want a plain error", err)
			}
		})
	}
}

// TestLockedByOtherProcess holds SQLite's write lock from another connection,
// as another process would: reads still see the last commit (WAL), and a
// Put fails after BusyTimeout with ErrUnavailable, then works once the lock
// is gone.
func TestLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir, Config{BusyTimeout: 50 * time.Millisecond})
	storetest.MustPut(t, st, testRecord("test:l", 1), 0)

	other, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE things SET revision = 99 WHERE id = 'test:l'`); err != nil {
		t.Fatal(err)
	}

	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:l"), testRecord("test:l", 1))
	err = st.Put(ctx, testRecord("test:l", 2), 1)
	if !errors.Is(err, twin.ErrUnavailable) {
		t.Fatalf("Put while locked: err = %v, want ErrUnavailable", err)
	}
	err = st.PutPolicy(ctx, policyRecord("test:l", 1), 0)
	if !errors.Is(err, twin.ErrUnavailable) {
		t.Fatalf("PutPolicy while locked: err = %v, want ErrUnavailable", err)
	}

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	storetest.MustPut(t, st, testRecord("test:l", 2), 1)
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:l"), testRecord("test:l", 2))
	storetest.MustPutPolicy(t, st, policyRecord("test:l", 1), 0)
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != schemaVersion() {
		t.Fatalf("user_version = %d, want %d", v, schemaVersion())
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}

	// A file from a newer build is refused, not misread.
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	if st, err := Open(context.Background(), Config{Dir: dir}); err == nil {
		st.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
}

func TestOpenConfig(t *testing.T) {
	if _, err := Open(context.Background(), Config{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if _, err := Open(context.Background(), Config{Dir: t.TempDir(), MaxBatch: -1}); err == nil {
		t.Error("Open with negative MaxBatch succeeded")
	}
}

package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/storetest"
)

// The policy contract is in twin/storetest (TestContract); these tests
// cover what only this store can show: the shared writer, reopening, the
// schema.

// policyRecord is a live policy record of id at rev (no policy id).
func policyRecord(id string, rev int64) twin.Record {
	ts := time.Date(2024, 7, 8, 9, 10, 11, 987654321, time.UTC)
	return twin.Record{
		ID:        id,
		Namespace: "org.example",
		Revision:  rev,
		Created:   ts,
		Modified:  ts.Add(time.Duration(rev) * time.Second),
		Doc:       fmt.Appendf(nil, `{"policyId":%q,"_revision":%d,"entries":{"DEFAULT":{"subjects":{"a:b":{"type":"t"}}}}}`, id, rev),
	}
}

// TestPolicyGroupCommit checks that policy writes go through the writer
// queue: a thing, its implicit policy (same id) and a stale policy write
// queued together are one transaction, in which the conflict fails alone.
func TestPolicyGroupCommit(t *testing.T) {
	h := newHoldWriter()
	st := openTest(t, t.TempDir(), Config{Observe: h.observe})
	h.park(t, st)

	type result struct {
		name string
		err  error
	}
	results := make(chan result, 3)
	go func() { results <- result{"thing", st.Put(context.Background(), testRecord("test:t", 1), 0)} }()
	go func() { results <- result{"policy", st.PutPolicy(context.Background(), policyRecord("test:t", 1), 0)} }()
	go func() {
		// The thing test:primer is at revision 1, the policy test:primer
		// does not exist: a conflict.
		results <- result{"stale policy", st.PutPolicy(context.Background(), policyRecord("test:primer", 2), 1)}
	}()
	waitFor(t, "3 queued puts", func() bool { return len(st.reqs) == 3 })
	close(h.release)

	for range 3 {
		r := <-results
		if r.name == "stale policy" {
			if !errors.Is(r.err, twin.ErrRevisionConflict) || errors.Is(r.err, twin.ErrUnavailable) {
				t.Errorf("%s: err = %v, want ErrRevisionConflict", r.name, r.err)
			}
			continue
		}
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
		}
	}
	// Observe runs after the replies: wait for the second batch's call.
	waitFor(t, "the second batch observed", func() bool { return len(h.batchSizes()) == 2 })
	if got := h.batchSizes(); got[1] != 3 {
		t.Fatalf("batch sizes = %v, want [1 3]", got)
	}
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:t"), testRecord("test:t", 1))
	storetest.EqualRecord(t, storetest.MustGetPolicy(t, st, "test:t"), policyRecord("test:t", 1))
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:primer"), testRecord("test:primer", 1))
	if _, err := st.GetPolicy(context.Background(), "test:primer"); !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("GetPolicy(test:primer) after a conflict: err = %v, want ErrNotFound", err)
	}
}

// TestPolicyReopen: policies, tombstones included, are in the file after
// Close, and their revisions continue.
func TestPolicyReopen(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustPutPolicy(t, st, policyRecord("test:p", 1), 0)
	storetest.MustPutPolicy(t, st, policyRecord("test:p", 2), 1)
	tomb := policyRecord("test:gone", 2)
	tomb.Deleted, tomb.Doc = true, nil
	storetest.MustPutPolicy(t, st, policyRecord("test:gone", 1), 0)
	storetest.MustPutPolicy(t, st, tomb, 1)
	storetest.MustPut(t, st, testRecord("test:p", 5), 0) // a thing of the same id
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openTest(t, dir, Config{})
	storetest.EqualRecord(t, storetest.MustGetPolicy(t, st, "test:p"), policyRecord("test:p", 2))
	storetest.EqualRecord(t, storetest.MustGetPolicy(t, st, "test:gone"), tomb)
	storetest.EqualRecord(t, storetest.MustGet(t, st, "test:p"), testRecord("test:p", 5))
	storetest.MustPutPolicy(t, st, policyRecord("test:p", 3), 2)
	storetest.MustPutPolicy(t, st, policyRecord("test:gone", 3), 2)
}

// TestPolicyMigratesVersion2: a file of schema version 2 (things only) gets
// the policies table when it is opened, its things untouched; so does one
// that already has the table.
func TestPolicyMigratesVersion2(t *testing.T) {
	for _, tableThere := range []bool{false, true} {
		t.Run(fmt.Sprintf("table already there %v", tableThere), func(t *testing.T) {
			dir := t.TempDir()
			db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), nil))
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range migrations[:2] {
				for _, stmt := range step {
					if _, err := db.Exec(stmt); err != nil {
						t.Fatal(err)
					}
				}
			}
			thing := testRecord("test:old", 4)
			created, _ := encodeTime(thing.Created)
			modified, _ := encodeTime(thing.Modified)
			if _, err := db.Exec(`INSERT INTO things (id, namespace, policy_id, revision, created, modified, deleted, doc) VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
				thing.ID, thing.Namespace, thing.PolicyID, thing.Revision, created, modified, thing.Doc); err != nil {
				t.Fatal(err)
			}
			if tableThere {
				for _, stmt := range migrations[2] {
					if _, err := db.Exec(stmt); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := db.Exec(`PRAGMA user_version = 2`); err != nil {
				t.Fatal(err)
			}
			db.Close()

			st := openTest(t, dir, Config{})
			storetest.EqualRecord(t, storetest.MustGet(t, st, thing.ID), thing)
			if _, err := st.GetPolicy(context.Background(), thing.ID); !errors.Is(err, twin.ErrNotFound) {
				t.Fatalf("GetPolicy after migration: err = %v, want ErrNotFound", err)
			}
			storetest.MustPutPolicy(t, st, policyRecord(thing.ID, 1), 0)
			storetest.EqualRecord(t, storetest.MustGetPolicy(t, st, thing.ID), policyRecord(thing.ID, 1))
			var v int
			if err := st.readDB.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != schemaVersion() {
				t.Fatalf("user_version = %d, %v; want %d", v, err, schemaVersion())
			}
		})
	}
}

// TestPolicyContext: PutPolicy honours its context as Put does.
func TestPolicyContext(t *testing.T) {
	st := openTest(t, t.TempDir(), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.PutPolicy(ctx, policyRecord("test:c", 1), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := st.GetPolicy(context.Background(), "test:c"); !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("GetPolicy: err = %v, want ErrNotFound", err)
	}
}

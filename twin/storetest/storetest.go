// Package storetest is the contract every thing store passes: one suite,
// run by each store's own tests (twin/sqlitestore always, twin/mongostore
// when a MongoDB URI is configured).
//
// The contract, beyond the doc comments of twin.Store and twin.Searcher:
//
//   - Put and Get round-trip every Record field: the document byte for
//     byte (an empty one reads back as nil), the times as exact instants
//     to the nanosecond within the years 1678 to 2262 (read back in UTC;
//     the zero time stays zero), tombstones with their policy id and
//     times.
//   - Revision conditions: prevRevision 0 fails on an existing record (a
//     tombstone too), a stale or future prevRevision fails, each with an
//     error wrapping twin.ErrRevisionConflict and not twin.ErrUnavailable,
//     and changes nothing.
//   - GetMany keeps the order of the ids, skips missing and deleted ones,
//     returns a repeated id once.
//   - Search and Count answer exactly what rql.Compile's predicate answers
//     over the same things (with _namespace, _revision, _created and
//     _modified from the record), for every operator, including keys that
//     MongoDB treats specially ('.', a leading '$', digits); tombstones
//     never match. Results come in the documented sort order (see
//     twin/sqlitestore's search.go): missing and null first (last when
//     descending), numbers, strings, objects, arrays, booleans; thingId
//     breaks ties. Cursor paging is keyset paging: stable while things are
//     created and deleted between pages; a cursor alone continues its
//     query, a cursor with a different filter, sort or namespaces, or one
//     the store did not issue, is a 400 *protocol.Error.
//   - Concurrent writers to one thing that read, modify and Put with the
//     revision they read, retrying on conflict, lose no update.
//   - A document of about 100 kB (Ditto's default thing size limit) is
//     stored, read and searched like any other.
//   - Policies (twin.PolicyStore, which every store implements): GetPolicy
//     and PutPolicy keep the rules above for Get and Put (round trip,
//     revision conditions, tombstones, ErrNotFound). A PutPolicy record
//     whose PolicyID is set is refused, as are an empty id, a negative
//     prevRevision and a time out of range, with an error that is neither
//     a conflict nor retryable. Policies are a collection of their own: a
//     policy and a thing with the same id are two records whose revisions,
//     conditions and tombstones never meet; Get, GetMany, Search and Count
//     never return a policy. Things and policies written concurrently all
//     succeed.
//
// The suite's generated things and its helpers (GenThing, Seed, Inputs,
// CrossCheck, MustPut, …) are exported for the stores' own tests of what
// only one store has (its translation, limits, files), so that those hold
// a store to the same data and predicate as the contract does.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/twin"
)

// Store is what the suite tests: a thing store that searches and keeps
// policies. A store without policies does not compile against the suite,
// on purpose: every store must keep them.
type Store interface {
	twin.Store
	twin.Searcher
	twin.PolicyStore
}

// Run runs the contract suite. open returns a new, empty store for one
// test; Run closes it when the test ends (after open's own cleanups
// registered with t.Cleanup, which run later). Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, st Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"Tombstone", testTombstone},
		{"RevisionConditions", testRevisionConditions},
		{"GetMany", testGetMany},
		{"ListByNamespace", testListByNamespace},
		{"SpecialKeys", testSpecialKeys},
		{"LargeDocument", testLargeDocument},
		{"ConcurrentWriters", testConcurrentWriters},
		{"SearchCrossCheck", testSearchCrossCheck},
		{"SortOrder", testSortOrder},
		{"PagingWhileWriting", testPagingWhileWriting},
		{"CursorRules", testCursorRules},
		{"Count", testCount},
		{"PolicyNotFound", testPolicyNotFound},
		{"PolicyRoundTrip", testPolicyRoundTrip},
		{"PolicyRevisionConditions", testPolicyRevisionConditions},
		{"PolicyTombstone", testPolicyTombstone},
		{"PolicyThingIndependent", testPolicyThingIndependent},
		{"PolicyInvalid", testPolicyInvalid},
		{"PolicyConcurrentWriters", testPolicyConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, st)
		})
	}
}

// ctx is the context of every call of the suite: the test's own, which
// ends with the test.
func ctx(t testing.TB) context.Context { return t.Context() }

// MustPut puts rec at prev, failing the test on any error. Like every call
// of the suite it runs in the test's context (ctx), so not from a Cleanup.
func MustPut(t testing.TB, st Store, rec twin.Record, prev int64) {
	t.Helper()
	if err := st.Put(ctx(t), rec, prev); err != nil {
		t.Fatalf("Put(%s, rev %d, prev %d): %v", rec.ID, rec.Revision, prev, err)
	}
}

// MustGet gets the record of id, failing the test on any error.
func MustGet(t testing.TB, st Store, id string) twin.Record {
	t.Helper()
	rec, err := st.Get(ctx(t), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return rec
}

// EqualRecord compares records field by field; times by instant.
func EqualRecord(t testing.TB, got, want twin.Record) {
	t.Helper()
	if got.ID != want.ID || got.Namespace != want.Namespace || got.PolicyID != want.PolicyID ||
		got.Revision != want.Revision || got.Deleted != want.Deleted || string(got.Doc) != string(want.Doc) ||
		!got.Created.Equal(want.Created) || !got.Modified.Equal(want.Modified) {
		t.Fatalf("record mismatch\n got: %+v\nwant: %+v", brief(got), brief(want))
	}
}

// brief shortens a record's document for messages.
func brief(r twin.Record) twin.Record {
	if len(r.Doc) > 300 {
		r.Doc = append(append([]byte{}, r.Doc[:300]...), "…"...)
	}
	return r
}

// testRecord is a live record of id at rev whose doc names both.
func testRecord(id string, rev int64) twin.Record {
	ns, _, _ := strings.Cut(id, ":")
	return twin.Record{
		ID:        id,
		Namespace: ns,
		PolicyID:  ns + ":policy",
		Revision:  rev,
		Created:   time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Modified:  time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).Add(time.Duration(rev) * time.Second),
		Doc:       fmt.Appendf(nil, `{"attributes":{"rev":%d},"policyId":"%s:policy","thingId":%q}`, rev, ns, id),
	}
}

func tombstone(rec twin.Record) twin.Record {
	rec.Revision++
	rec.Deleted, rec.Doc = true, nil
	rec.Modified = rec.Modified.Add(time.Second)
	return rec
}

func testRoundTrip(t *testing.T, st Store) {
	berlin := time.FixedZone("CEST", 2*60*60)
	recs := []twin.Record{
		{
			ID: "org.example:thing-1", Namespace: "org.example", PolicyID: "org.example:policy-1", Revision: 7,
			Created:  time.Date(2023, 1, 2, 3, 4, 5, 6, berlin),               // nanoseconds, not UTC
			Modified: time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), // the last storable nanosecond
			Doc:      []byte(`{"thingId":"org.example:thing-1","attributes":{"a":"ü","n":5.0,"big":123456789012345678901234567890}}`),
		},
		{
			ID: "org.example:thing-2", Namespace: "org.example", PolicyID: "p", Revision: 1,
			Created:  time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Hour), // early
			Modified: time.Date(1970, 1, 1, 0, 0, 0, 999, time.UTC),
			// Whitespace, escapes, number spellings and key order are kept.
			Doc: []byte("{ \"z\" : [1e2, -0, 0.10, \"\\u00e9\\n\"],\n\t\"a\" : {} }"),
		},
		// Zero times and an empty doc are stored as such.
		{ID: "org.example:bare", Namespace: "org.example", PolicyID: "p", Revision: 1},
	}
	for _, want := range recs {
		MustPut(t, st, want, 0)
	}
	for _, want := range recs {
		got := MustGet(t, st, want.ID)
		EqualRecord(t, got, want)
		if !got.Created.IsZero() && (got.Created.Location() != time.UTC || got.Modified.Location() != time.UTC) {
			t.Errorf("%s: times not in UTC: %v, %v", want.ID, got.Created.Location(), got.Modified.Location())
		}
		if got.Created.Nanosecond() != want.Created.Nanosecond() || got.Modified.Nanosecond() != want.Modified.Nanosecond() {
			t.Errorf("%s: times lost precision: %v, %v", want.ID, got.Created, got.Modified)
		}
	}
	bare := MustGet(t, st, "org.example:bare")
	if !bare.Created.IsZero() || !bare.Modified.IsZero() || bare.Doc != nil {
		t.Errorf("bare record read back as %+v", bare)
	}
	checkPutCopiesDoc(t, things(st))
}

func testNotFound(t *testing.T, st Store) {
	_, err := st.Get(ctx(t), "test:never")
	if !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("Get of a missing id: err = %v, want ErrNotFound", err)
	}
}

func testTombstone(t *testing.T, st Store) {
	id := "test:tomb"
	live := testRecord(id, 1)
	MustPut(t, st, live, 0)
	tomb := tombstone(live)
	MustPut(t, st, tomb, 1)

	got := MustGet(t, st, id)
	EqualRecord(t, got, tomb)
	if !got.Deleted || got.Revision != 2 || got.PolicyID != live.PolicyID {
		t.Fatalf("tombstone read back as %+v", got)
	}
	many, err := st.GetMany(ctx(t), []string{id})
	if err != nil || len(many) != 0 {
		t.Fatalf("GetMany of a tombstone = %v, %v; want nothing", many, err)
	}
	// Created again, the revision continues from the tombstone's.
	if err := st.Put(ctx(t), testRecord(id, 1), 0); !errors.Is(err, twin.ErrRevisionConflict) {
		t.Fatalf("re-create at prev 0 over a tombstone: err = %v, want ErrRevisionConflict", err)
	}
	MustPut(t, st, testRecord(id, 3), 2)
	if got := MustGet(t, st, id); got.Deleted || got.Revision != 3 {
		t.Fatalf("re-created record read back as %+v", got)
	}
}

func testRevisionConditions(t *testing.T, st Store) {
	MustPut(t, st, testRecord("test:a", 1), 0)
	MustPut(t, st, testRecord("test:a", 2), 1)
	checkConflicts(t, things(st))
}

// collection is one of a store's two collections, things or policies, seen
// through the calls whose rules the contract makes the same for both (see
// the package doc), so that one check holds both to those rules.
type collection struct {
	noun   string // "record" or "policy", in failure messages
	put    func(ctx context.Context, rec twin.Record, prev int64) error
	get    func(ctx context.Context, id string) (twin.Record, error)
	record func(id string, rev int64) twin.Record // a live record of id at rev
}

func things(st Store) collection {
	return collection{noun: "record", put: st.Put, get: st.Get, record: testRecord}
}

func policies(st Store) collection {
	return collection{noun: "policy", put: st.PutPolicy, get: st.GetPolicy, record: policyRecord}
}

// checkConflicts: with test:a stored at revision 2 and no test:b, every
// prev but the stored revision is a conflict that changes nothing.
func checkConflicts(t *testing.T, c collection) {
	tests := []struct {
		name string
		id   string
		rev  int64
		prev int64
	}{
		{"stale prev", "test:a", 2, 1},
		{"prev ahead", "test:a", 4, 3},
		{"prev 0 but " + c.noun + " exists", "test:a", 1, 0},
		{"prev set but no " + c.noun, "test:b", 2, 1},
	}
	for _, tt := range tests {
		err := c.put(ctx(t), c.record(tt.id, tt.rev), tt.prev)
		if !errors.Is(err, twin.ErrRevisionConflict) {
			t.Errorf("%s: err = %v, want ErrRevisionConflict", tt.name, err)
		}
		if errors.Is(err, twin.ErrUnavailable) {
			t.Errorf("%s: a conflict must not look retryable: %v", tt.name, err)
		}
	}
	// Nothing changed.
	got, err := c.get(ctx(t), "test:a")
	if err != nil {
		t.Fatalf("test:a after failed conditional puts: %v", err)
	}
	EqualRecord(t, got, c.record("test:a", 2))
	if _, err := c.get(ctx(t), "test:b"); !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("test:b after a failed conditional put: err = %v, want ErrNotFound", err)
	}
}

// checkPutCopiesDoc: a put copies what it needs, so that the caller may
// reuse its buffer.
func checkPutCopiesDoc(t *testing.T, c collection) {
	rec := c.record("org.example:copy", 1)
	want := string(rec.Doc)
	if err := c.put(ctx(t), rec, 0); err != nil {
		t.Fatalf("putting %s %s: %v", c.noun, rec.ID, err)
	}
	rec.Doc[0] = 'X'
	got, err := c.get(ctx(t), rec.ID)
	if err != nil {
		t.Fatalf("getting %s %s: %v", c.noun, rec.ID, err)
	}
	if string(got.Doc) != want {
		t.Errorf("doc = %s, want %s", got.Doc, want)
	}
}

func testGetMany(t *testing.T, st Store) {
	// More ids than a store is likely to put into one query.
	const n = 1234
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		ids[i] = fmt.Sprintf("test:many-%04d", i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- st.Put(ctx(t), testRecord(ids[i], 1), 0)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	MustPut(t, st, tombstone(testRecord(ids[5], 1)), 1)

	reversed := func(s []string) []string {
		out := make([]string, len(s))
		for i, v := range s {
			out[len(s)-1-i] = v
		}
		return out
	}
	without := func(s []string, drop string) []string {
		var out []string
		for _, v := range s {
			if v != drop {
				out = append(out, v)
			}
		}
		return out
	}
	tests := []struct {
		name string
		ask  []string
		want []string
	}{
		{"empty", nil, nil},
		{"one", []string{ids[3]}, []string{ids[3]}},
		{"order of ids", []string{ids[9], ids[2], ids[7]}, []string{ids[9], ids[2], ids[7]}},
		{"missing and deleted skipped", []string{"test:nope", ids[4], ids[5], "test:nada", ids[6]}, []string{ids[4], ids[6]}},
		{"duplicate once", []string{ids[8], ids[1], ids[8]}, []string{ids[8], ids[1]}},
		{"all, reversed", reversed(ids), without(reversed(ids), ids[5])},
	}
	for _, tt := range tests {
		got, err := st.GetMany(ctx(t), tt.ask)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%s: got %d records, want %d", tt.name, len(got), len(tt.want))
		}
		for i, rec := range got {
			if rec.ID != tt.want[i] {
				t.Fatalf("%s: record %d is %s, want %s", tt.name, i, rec.ID, tt.want[i])
			}
			EqualRecord(t, rec, testRecord(rec.ID, 1))
		}
	}
}

// testConcurrentWriters: N writers increment one counter in one thing,
// each reading the record, writing revision+1 on the revision it read, and
// retrying on a conflict. No increment may be lost.
func testConcurrentWriters(t *testing.T, st Store) {
	const (
		writers   = 8
		perWriter = 15
	)
	id := "test:counter"
	MustPut(t, st, counterRecord(id, 1, 0), 0)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	var conflicts sync.Map
	for w := range writers {
		wg.Go(func() {
			for range perWriter {
				for attempt := 0; ; attempt++ {
					if attempt > 10000 {
						errs <- fmt.Errorf("writer %d: no progress", w)
						return
					}
					cur, err := st.Get(ctx(t), id)
					if err != nil {
						errs <- err
						return
					}
					var n int
					if _, err := fmt.Sscanf(string(cur.Doc), `{"attributes":{"n":%d}}`, &n); err != nil {
						errs <- fmt.Errorf("doc %s: %v", cur.Doc, err)
						return
					}
					err = st.Put(ctx(t), counterRecord(id, cur.Revision+1, n+1), cur.Revision)
					if errors.Is(err, twin.ErrRevisionConflict) {
						conflicts.Store(w, true)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := MustGet(t, st, id)
	want := counterRecord(id, 1+writers*perWriter, writers*perWriter)
	EqualRecord(t, got, want)
}

func counterRecord(id string, rev int64, n int) twin.Record {
	return twin.Record{ID: id, Namespace: "test", PolicyID: "test:p", Revision: rev,
		Created: time.Unix(1700000000, 0), Modified: time.Unix(1700000000, int64(rev)),
		Doc: fmt.Appendf(nil, `{"attributes":{"n":%d}}`, n)}
}

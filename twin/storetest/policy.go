package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/twin"
)

// The policy part of the contract (twin.PolicyStore): GetPolicy and
// PutPolicy behave as Get and Put do, on a collection of their own.

// MustPutPolicy puts the policy rec at prev, failing the test on any error.
func MustPutPolicy(t testing.TB, st Store, rec twin.Record, prev int64) {
	t.Helper()
	if err := st.PutPolicy(ctx(t), rec, prev); err != nil {
		t.Fatalf("PutPolicy(%s, rev %d, prev %d): %v", rec.ID, rec.Revision, prev, err)
	}
}

// MustGetPolicy gets the policy of id, failing the test on any error.
func MustGetPolicy(t testing.TB, st Store, id string) twin.Record {
	t.Helper()
	rec, err := st.GetPolicy(ctx(t), id)
	if err != nil {
		t.Fatalf("GetPolicy(%s): %v", id, err)
	}
	return rec
}

// policyRecord is a live policy record of id at rev: no policy id, and a
// document shaped like policy.Policy.StoredJSON, whose keys (subject ids,
// resource paths) hold ':', '/', '.' and '$', which a store must keep as
// they are.
func policyRecord(id string, rev int64) twin.Record {
	ns, _, _ := strings.Cut(id, ":")
	created := time.Date(2024, 7, 8, 9, 10, 11, 987654321, time.UTC)
	return twin.Record{
		ID:        id,
		Namespace: ns,
		Revision:  rev,
		Created:   created,
		Modified:  created.Add(time.Duration(rev) * time.Second),
		Doc: fmt.Appendf(nil, `{"_revision":%d,"policyId":%q,"entries":{"DEFAULT":{"subjects":{"nginx:ditto.admin":{"type":"pre-authenticated"},"$x":{"type":"t"}},`+
			`"resources":{"thing:/":{"grant":["READ","WRITE"],"revoke":[]},"thing:/attributes/a.b":{"grant":[],"revoke":["WRITE"]}}}}}`, rev, id),
	}
}

// testPolicyNotFound: a policy never stored is not found, even when a thing
// of that id exists.
func testPolicyNotFound(t *testing.T, st Store) {
	if _, err := st.GetPolicy(ctx(t), "test:never"); !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("GetPolicy of a missing id: err = %v, want ErrNotFound", err)
	}
	MustPut(t, st, testRecord("test:thing-only", 1), 0)
	if _, err := st.GetPolicy(ctx(t), "test:thing-only"); !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("GetPolicy of the id of a thing: err = %v, want ErrNotFound", err)
	}
}

// testPolicyRoundTrip: every field comes back as it was put, as for things.
func testPolicyRoundTrip(t *testing.T, st Store) {
	berlin := time.FixedZone("CEST", 2*60*60)
	full := policyRecord("org.example:policy-1", 7)
	full.Created = time.Date(2023, 1, 2, 3, 4, 5, 6, berlin)
	full.Modified = time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC) // the last storable nanosecond
	recs := []twin.Record{
		full,
		// Whitespace, escapes, number spellings and key order are kept.
		{ID: "org.example:policy-2", Namespace: "org.example", Revision: 1,
			Created:  time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Hour),
			Modified: time.Date(1970, 1, 1, 0, 0, 0, 999, time.UTC),
			Doc:      []byte("{ \"z\" : [1e2, -0, \"\\u00e9\"],\n\t\"entries\" : {} }")},
		// Zero times and an empty doc are stored as such.
		{ID: "org.example:bare", Namespace: "org.example", Revision: 1},
	}
	for _, want := range recs {
		MustPutPolicy(t, st, want, 0)
	}
	for _, want := range recs {
		got := MustGetPolicy(t, st, want.ID)
		EqualRecord(t, got, want)
		if !got.Created.IsZero() && (got.Created.Location() != time.UTC || got.Modified.Location() != time.UTC) {
			t.Errorf("%s: times not in UTC: %v, %v", want.ID, got.Created.Location(), got.Modified.Location())
		}
	}
	if bare := MustGetPolicy(t, st, "org.example:bare"); !bare.Created.IsZero() || !bare.Modified.IsZero() || bare.Doc != nil {
		t.Errorf("bare policy read back as %+v", bare)
	}
	checkPutCopiesDoc(t, policies(st))
}

// testPolicyRevisionConditions: create at prev 0, update at the stored
// revision; every other prev is a conflict that changes nothing.
func testPolicyRevisionConditions(t *testing.T, st Store) {
	MustPutPolicy(t, st, policyRecord("test:a", 1), 0)
	EqualRecord(t, MustGetPolicy(t, st, "test:a"), policyRecord("test:a", 1))
	MustPutPolicy(t, st, policyRecord("test:a", 2), 1)
	EqualRecord(t, MustGetPolicy(t, st, "test:a"), policyRecord("test:a", 2))
	checkConflicts(t, policies(st))
}

// testPolicyTombstone: a deleted policy keeps its revision, and a policy
// created again continues from it.
func testPolicyTombstone(t *testing.T, st Store) {
	id := "test:tomb"
	live := policyRecord(id, 1)
	MustPutPolicy(t, st, live, 0)
	tomb := tombstone(live)
	MustPutPolicy(t, st, tomb, 1)

	got := MustGetPolicy(t, st, id)
	EqualRecord(t, got, tomb)
	if !got.Deleted || got.Revision != 2 || got.Doc != nil {
		t.Fatalf("policy tombstone read back as %+v", got)
	}
	if err := st.PutPolicy(ctx(t), policyRecord(id, 1), 0); !errors.Is(err, twin.ErrRevisionConflict) {
		t.Fatalf("re-create at prev 0 over a tombstone: err = %v, want ErrRevisionConflict", err)
	}
	MustPutPolicy(t, st, policyRecord(id, 3), 2)
	EqualRecord(t, MustGetPolicy(t, st, id), policyRecord(id, 3))
}

// testPolicyThingIndependent: a policy and a thing of the same id (a
// thing's implicit policy) are two records: neither's revision condition,
// tombstone or reads see the other, and searches never see policies.
func testPolicyThingIndependent(t *testing.T, st Store) {
	id := "test:same"
	MustPut(t, st, testRecord(id, 1), 0)
	// prev 0: no policy yet, although the thing exists.
	MustPutPolicy(t, st, policyRecord(id, 1), 0)
	MustPut(t, st, testRecord(id, 2), 1)
	MustPut(t, st, testRecord(id, 3), 2)
	// The policy is still at 1: the thing's revision is no condition for it.
	if err := st.PutPolicy(ctx(t), policyRecord(id, 4), 3); !errors.Is(err, twin.ErrRevisionConflict) {
		t.Fatalf("PutPolicy at the thing's revision: err = %v, want ErrRevisionConflict", err)
	}
	MustPutPolicy(t, st, policyRecord(id, 2), 1)
	EqualRecord(t, MustGet(t, st, id), testRecord(id, 3))
	EqualRecord(t, MustGetPolicy(t, st, id), policyRecord(id, 2))

	// Deleting the thing leaves the policy, and the other way round.
	MustPut(t, st, tombstone(testRecord(id, 3)), 3)
	EqualRecord(t, MustGetPolicy(t, st, id), policyRecord(id, 2))
	other := "test:other"
	MustPut(t, st, testRecord(other, 1), 0)
	MustPutPolicy(t, st, policyRecord(other, 1), 0)
	MustPutPolicy(t, st, tombstone(policyRecord(other, 1)), 1)
	EqualRecord(t, MustGet(t, st, other), testRecord(other, 1))

	// A policy alone is no thing.
	only := "test:policy-only"
	MustPutPolicy(t, st, policyRecord(only, 1), 0)
	if _, err := st.Get(ctx(t), only); !errors.Is(err, twin.ErrNotFound) {
		t.Fatalf("Get of the id of a policy: err = %v, want ErrNotFound", err)
	}
	many, err := st.GetMany(ctx(t), []string{id, other, only})
	if err != nil || len(many) != 1 || many[0].ID != other {
		t.Fatalf("GetMany = %v, %v; want the thing %s only", IDs(many), err, other)
	}
	EqualRecord(t, many[0], testRecord(other, 1))
	page, err := st.Search(ctx(t), twin.SearchQuery{Namespaces: []string{"test"}})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != other {
		t.Fatalf("Search(test) = %v, %v; want the thing %s only", IDs(page.Records), err, other)
	}
	if n, err := st.Count(ctx(t), twin.SearchQuery{}); err != nil || n != 1 {
		t.Fatalf("Count() = %d, %v; want 1", n, err)
	}
}

// testPolicyInvalid: a record PutPolicy cannot store faithfully is refused
// with an error that is neither a conflict nor retryable, and nothing is
// stored.
func testPolicyInvalid(t *testing.T, st Store) {
	withPolicyID := policyRecord("test:with-policy-id", 1)
	withPolicyID.PolicyID = "test:p"
	far := policyRecord("test:far", 1)
	far.Modified = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  twin.Record
		prev int64
	}{
		{"empty id", twin.Record{Revision: 1}, 0},
		{"negative prev", policyRecord("test:neg", 1), -1},
		{"policy id set", withPolicyID, 0},
		{"time out of range", far, 0},
	}
	for _, tt := range tests {
		err := st.PutPolicy(ctx(t), tt.rec, tt.prev)
		if err == nil || errors.Is(err, twin.ErrUnavailable) || errors.Is(err, twin.ErrRevisionConflict) {
			t.Errorf("%s: err = %v, want a plain error", tt.name, err)
		}
		if _, err := st.GetPolicy(ctx(t), tt.rec.ID); !errors.Is(err, twin.ErrNotFound) {
			t.Errorf("%s: GetPolicy after a refused put: err = %v, want ErrNotFound", tt.name, err)
		}
	}
}

// testPolicyConcurrentWriters: things and policies written at once, each
// through a run of revisions, some policies with the id of a thing being
// written: every write succeeds and every record ends where its writer
// left it.
func testPolicyConcurrentWriters(t *testing.T, st Store) {
	const (
		n    = 24 // records of each kind; ids n/2 to n-1 are both
		revs = 5
	)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	write := func(policy bool, id string) {
		wg.Go(func() {
			for rev := int64(1); rev <= revs; rev++ {
				var err error
				if policy {
					err = st.PutPolicy(ctx(t), policyRecord(id, rev), rev-1)
				} else {
					err = st.Put(ctx(t), testRecord(id, rev), rev-1)
				}
				if err != nil {
					errs <- fmt.Errorf("policy %v, %s at %d: %w", policy, id, rev, err)
					return
				}
			}
		})
	}
	id := func(i int) string { return fmt.Sprintf("test:c-%02d", i) }
	for i := range n {
		write(true, id(i))
		write(false, id(i+n/2))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for i := range n {
		EqualRecord(t, MustGetPolicy(t, st, id(i)), policyRecord(id(i), revs))
		EqualRecord(t, MustGet(t, st, id(i+n/2)), testRecord(id(i+n/2), revs))
	}
	for i := range n / 2 {
		if _, err := st.Get(ctx(t), id(i)); !errors.Is(err, twin.ErrNotFound) {
			t.Errorf("thing %s, written as a policy only: err = %v, want ErrNotFound", id(i), err)
		}
		if _, err := st.GetPolicy(ctx(t), id(i+n)); !errors.Is(err, twin.ErrNotFound) {
			t.Errorf("policy %s, written as a thing only: err = %v, want ErrNotFound", id(i+n), err)
		}
	}
}

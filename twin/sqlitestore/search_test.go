package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/storetest"
)

// The contract suite (TestContract) holds Search and Count to rql's
// predicate over generated things, in every sort, while paging and
// writing, and holds cursors to the rules every store shares. The tests
// here cover what only this store has: the SQL translation and its limits,
// the cursor's encoding, the schema migration; they use the contract's
// generated things and cross-check (storetest.CrossCheck), so that the
// predicate stays the one judge.

// A key with a control character cannot occur in a stored thing (Ditto's
// keys exclude them), so the translation gives it no JSON path at all
// (sqlBuilder.jsonPath); such a filter must still answer as the predicate
// does, and empty() must not match the tombstones.
func TestSearchControlCharacterKeys(t *testing.T) {
	st := openTest(t, t.TempDir(), Config{})
	r := rand.New(rand.NewPCG(1, 2))
	recs := storetest.Seed(t, st, r, 100)
	for id, rec := range recs {
		if r.IntN(15) == 0 {
			storetest.MustPut(t, st, twin.Record{ID: id, Namespace: rec.Namespace, PolicyID: rec.PolicyID, Revision: rec.Revision + 1, Deleted: true}, rec.Revision)
			delete(recs, id)
		}
	}
	inputs := storetest.Inputs(t, recs)
	for _, f := range []string{`eq(attributes/x\u0001,1)`, `empty(attributes/x\u0001)`} {
		storetest.CrossCheck(t, st, recs, inputs, f, nil, 200)
	}
}

// This store's own bounds of a query and its cursor's encoding.
func TestSearchCursorRules(t *testing.T) {
	st := openTest(t, t.TempDir(), Config{})
	storetest.Seed(t, st, rand.New(rand.NewPCG(9, 10)), 40)
	ctx := context.Background()
	bad := []twin.SearchQuery{
		{Cursor: strings.Repeat("A", maxCursorLength+1)},
		{Filter: &rql.Compare{Op: "eq", Property: "attributes/" + strings.Repeat("a/", maxSearchKeys), Value: "x"}},
	}
	for i, q := range bad {
		_, err := st.Search(ctx, q)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Status != 400 {
			t.Errorf("bad query %d: err = %v, want a 400 *protocol.Error", i, err)
		}
	}
	// A long filter travels in a deflated cursor.
	long := `or(exists(features/lamp),in(thingId` + strings.Repeat(`,"org.x:no-such-thing"`, 80) + `))`
	ln, err := rql.ParseFilter(long)
	if err != nil {
		t.Fatal(err)
	}
	all := storetest.SearchAll(t, st, twin.SearchQuery{Filter: ln, Size: 200})
	paged := storetest.SearchAll(t, st, twin.SearchQuery{Filter: ln, Size: 2})
	if len(all) < 4 || !slices.Equal(storetest.IDs(all), storetest.IDs(paged)) {
		t.Errorf("long filter: %d things in one page, %v paged by 2", len(all), storetest.IDs(paged))
	}
	if page, _ := st.Search(ctx, twin.SearchQuery{Filter: ln, Size: 1}); !strings.HasPrefix(page.NextCursor, "e") { // 'z' in base64
		t.Errorf("cursor %.20q… is not deflated", page.NextCursor)
	}
	// A cursor whose values do not fit its sort.
	forged, _ := cursorData{Sort: []rql.SortKey{{Property: "thingId"}}, Values: []cursorValue{{"x"}}}.encode()
	if _, err := st.Search(ctx, twin.SearchQuery{Cursor: forged}); err == nil {
		t.Error("forged cursor accepted")
	}
}

func TestSearchAfterClose(t *testing.T) {
	st, err := Open(context.Background(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := st.Search(context.Background(), twin.SearchQuery{}); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("Search after Close: %v", err)
	}
	if _, err := st.Count(context.Background(), twin.SearchQuery{}); !errors.Is(err, twin.ErrUnavailable) {
		t.Errorf("Count after Close: %v", err)
	}
}

// The translation binds every value: text from a filter never becomes SQL.
func TestSearchBindsValues(t *testing.T) {
	b := newSQLBuilder()
	n, _ := rql.ParseFilter(`and(eq(attributes/x'); DROP TABLE things; --,"'); DROP TABLE things; --"),like(thingId,"' OR 1=1 --"))`)
	where, err := b.where(n, []string{"ns'--"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(where, "DROP") || strings.Contains(where, "OR 1=1") || strings.Contains(where, "ns'") {
		t.Errorf("a value reached the SQL: %s", where)
	}
}

// The largest filters ParseFilter accepts translate into SQL that SQLite
// accepts (expression depth, parameters) and answers like the predicate.
func TestSearchExtremeFilters(t *testing.T) {
	st := openTest(t, t.TempDir(), Config{})
	recs := storetest.Seed(t, st, rand.New(rand.NewPCG(11, 12)), 30)
	inputs := storetest.Inputs(t, recs)
	deepPath := "attributes/" + strings.TrimSuffix(strings.Repeat("a/", maxSearchKeys-1), "/")
	var wide []string
	for i := 0; ; i++ {
		leaf := fmt.Sprintf(`ne(attributes/deep/a/b/c,%d)`, i)
		if len(strings.Join(append(wide, leaf), ","))+len("or()") > rql.MaxFilterLength {
			break
		}
		wide = append(wide, leaf)
	}
	manyValues := func(prop string, value func(i int) string) string {
		f := "in(" + prop
		for i := 0; len(f)+40 < rql.MaxFilterLength; i++ {
			f += "," + value(i)
		}
		return f + ")"
	}
	filters := []string{
		manyValues("attributes/n", strconv.Itoa),
		manyValues("attributes/tags", func(i int) string { return []string{`"alpha"`, "true", "null", "2.5", strconv.Itoa(i)}[i%5] }),
		manyValues("thingId", func(i int) string { return fmt.Sprintf(`"org.a:thing-%04d"`, i) }),
		manyValues("_created", func(i int) string {
			return `"` + storetest.GenTimes[i%len(storetest.GenTimes)].Add(time.Duration(i)*time.Hour).Format(time.RFC3339Nano) + `"`
		}),
		strings.Repeat("not(", rql.MaxDepth) + `eq(` + deepPath + `,1)` + strings.Repeat(")", rql.MaxDepth),
		strings.Repeat("and(or(", rql.MaxDepth/2) + `empty(` + deepPath + `)` + strings.Repeat("))", rql.MaxDepth/2),
		strings.Repeat("not(", rql.MaxDepth) + `eq(features/*/properties/` + strings.Repeat("x/", maxSearchKeys-4) + `y,"z")` + strings.Repeat(")", rql.MaxDepth),
		"or(" + strings.Join(wide, ",") + ")",
		"and(" + strings.Join(wide, ",") + ")",
	}
	for _, f := range filters {
		if len(f) > rql.MaxFilterLength {
			t.Fatalf("test filter too long: %d", len(f))
		}
		storetest.CrossCheck(t, st, recs, inputs, f, nil, 200)
	}
}

// A database written by schema version 1 is migrated: its things keep
// everything and become searchable.
func TestSearchMigratesVersion1(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", dsn(dir+"/"+FileName, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range migrations[0] {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	recs := seedRaw(t, db, rand.New(rand.NewPCG(13, 14)), 50)
	if _, err := db.Exec(`INSERT INTO things (id, namespace, policy_id, revision, deleted, doc) VALUES ('x:gone', 'x', 'p', 3, 1, NULL), ('x:text', 'x', 'p', 1, 0, CAST('not json' AS BLOB))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st := openTest(t, dir, Config{})
	for id, rec := range recs {
		storetest.EqualRecord(t, storetest.MustGet(t, st, id), rec)
	}
	if rec := storetest.MustGet(t, st, "x:text"); string(rec.Doc) != "not json" {
		t.Errorf("doc = %q", rec.Doc)
	}
	inputs := storetest.Inputs(t, recs)
	// The thing whose doc is not JSON matches nothing in its document, the
	// tombstone nothing at all.
	recs["x:text"] = twin.Record{ID: "x:text", Namespace: "x", PolicyID: "p", Revision: 1}
	inputs["x:text"] = rql.Input{Thing: map[string]any{"thingId": "x:text", "policyId": "p", "_namespace": "x", "_revision": json.Number("1")}}
	for _, f := range []string{`exists(thingId)`, `eq(attributes/s,"alpha")`, `exists(features/*)`, `empty(attributes/n)`, `ne(_revision,1)`} {
		storetest.CrossCheck(t, st, recs, inputs, f, nil, 10)
	}
	// New writes fill search_doc too; a doc that is not JSON is still stored.
	storetest.MustPut(t, st, twin.Record{ID: "x:new", Namespace: "x", PolicyID: "p", Revision: 1, Doc: []byte(`{"attributes":{"s":"alpha"}}`)}, 0)
	storetest.MustPut(t, st, twin.Record{ID: "x:junk", Namespace: "x", PolicyID: "p", Revision: 1, Doc: []byte(`{junk`)}, 0)
	n, _ := rql.ParseFilter(`and(eq(_namespace,"x"),eq(attributes/s,"alpha"))`)
	page, err := st.Search(context.Background(), twin.SearchQuery{Filter: n})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != "x:new" {
		t.Errorf("search after migration: %v, %v", storetest.IDs(page.Records), err)
	}
}

// seedRaw inserts generated things with plain SQL (for an old schema).
func seedRaw(t *testing.T, db *sql.DB, r *rand.Rand, n int) map[string]twin.Record {
	t.Helper()
	recs := map[string]twin.Record{}
	for i := range n {
		rec := storetest.GenThing(r, i)
		created, _ := encodeTime(rec.Created)
		modified, _ := encodeTime(rec.Modified)
		if _, err := db.Exec(`INSERT INTO things (id, namespace, policy_id, revision, created, modified, deleted, doc) VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
			rec.ID, rec.Namespace, rec.PolicyID, rec.Revision, created, modified, rec.Doc); err != nil {
			t.Fatal(err)
		}
		recs[rec.ID] = rec
	}
	return recs
}

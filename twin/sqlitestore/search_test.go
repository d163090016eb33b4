package sqlitestore

import (
	"bytes"
	"cmp"
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
)

// The search tests store generated things and hold Search to rql's
// predicate: the ids a search returns (over all its pages) must be exactly
// the things for which rql.Compile(filter).Match is true.

var (
	genStrings = []string{"alpha", "Alpha", "ALPHA", "beta", "", "50%_x", "[a]*?", "München", "a\"b\\c", "x y",
		"2023-05-01T00:00:00Z", "2022", "org.example:lamp", "alpha2", "é"}
	genNumbers = []string{"-1", "0", "3", "5", "5.0", "7", "42", "2.5", "-0.5", "48.1", "1e2", "9007199254740993", "100"}
	genTimes   = []time.Time{
		time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC),
		time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2023, 5, 1, 0, 0, 0, 500_000_000, time.UTC),
		time.Date(2023, 5, 1, 0, 0, 0, 123_456_789, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
	}
)

// genValue is a random JSON scalar, or sometimes an array or object.
func genValue(r *rand.Rand, depth int) any {
	switch r.IntN(10) {
	case 0, 1, 2:
		return json.Number(genNumbers[r.IntN(len(genNumbers))])
	case 3, 4, 5:
		return genStrings[r.IntN(len(genStrings))]
	case 6:
		return r.IntN(2) == 0
	case 7:
		return nil
	case 8:
		if depth > 1 {
			return "leaf"
		}
		n := r.IntN(4)
		arr := make([]any, n)
		for i := range arr {
			arr[i] = genValue(r, depth+1)
		}
		return arr
	}
	if depth > 1 {
		return json.Number("1")
	}
	obj := map[string]any{}
	for range r.IntN(3) {
		obj[[]string{"k", "city", "a"}[r.IntN(3)]] = genValue(r, depth+1)
	}
	return obj
}

func maybe(r *rand.Rand, m map[string]any, key string, pct int, v func() any) {
	if r.IntN(100) < pct {
		m[key] = v()
	}
}

// genThing is a thing whose fields exercise every rule: mixed types, arrays
// of scalars and of objects, nested arrays, nulls, empty values, features
// with and without properties.
func genThing(r *rand.Rand, i int) twin.Record {
	ns := []string{"org.a", "org.b", "com.c"}[r.IntN(3)]
	id := fmt.Sprintf("%s:thing-%04d", ns, i)
	attrs := map[string]any{}
	maybe(r, attrs, "n", 80, func() any { return genValue(r, 1) })
	maybe(r, attrs, "s", 80, func() any { return genStrings[r.IntN(len(genStrings))] })
	maybe(r, attrs, "tags", 60, func() any {
		arr := []any{}
		for range r.IntN(4) {
			arr = append(arr, genValue(r, 2))
		}
		return arr
	})
	loc := func() any {
		return map[string]any{"city": genStrings[r.IntN(len(genStrings))], "lat": json.Number(genNumbers[r.IntN(len(genNumbers))])}
	}
	maybe(r, attrs, "loc", 70, func() any {
		switch r.IntN(4) {
		case 0:
			return []any{loc(), json.Number("3"), loc(), []any{loc()}}
		case 1:
			return "nowhere"
		}
		return loc()
	})
	maybe(r, attrs, "rooms", 50, func() any {
		var rooms []any
		for range r.IntN(4) {
			room := map[string]any{"name": genStrings[r.IntN(len(genStrings))]}
			if r.IntN(2) == 0 {
				room["size"] = []any{json.Number(genNumbers[r.IntN(len(genNumbers))]), json.Number("12")}
			} else {
				room["size"] = json.Number(genNumbers[r.IntN(len(genNumbers))])
			}
			rooms = append(rooms, room)
		}
		return rooms
	})
	maybe(r, attrs, "flag", 60, func() any { return r.IntN(2) == 0 })
	maybe(r, attrs, "obj", 50, func() any { return genValue(r, 0) })
	maybe(r, attrs, "deep", 40, func() any {
		leaf := map[string]any{"c": genValue(r, 2)}
		if r.IntN(2) == 0 {
			return map[string]any{"a": []any{map[string]any{"b": leaf}, map[string]any{"b": []any{leaf}}}}
		}
		return map[string]any{"a": map[string]any{"b": leaf}}
	})
	maybe(r, attrs, "weird key\"\\", 20, func() any { return genValue(r, 1) })
	features := map[string]any{}
	maybe(r, features, "lamp", 60, func() any {
		f := map[string]any{}
		maybe(r, f, "properties", 85, func() any {
			p := map[string]any{}
			maybe(r, p, "on", 70, func() any { return r.IntN(2) == 0 })
			maybe(r, p, "brightness", 70, func() any { return genValue(r, 1) })
			return p
		})
		maybe(r, f, "desiredProperties", 40, func() any {
			return map[string]any{"brightness": json.Number(genNumbers[r.IntN(len(genNumbers))])}
		})
		maybe(r, f, "definition", 40, func() any { return []any{"org.example:Lamp:1", genStrings[r.IntN(len(genStrings))]} })
		return f
	})
	maybe(r, features, "sensor", 50, func() any {
		return map[string]any{"properties": map[string]any{
			"temp": json.Number(genNumbers[r.IntN(len(genNumbers))]), "unit": genStrings[r.IntN(3)],
			"brightness": genValue(r, 1)}}
	})
	maybe(r, features, "empty", 20, func() any { return map[string]any{} })
	maybe(r, features, "nul", 5, func() any { return nil })
	doc := map[string]any{"thingId": id, "policyId": "org.example:p" + strconv.Itoa(r.IntN(3))}
	maybe(r, doc, "definition", 50, func() any { return genValue(r, 1) })
	if r.IntN(10) > 0 {
		doc["attributes"] = attrs
	}
	if r.IntN(10) > 1 {
		doc["features"] = features
	}
	created := genTimes[r.IntN(len(genTimes))].Add(time.Duration(r.IntN(3)) * time.Hour)
	modified := created.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
	if r.IntN(50) == 0 {
		created, modified = time.Time{}, time.Time{} // stored as NULL
	}
	return twin.Record{ID: id, Namespace: ns, PolicyID: doc["policyId"].(string), Revision: int64(1 + r.IntN(60)),
		Created: created, Modified: modified, Doc: mustJSON(doc)}
}

func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// inputOf is the predicate's view of a stored record: its document plus the
// special fields from the record.
func inputOf(t testing.TB, rec twin.Record) rql.Input {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(rec.Doc))
	dec.UseNumber()
	var thing map[string]any
	if err := dec.Decode(&thing); err != nil {
		t.Fatalf("decode %s: %v", rec.Doc, err)
	}
	thing["thingId"] = rec.ID
	thing["policyId"] = rec.PolicyID
	thing["_namespace"] = rec.Namespace
	thing["_revision"] = json.Number(strconv.FormatInt(rec.Revision, 10))
	if !rec.Created.IsZero() {
		thing["_created"] = protocol.FormatInstant(rec.Created)
	}
	if !rec.Modified.IsZero() {
		thing["_modified"] = protocol.FormatInstant(rec.Modified)
	}
	return rql.Input{Thing: thing}
}

// seed stores n generated things and returns them by id.
func seed(t testing.TB, st *Store, r *rand.Rand, n int) map[string]twin.Record {
	t.Helper()
	recs := map[string]twin.Record{}
	for i := range n {
		rec := genThing(r, i)
		mustPut(t, st, rec, 0)
		recs[rec.ID] = rec
	}
	return recs
}

// searchAll pages through every result of q, size records per page.
func searchAll(t testing.TB, st *Store, q twin.SearchQuery) []twin.Record {
	t.Helper()
	var out []twin.Record
	for pages := 0; ; pages++ {
		page, err := st.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("Search(%s, sort %v, cursor %q): %v", rql.Format(q.Filter), q.Sort, q.Cursor, err)
		}
		if len(page.Records) > max(q.Size, 1) || (page.NextCursor != "" && len(page.Records) == 0) {
			t.Fatalf("page of %d records, next cursor %q", len(page.Records), page.NextCursor)
		}
		out = append(out, page.Records...)
		if page.NextCursor == "" {
			return out
		}
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		q.Cursor = page.NextCursor
	}
}

func ids(recs []twin.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// crossCheck compares Search and Count with the predicate for one filter.
func crossCheck(t *testing.T, st *Store, recs map[string]twin.Record, inputs map[string]rql.Input, filter string, namespaces []string, size int) int {
	t.Helper()
	n, err := rql.ParseFilter(filter)
	if err != nil {
		t.Fatalf("ParseFilter(%s): %v", filter, err)
	}
	p, err := rql.Compile(n)
	if err != nil {
		t.Fatalf("Compile(%s): %v", filter, err)
	}
	var want []string
	for id, rec := range recs {
		if len(namespaces) > 0 && !slices.Contains(namespaces, rec.Namespace) {
			continue
		}
		if p.Match(inputs[id]) {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	got := ids(searchAll(t, st, twin.SearchQuery{Filter: n, Namespaces: namespaces, Size: size}))
	if !slices.Equal(got, want) { // sorted by thingId: the default sort
		t.Errorf("filter %s (namespaces %v): search and predicate differ\n only search:    %v\n only predicate: %v",
			filter, namespaces, minus(got, want), minus(want, got))
		return len(want)
	}
	count, err := st.Count(context.Background(), twin.SearchQuery{Filter: n, Namespaces: namespaces})
	if err != nil || count != int64(len(want)) {
		t.Errorf("Count(%s) = %d, %v; want %d", filter, count, err, len(want))
	}
	return len(want)
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// crossCheckFilters are hand-picked: every operator on every kind of
// property, the corner cases of the semantics.
var crossCheckFilters = []string{
	`exists(thingId)`,
	`eq(thingId,"org.a:thing-0007")`, `ne(thingId,"org.a:thing-0007")`, `gt(thingId,"org.b")`, `like(thingId,"*-00?3")`,
	`ilike(thingId,"ORG.A:*")`, `in(thingId,"org.a:thing-0001","com.c:thing-0002","x",5)`, `eq(thingId,5)`, `ne(thingId,5)`,
	`eq(policyId,"org.example:p1")`, `lt(policyId,"org.example:p1")`, `empty(policyId)`,
	`eq(_namespace,"org.b")`, `in(_namespace,"org.a","com.c")`, `like(_namespace,"org.*")`,
	`eq(_revision,7)`, `gt(_revision,30)`, `le(_revision,10.5)`, `eq(_revision,"7")`, `ne(_revision,7)`, `in(_revision,1,2,3.0)`,
	`exists(_created)`, `empty(_modified)`, `gt(_created,"2023-05-01T00:00:00.5Z")`, `ge(_created,"2023-05-01T00:00:00.500Z")`,
	`eq(_created,"2023-05-01T00:00:00.5Z")`, `eq(_created,"2023-05-01T00:00:00.123456Z")`,
	`eq(_created,"2023-05-01T00:00:00.123456789Z")`, `lt(_created,"2023-05-01T00:00:00.1234561Z")`,
	`le(_created,"2023-05-01T00:00:00.123456Z")`, `gt(_created,"2023-05-01T02:00:00.123456999+02:00")`,
	`gt(_modified,"2023")`, `lt(_modified,"2022-06-01T00:00:00Z")`, `like(_modified,"2023-05-0*")`, `ilike(_created,"*z")`,
	`like(_created,"*.5Z")`, `eq(_modified,null)`, `ne(_modified,"x")`, `eq(_created,1)`, `gt(_created,time:now-100000d)`,
	`lt(_created,time:now)`, `in(_created,"2021-03-04T05:06:07Z","2022-06-01T01:00:00Z")`,
	`gt(_created,"2023-05-01T00:00:00.1234565Z")`, `ge(_created,"2023-05-01T00:00:00.1234565Z")`,
	`lt(_created,"2023-05-01T00:00:00.1234565Z")`, `le(_created,"2023-05-01T00:00:00.1234565Z")`,
	`gt(_created,"2023-05-01T00:00:00.123456Z")`, `lt(_created,"2023-05-01T00:00:00.123456Z")`,
	`ge(_created,"2023-05-01T00:00:00.123456789Z")`, `le(_created,"2023-05-01T00:00:00.123455999Z")`,
	`gt(_created,"0001-01-01T00:00:00Z")`, `lt(_created,"9999-01-01T00:00:00Z")`, `eq(_created,"0001-01-01T00:00:00Z")`,
	`exists(definition)`, `eq(definition,"alpha")`, `eq(definition,5)`, `empty(definition)`, `like(definition,"*")`,
	`eq(attributes/n,5)`, `eq(attributes/n,5.0)`, `eq(attributes/n,"5")`, `gt(attributes/n,3)`, `ge(attributes/n,5)`,
	`lt(attributes/n,0)`, `le(attributes/n,-0.5)`, `eq(attributes/n,9007199254740993)`, `gt(attributes/n,9007199254740992.0)`,
	`eq(attributes/n,100)`, `eq(attributes/n,true)`, `gt(attributes/n,false)`, `ge(attributes/n,false)`, `lt(attributes/n,true)`,
	`le(attributes/n,true)`, `gt(attributes/n,true)`, `lt(attributes/n,false)`, `le(attributes/n,false)`, `ge(attributes/n,true)`,
	`eq(attributes/n,null)`, `ne(attributes/n,null)`, `gt(attributes/n,null)`, `ne(attributes/n,5)`, `exists(attributes/n)`,
	`empty(attributes/n)`, `not(empty(attributes/n))`, `gt(attributes/n,"a")`, `lt(attributes/n,"alpha")`,
	`eq(attributes/s,"alpha")`, `ne(attributes/s,"alpha")`, `gt(attributes/s,"beta")`, `le(attributes/s,"Alpha")`,
	`like(attributes/s,"alpha*")`, `like(attributes/s,"?lpha")`, `ilike(attributes/s,"alpha")`, `ilike(attributes/s,"*H*")`,
	`like(attributes/s,"50%*")`, `like(attributes/s,"50_*")`, `ilike(attributes/s,"50%_*")`, `like(attributes/s,"[a]*")`,
	`like(attributes/s,"[a]??")`, `ilike(attributes/s,"MüNCHEN")`, `ilike(attributes/s,"MÜNCHEN")`, `like(attributes/s,"M?nchen")`,
	`like(attributes/s,"*\"*")`, `like(attributes/s,"*\\*")`, `eq(attributes/s,"a\"b\\c")`, `like(attributes/s,"")`,
	`like(attributes/s,"*")`, `like(attributes/s,"?")`, `empty(attributes/s)`, `in(attributes/s,"alpha","beta","",5)`,
	`eq(attributes/s,"é")`, `like(attributes/s,"?")`, `ilike(attributes/s,"É")`,
	`eq(attributes/tags,"alpha")`, `eq(attributes/tags,5)`, `gt(attributes/tags,5)`, `eq(attributes/tags,null)`,
	`ne(attributes/tags,"alpha")`, `like(attributes/tags,"a*")`, `empty(attributes/tags)`, `exists(attributes/tags)`,
	`in(attributes/tags,true,false)`, `eq(attributes/tags,"leaf")`, `eq(attributes/tags/k,1)`,
	`eq(attributes/loc/city,"alpha")`, `exists(attributes/loc/city)`, `ne(attributes/loc/city,"alpha")`, `gt(attributes/loc/lat,5)`,
	`empty(attributes/loc/city)`, `eq(attributes/loc,"nowhere")`, `eq(attributes/loc,3)`, `exists(attributes/loc/lat)`,
	`like(attributes/loc/city,"*a")`, `eq(attributes/loc/lat,48.1)`, `lt(attributes/loc/lat,0)`,
	`eq(attributes/rooms/name,"beta")`, `eq(attributes/rooms/size,12)`, `gt(attributes/rooms/size,42)`, `ne(attributes/rooms/size,12)`,
	`exists(attributes/rooms/size)`, `empty(attributes/rooms)`, `empty(attributes/rooms/name)`, `exists(attributes/rooms)`,
	`eq(attributes/flag,true)`, `ne(attributes/flag,true)`, `eq(attributes/flag,"true")`, `empty(attributes/flag)`,
	`exists(attributes/obj)`, `empty(attributes/obj)`, `eq(attributes/obj/k,5)`, `exists(attributes/obj/k)`, `eq(attributes/obj,"alpha")`,
	`eq(attributes/obj/city,"alpha")`, `exists(attributes/obj/a)`, `empty(attributes/obj/a)`, `eq(attributes/obj/a,"leaf")`,
	`eq(attributes/deep/a/b/c,5)`, `exists(attributes/deep/a/b/c)`, `empty(attributes/deep/a/b/c)`, `ne(attributes/deep/a/b/c,5)`,
	`like(attributes/deep/a/b/c,"*")`, `exists(attributes/deep/a/b)`, `eq(attributes/deep/a/b/c,null)`,
	`exists(attributes/weird key\"\\)`, `eq(attributes/weird key\"\\,5)`, `eq(attributes/x\u0001,1)`, `empty(attributes/x\u0001)`,
	`exists(attributes/)`, `empty(attributes/)`, `exists(_metadata)`, `empty(_metadata/a)`,
	`exists(features/lamp)`, `empty(features/lamp)`, `exists(features/lamp/properties)`, `empty(features/lamp/properties)`,
	`exists(features/lamp/desiredProperties)`, `exists(features/lamp/definition)`, `eq(features/lamp/definition,"org.example:Lamp:1")`,
	`like(features/lamp/definition,"*a")`, `eq(features/lamp/properties/on,true)`, `ne(features/lamp/properties/on,true)`,
	`gt(features/lamp/properties/brightness,5)`, `eq(features/lamp/properties/brightness,"alpha")`,
	`eq(features/lamp/desiredProperties/brightness,42)`, `lt(features/sensor/properties/temp,3)`,
	`eq(features/sensor/properties/unit,"Alpha")`, `exists(features/empty)`, `empty(features/empty)`, `empty(features/nul)`,
	`exists(features/nul)`, `exists(features/nul/properties)`,
	`exists(features/*)`, `empty(features/*)`, `eq(features/*/properties/brightness,5)`, `gt(features/*/properties/brightness,5)`,
	`ne(features/*/properties/brightness,5)`, `exists(features/*/properties/brightness)`, `empty(features/*/properties/brightness)`,
	`exists(features/*/properties)`, `empty(features/*/properties)`, `exists(features/*/desiredProperties)`,
	`eq(features/*/desiredProperties/brightness,42)`, `like(features/*/definition,"org*")`, `exists(features/*/definition)`,
	`empty(features/*/definition)`, `in(features/*/properties/unit,"alpha","beta")`, `like(features/*/properties/brightness,"*a*")`,
	`and(exists(features/lamp),eq(attributes/s,"alpha"))`, `or(eq(attributes/n,5),eq(attributes/s,"beta"),empty(attributes/tags))`,
	`not(and(gt(_revision,10),or(exists(attributes/loc),not(exists(features/*)))))`,
	`and(or(eq(_namespace,"org.a"),eq(_namespace,"org.b")),not(empty(attributes/s)),ge(_revision,5))`,
}

func TestSearchCrossCheck(t *testing.T) {
	t.Parallel()
	st := openTest(t, t.TempDir(), Config{})
	r := rand.New(rand.NewPCG(1, 2))
	recs := seed(t, st, r, 400)
	// Some things are deleted: tombstones never match.
	for id, rec := range recs {
		if r.IntN(15) == 0 {
			mustPut(t, st, twin.Record{ID: id, Namespace: rec.Namespace, PolicyID: rec.PolicyID, Revision: rec.Revision + 1, Deleted: true}, rec.Revision)
			delete(recs, id)
		}
	}
	inputs := map[string]rql.Input{}
	for id, rec := range recs {
		inputs[id] = inputOf(t, rec)
	}
	// The filters must discriminate: most match some things but not all.
	var none, all, some int
	tally := func(matched int) {
		switch matched {
		case 0:
			none++
		case len(recs):
			all++
		default:
			some++
		}
	}
	for _, f := range crossCheckFilters {
		tally(crossCheck(t, st, recs, inputs, f, nil, 200))
	}
	for _, f := range []string{`exists(thingId)`, `eq(attributes/s,"alpha")`, `exists(features/*)`} {
		crossCheck(t, st, recs, inputs, f, []string{"org.b"}, 13)
		crossCheck(t, st, recs, inputs, f, []string{"com.c", "org.a", "org.a"}, 7)
		crossCheck(t, st, recs, inputs, f, []string{"none"}, 7)
	}
	// Random filters over the same vocabulary.
	g := filterGen{r: rand.New(rand.NewPCG(3, 4))}
	for range 300 {
		tally(crossCheck(t, st, recs, inputs, rql.Format(g.node(0)), nil, 150))
	}
	t.Logf("%d things; filters matching none: %d, some: %d, all: %d", len(recs), none, some, all)
	if 2*some < none+some+all {
		t.Errorf("too few discriminating filters: none %d, some %d, all %d", none, some, all)
	}
}

// filterGen makes random filters over the generated things' vocabulary.
type filterGen struct{ r *rand.Rand }

var (
	genFilterProps = []string{"thingId", "policyId", "_namespace", "_revision", "_created", "_modified", "definition",
		"attributes/n", "attributes/s", "attributes/tags", "attributes/loc", "attributes/loc/city", "attributes/loc/lat",
		"attributes/rooms/name", "attributes/rooms/size", "attributes/flag", "attributes/obj", "attributes/obj/k",
		"attributes/obj/a", "attributes/deep/a/b/c", "attributes/missing", "features/lamp/properties/brightness",
		"features/lamp/properties/on", "features/*/properties/brightness", "features/*/properties/temp",
		"features/lamp/definition", "features/*/definition", "features/sensor/properties/unit",
		"features/lamp/desiredProperties/brightness", "features/*/desiredProperties/brightness"}
	genExistsProps = append(slices.Clone(genFilterProps), "features/lamp", "features/*", "features/empty", "features/nul",
		"features/lamp/properties", "features/sensor/desiredProperties", "features/*/properties", "attributes/deep/a/b")
	genPatterns = []string{"a*", "*a*", "?lpha", "A*", "50%*", "[a]*", "*", "*_*", "M?nchen", "org.*", "2023-*", "*Z", "", "?", "*9*"}
	genTimeLits = []string{"2023-05-01T00:00:00.5Z", "2023-05-01T00:00:00.123456Z", "2022-06-01T00:00:00Z", "2022", "2024-12-31T23:59:59.999999Z"}
)

func (g filterGen) literal() any {
	switch g.r.IntN(9) {
	case 0, 1:
		n, _ := strconv.ParseInt(genNumbers[g.r.IntN(4)+1], 10, 64)
		return n + int64(g.r.IntN(50))
	case 2:
		return []float64{2.5, 5.0, -0.5, 48.1, 100.0, 9007199254740992.0}[g.r.IntN(6)]
	case 3, 4:
		return genStrings[g.r.IntN(len(genStrings))]
	case 5:
		return genTimeLits[g.r.IntN(len(genTimeLits))]
	case 6:
		return g.r.IntN(2) == 0
	case 7:
		return nil
	}
	return rql.Placeholder{Name: []string{"time:now", "time:now-1000d", "time:now_epoch_millis"}[g.r.IntN(3)]}
}

func (g filterGen) node(depth int) rql.Node {
	k := g.r.IntN(14)
	if depth >= 3 && k >= 11 {
		k = g.r.IntN(11)
	}
	prop := genFilterProps[g.r.IntN(len(genFilterProps))]
	switch k {
	case 0, 1, 2, 3, 4, 5:
		op := []string{"eq", "ne", "gt", "ge", "lt", "le"}[k]
		return &rql.Compare{Op: op, Property: prop, Value: g.literal()}
	case 6:
		op := []string{"like", "ilike"}[g.r.IntN(2)]
		return &rql.Compare{Op: op, Property: prop, Value: genPatterns[g.r.IntN(len(genPatterns))]}
	case 7:
		n := &rql.In{Property: prop}
		for range 1 + g.r.IntN(3) {
			n.Values = append(n.Values, g.literal())
		}
		return n
	case 8:
		return &rql.Exists{Property: genExistsProps[g.r.IntN(len(genExistsProps))]}
	case 9, 10:
		return &rql.Empty{Property: genExistsProps[g.r.IntN(len(genExistsProps))]}
	case 11:
		return &rql.Not{Child: g.node(depth + 1)}
	}
	var children []rql.Node
	for range 1 + g.r.IntN(3) {
		children = append(children, g.node(depth+1))
	}
	if k == 12 {
		return &rql.And{Children: children}
	}
	return &rql.Or{Children: children}
}

// sortValue is the documented sort order of one key for one thing, as a
// comparable: rank (0 missing/null, 1 number, 2 string, 3 object, 4 array,
// 5 boolean) and value.
type sortValue struct {
	rank int
	num  float64 // exact enough for the generated numbers
	big  bool    // the one number beyond float64's integers
	str  string
	t    time.Time
}

func sortValueOf(rec twin.Record, in rql.Input, prop string) sortValue {
	switch prop {
	case "thingId":
		return sortValue{rank: 2, str: rec.ID}
	case "policyId":
		return sortValue{rank: 2, str: rec.PolicyID}
	case "_namespace":
		return sortValue{rank: 2, str: rec.Namespace}
	case "_revision":
		return sortValue{rank: 1, num: float64(rec.Revision)}
	case "_created", "_modified":
		t := rec.Created
		if prop == "_modified" {
			t = rec.Modified
		}
		if t.IsZero() {
			return sortValue{}
		}
		return sortValue{rank: 1, t: t}
	}
	f, _ := rql.ResolveField(prop, rql.UseSort)
	var v any = in.Thing
	for _, k := range f.Keys {
		m, ok := v.(map[string]any)
		if !ok {
			return sortValue{}
		}
		if v, ok = m[k]; !ok {
			return sortValue{}
		}
	}
	switch x := v.(type) {
	case nil:
		return sortValue{}
	case json.Number:
		fv, _ := x.Float64()
		return sortValue{rank: 1, num: fv, big: x == "9007199254740993"}
	case string:
		return sortValue{rank: 2, str: x}
	case map[string]any:
		return sortValue{rank: 3, str: string(mustJSON(x))}
	case []any:
		return sortValue{rank: 4, str: string(mustJSON(x))}
	case bool:
		if x {
			return sortValue{rank: 5, num: 1}
		}
		return sortValue{rank: 5}
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

func compareSortValues(a, b sortValue) int {
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	if c := a.t.Compare(b.t); c != 0 {
		return c
	}
	if c := cmp.Compare(a.num, b.num); c != 0 {
		return c
	}
	if a.big != b.big {
		if a.big {
			return 1
		}
		return -1
	}
	return strings.Compare(a.str, b.str)
}

func TestSearchSortCrossCheck(t *testing.T) {
	t.Parallel()
	st := openTest(t, t.TempDir(), Config{})
	r := rand.New(rand.NewPCG(5, 6))
	recs := seed(t, st, r, 300)
	inputs := map[string]rql.Input{}
	for id, rec := range recs {
		inputs[id] = inputOf(t, rec)
	}
	sorts := []string{
		"+thingId", "-thingId", "+attributes/n", "-attributes/n", "+attributes/s,-thingId", "-attributes/s",
		"+attributes/obj", "-attributes/tags", "+attributes/loc/city,+attributes/n", "-attributes/loc/lat,-_revision",
		"+_revision,+policyId", "-_modified", "+_created,-attributes/flag", "+definition", "-definition,+_namespace",
		"+features/lamp/properties/brightness", "-features/sensor/properties/temp,+attributes/missing",
		"+_namespace,-thingId,+attributes/n", `+attributes/weird key\"\\`, "+_metadata/x",
	}
	for _, sortText := range sorts {
		opts, err := rql.ParseOptions("sort(" + sortText + ")")
		if err != nil {
			t.Fatalf("%s: %v", sortText, err)
		}
		for _, filter := range []string{"", `exists(attributes/n)`, `not(eq(_namespace,"org.a"))`} {
			var n rql.Node
			if filter != "" {
				n, _ = rql.ParseFilter(filter)
			}
			p, _ := rql.Compile(n)
			var want []twin.Record
			for id, rec := range recs {
				if p.Match(inputs[id]) {
					want = append(want, rec)
				}
			}
			keys := normalizeSort(opts.Sort)
			slices.SortFunc(want, func(a, b twin.Record) int {
				for _, k := range keys {
					c := compareSortValues(sortValueOf(a, inputs[a.ID], k.Property), sortValueOf(b, inputs[b.ID], k.Property))
					if k.Descending {
						c = -c
					}
					if c != 0 {
						return c
					}
				}
				return 0
			})
			for _, size := range []int{23, 200} {
				got := ids(searchAll(t, st, twin.SearchQuery{Filter: n, Sort: opts.Sort, Size: size}))
				if !slices.Equal(got, ids(want)) {
					t.Errorf("sort(%s) filter %q size %d:\n got %v\nwant %v", sortText, filter, size, got, ids(want))
				}
			}
		}
	}
}

// Paging stays exact while things are created and deleted between pages:
// no thing twice, and every thing that existed throughout and matches
// exactly once.
func TestSearchPagingWhileWriting(t *testing.T) {
	t.Parallel()
	st := openTest(t, t.TempDir(), Config{})
	r := rand.New(rand.NewPCG(7, 8))
	recs := seed(t, st, r, 300)
	filter, _ := rql.ParseFilter(`or(exists(attributes/n),exists(features/lamp))`)
	p, _ := rql.Compile(filter)
	for _, sortOpt := range []string{"", "sort(+attributes/n)", "sort(-_modified,+attributes/s)", "sort(-thingId)"} {
		var sortKeys []rql.SortKey
		if sortOpt != "" {
			o, err := rql.ParseOptions(sortOpt)
			if err != nil {
				t.Fatal(err)
			}
			sortKeys = o.Sort
		}
		live := map[string]twin.Record{}
		for id, rec := range recs {
			live[id] = rec
		}
		throughout := map[string]bool{}
		for id, rec := range live {
			if p.Match(inputOf(t, rec)) {
				throughout[id] = true
			}
		}
		seen := map[string]int{}
		q := twin.SearchQuery{Filter: filter, Sort: sortKeys, Size: 7}
		next := len(recs) + 1000*len(seen)
		for {
			page, err := st.Search(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: %v", sortOpt, err)
			}
			for _, rec := range page.Records {
				seen[rec.ID]++
			}
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
			// Write between pages: create two things, delete one.
			for range 2 {
				rec := genThing(r, next)
				rec.ID = fmt.Sprintf("%s:new-%s-%05d", rec.Namespace, strings.Trim(sortOpt, "sort()+-"), next)
				next++
				mustPut(t, st, rec, 0)
				live[rec.ID] = rec
			}
			for id, rec := range live {
				if r.IntN(3) == 0 {
					mustPut(t, st, twin.Record{ID: id, Namespace: rec.Namespace, PolicyID: rec.PolicyID, Revision: rec.Revision + 1, Deleted: true}, rec.Revision)
					delete(live, id)
					delete(throughout, id)
					break
				}
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("%s: %s returned %d times", sortOpt, id, n)
			}
		}
		for id := range throughout {
			if seen[id] != 1 {
				t.Errorf("%s: %s existed throughout and matches, returned %d times", sortOpt, id, seen[id])
			}
		}
		// Restore the original things for the next sort.
		for id, rec := range live {
			if _, orig := recs[id]; !orig {
				mustPut(t, st, twin.Record{ID: id, Namespace: rec.Namespace, PolicyID: rec.PolicyID, Revision: rec.Revision + 1, Deleted: true}, rec.Revision)
			}
		}
		for id, rec := range recs {
			if _, ok := live[id]; !ok {
				cur := mustGet(t, st, id)
				rec.Revision = cur.Revision + 1
				mustPut(t, st, rec, cur.Revision)
				recs[id] = rec
			}
		}
	}
}

func TestSearchCursorRules(t *testing.T) {
	st := openTest(t, t.TempDir(), Config{})
	r := rand.New(rand.NewPCG(9, 10))
	seed(t, st, r, 40)
	ctx := context.Background()
	filter, _ := rql.ParseFilter(`exists(thingId)`)
	sortKeys := []rql.SortKey{{Property: "_revision", Descending: true}}
	first, err := st.Search(ctx, twin.SearchQuery{Filter: filter, Sort: sortKeys, Namespaces: []string{"org.a", "org.b"}, Size: 5})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	// A cursor alone continues the query it was made for (filter, sort and
	// namespaces come from it, as in Ditto).
	alone, err := st.Search(ctx, twin.SearchQuery{Cursor: first.NextCursor, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	same, err := st.Search(ctx, twin.SearchQuery{Filter: filter, Sort: sortKeys, Namespaces: []string{"org.b", "org.a"}, Cursor: first.NextCursor, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(alone.Records), ids(same.Records)) || len(same.Records) == 0 {
		t.Errorf("cursor alone %v, cursor with its query %v", ids(alone.Records), ids(same.Records))
	}
	for _, rec := range same.Records {
		if rec.Namespace == "com.c" {
			t.Errorf("%s is outside the namespaces", rec.ID)
		}
	}
	otherFilter, _ := rql.ParseFilter(`exists(policyId)`)
	bad := []twin.SearchQuery{
		{Filter: otherFilter, Cursor: first.NextCursor},
		{Sort: []rql.SortKey{{Property: "_revision"}}, Cursor: first.NextCursor},
		{Namespaces: []string{"org.a"}, Cursor: first.NextCursor},
		{Cursor: "not a cursor!"},
		{Cursor: "AAAA"},
		{Cursor: strings.Repeat("A", maxCursorLength+1)},
		{Size: rql.MaxSize + 1},
		{Size: -1},
		{Sort: []rql.SortKey{{Property: "nope"}}},
		{Filter: &rql.Compare{Op: "eq", Property: "topic:action", Value: "x"}},
		{Filter: &rql.Compare{Op: "eq", Property: "attributes/" + strings.Repeat("a/", maxSearchKeys), Value: "x"}},
		{Filter: &rql.And{}},
		{Filter: (*rql.Or)(nil)},
		{Filter: &rql.Not{Child: (*rql.Exists)(nil)}},
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
	all := searchAll(t, st, twin.SearchQuery{Filter: ln, Size: 200})
	paged := searchAll(t, st, twin.SearchQuery{Filter: ln, Size: 2})
	if len(all) < 4 || !slices.Equal(ids(all), ids(paged)) {
		t.Errorf("long filter: %d things in one page, %v paged by 2", len(all), ids(paged))
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
	recs := seed(t, st, rand.New(rand.NewPCG(11, 12)), 30)
	inputs := map[string]rql.Input{}
	for id, rec := range recs {
		inputs[id] = inputOf(t, rec)
	}
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
			return `"` + genTimes[i%len(genTimes)].Add(time.Duration(i)*time.Hour).Format(time.RFC3339Nano) + `"`
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
		crossCheck(t, st, recs, inputs, f, nil, 200)
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
		equalRecord(t, mustGet(t, st, id), rec)
	}
	if rec := mustGet(t, st, "x:text"); string(rec.Doc) != "not json" {
		t.Errorf("doc = %q", rec.Doc)
	}
	inputs := map[string]rql.Input{}
	for id, rec := range recs {
		inputs[id] = inputOf(t, rec)
	}
	// The thing whose doc is not JSON matches nothing in its document, the
	// tombstone nothing at all.
	recs["x:text"] = twin.Record{ID: "x:text", Namespace: "x", PolicyID: "p", Revision: 1}
	inputs["x:text"] = rql.Input{Thing: map[string]any{"thingId": "x:text", "policyId": "p", "_namespace": "x", "_revision": json.Number("1")}}
	for _, f := range []string{`exists(thingId)`, `eq(attributes/s,"alpha")`, `exists(features/*)`, `empty(attributes/n)`, `ne(_revision,1)`} {
		crossCheck(t, st, recs, inputs, f, nil, 10)
	}
	// New writes fill search_doc too; a doc that is not JSON is still stored.
	mustPut(t, st, twin.Record{ID: "x:new", Namespace: "x", PolicyID: "p", Revision: 1, Doc: []byte(`{"attributes":{"s":"alpha"}}`)}, 0)
	mustPut(t, st, twin.Record{ID: "x:junk", Namespace: "x", PolicyID: "p", Revision: 1, Doc: []byte(`{junk`)}, 0)
	n, _ := rql.ParseFilter(`and(eq(_namespace,"x"),eq(attributes/s,"alpha"))`)
	page, err := st.Search(context.Background(), twin.SearchQuery{Filter: n})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != "x:new" {
		t.Errorf("search after migration: %v, %v", ids(page.Records), err)
	}
}

// seedRaw inserts generated things with plain SQL (for an old schema).
func seedRaw(t *testing.T, db *sql.DB, r *rand.Rand, n int) map[string]twin.Record {
	t.Helper()
	recs := map[string]twin.Record{}
	for i := range n {
		rec := genThing(r, i)
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

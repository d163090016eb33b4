package storetest

import (
	"bytes"
	"cmp"
	"encoding/json"
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

// The generated things: every JSON type at every kind of property, arrays
// of scalars, of objects and of arrays, nulls and empty values, features
// with and without properties (and a null feature, which Ditto allows),
// and keys that a store may treat specially. They follow Ditto's thing
// model (attributes, features, a feature and its properties are objects),
// as every thing the twin handler writes does.

var (
	genStrings = []string{"alpha", "Alpha", "ALPHA", "beta", "", "50%_x", "[a]*?", "München", "a\"b\\c", "x y",
		"2023-05-01T00:00:00Z", "2022", "org.example:lamp", "alpha2", "é", "a.b", "$x", "~0", "line\nbreak"}
	genNumbers = []string{"-1", "0", "3", "5", "5.0", "7", "42", "2.5", "-0.5", "48.1", "1e2", "9007199254740993", "100", "-0"}
	// GenTimes are the instants a generated thing is created at, or one or
	// two hours after, so that filters built from them hit some things.
	GenTimes = []time.Time{
		time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC),
		time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2023, 5, 1, 0, 0, 0, 500_000_000, time.UTC),
		time.Date(2023, 5, 1, 0, 0, 0, 123_456_789, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
	}
	// specialKeys are keys MongoDB gives a meaning (paths, operators, array
	// indexes) or that a store's escaping must not confuse.
	specialKeys = []string{"a.b", "$x", "~", "~0", "0", "1x", "a~1", "$", "."}
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
		obj[[]string{"k", "city", "a", "0", "a.b"}[r.IntN(5)]] = genValue(r, depth+1)
	}
	return obj
}

func maybe(r *rand.Rand, m map[string]any, key string, pct int, v func() any) {
	if r.IntN(100) < pct {
		m[key] = v()
	}
}

// GenThing is the i-th generated thing.
func GenThing(r *rand.Rand, i int) twin.Record {
	ns := []string{"org.a", "org.b", "com.c"}[r.IntN(3)]
	id := fmt.Sprintf("%s:thing-%04d", ns, i)
	num := func() any { return json.Number(genNumbers[r.IntN(len(genNumbers))]) }
	str := func() any { return genStrings[r.IntN(len(genStrings))] }
	attrs := map[string]any{}
	maybe(r, attrs, "n", 80, func() any { return genValue(r, 1) })
	maybe(r, attrs, "s", 80, str)
	maybe(r, attrs, "tags", 60, func() any {
		arr := []any{}
		for range r.IntN(4) {
			switch r.IntN(5) {
			case 0:
				arr = append(arr, map[string]any{"0": num(), "k": genValue(r, 2)})
			case 1:
				arr = append(arr, []any{num(), str()})
			default:
				arr = append(arr, genValue(r, 2))
			}
		}
		return arr
	})
	loc := func() any { return map[string]any{"city": str(), "lat": num()} }
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
			room := map[string]any{"name": str()}
			if r.IntN(2) == 0 {
				room["size"] = []any{num(), json.Number("12")}
			} else {
				room["size"] = num()
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
	maybe(r, attrs, "sp", 50, func() any {
		m := map[string]any{}
		for range 1 + r.IntN(4) {
			k := specialKeys[r.IntN(len(specialKeys))]
			if r.IntN(3) == 0 {
				m[k] = map[string]any{"y.z": genValue(r, 2), "$": num()}
			} else {
				m[k] = genValue(r, 2)
			}
		}
		return m
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
		maybe(r, f, "desiredProperties", 40, func() any { return map[string]any{"brightness": num()} })
		maybe(r, f, "definition", 40, func() any { return []any{"org.example:Lamp:1", str()} })
		return f
	})
	maybe(r, features, "sensor", 50, func() any {
		return map[string]any{"properties": map[string]any{"temp": num(), "unit": genStrings[r.IntN(3)], "brightness": genValue(r, 1)}}
	})
	maybe(r, features, "empty", 20, func() any { return map[string]any{} })
	maybe(r, features, "nul", 5, func() any { return nil })
	maybe(r, features, "a.b$", 10, func() any { return map[string]any{"properties": map[string]any{"x.y": num()}} })
	doc := map[string]any{"thingId": id, "policyId": "org.example:p" + strconv.Itoa(r.IntN(3))}
	maybe(r, doc, "definition", 50, func() any { return genValue(r, 1) })
	if r.IntN(10) > 0 {
		doc["attributes"] = attrs
	}
	if r.IntN(10) > 1 {
		doc["features"] = features
	}
	created := GenTimes[r.IntN(len(GenTimes))].Add(time.Duration(r.IntN(3)) * time.Hour)
	modified := created.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
	if r.IntN(50) == 0 {
		created, modified = time.Time{}, time.Time{}
	}
	return twin.Record{ID: id, Namespace: ns, PolicyID: doc["policyId"].(string), Revision: int64(1 + r.IntN(60)),
		Created: created, Modified: modified, Doc: mustJSON(doc)}
}

// mustJSON is compact JSON with sorted keys and no HTML escaping: the
// text a generated thing is stored as, so that the compact text of any
// part of it is mustJSON of that part.
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

// Inputs are the predicate's views of recs, by id, as CrossCheck takes them.
func Inputs(t testing.TB, recs map[string]twin.Record) map[string]rql.Input {
	t.Helper()
	inputs := make(map[string]rql.Input, len(recs))
	for id, rec := range recs {
		inputs[id] = inputOf(t, rec)
	}
	return inputs
}

// Seed stores n generated things and returns them by id.
func Seed(t testing.TB, st Store, r *rand.Rand, n int) map[string]twin.Record {
	t.Helper()
	recs := map[string]twin.Record{}
	for i := range n {
		rec := GenThing(r, i)
		MustPut(t, st, rec, 0)
		recs[rec.ID] = rec
	}
	return recs
}

// SearchAll pages through every result of q, holding each page to its
// size.
func SearchAll(t testing.TB, st Store, q twin.SearchQuery) []twin.Record {
	t.Helper()
	var out []twin.Record
	for pages := 0; ; pages++ {
		page, err := st.Search(ctx(t), q)
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

// IDs are the ids of recs, in order.
func IDs(recs []twin.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
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

// sortRecords orders recs as the documented sort keys do.
func sortRecords(recs []twin.Record, inputs map[string]rql.Input, keys []rql.SortKey) {
	full := slices.Clone(keys)
	if !slices.ContainsFunc(full, func(k rql.SortKey) bool { return k.Property == "thingId" }) {
		full = append(full, rql.SortKey{Property: "thingId"})
	}
	slices.SortFunc(recs, func(a, b twin.Record) int {
		for _, k := range full {
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
}

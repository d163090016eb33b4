package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

// CrossCheck compares Search (paged by size) and Count, within namespaces
// if any, with the predicate for one filter, and returns how many things
// match. inputs are the predicate's views of recs (Inputs).
func CrossCheck(t *testing.T, st Store, recs map[string]twin.Record, inputs map[string]rql.Input, filter string, namespaces []string, size int) int {
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
	got := IDs(SearchAll(t, st, twin.SearchQuery{Filter: n, Namespaces: namespaces, Size: size}))
	if !slices.Equal(got, want) { // sorted by thingId: the default sort
		t.Errorf("filter %s (namespaces %v): search and predicate differ\n only search:    %v\n only predicate: %v",
			filter, namespaces, minus(got, want), minus(want, got))
		return len(want)
	}
	count, err := st.Count(ctx(t), twin.SearchQuery{Filter: n, Namespaces: namespaces})
	if err != nil || count != int64(len(want)) {
		t.Errorf("Count(%s) = %d, %v; want %d", filter, count, err, len(want))
	}
	return len(want)
}

// crossCheckFilters are hand-picked: every operator on every kind of
// property, the corner cases of the semantics.
var crossCheckFilters = []string{
	`exists(thingId)`,
	`eq(thingId,"org.a:thing-0007")`, `ne(thingId,"org.a:thing-0007")`, `gt(thingId,"org.b")`, `like(thingId,"*-00?3")`,
	`ilike(thingId,"ORG.A:*")`, `in(thingId,"org.a:thing-0001","com.c:thing-0002","x",5)`, `eq(thingId,5)`, `ne(thingId,5)`,
	`eq(policyId,"org.example:p1")`, `lt(policyId,"org.example:p1")`, `empty(policyId)`, `exists(policyId)`,
	`eq(_namespace,"org.b")`, `in(_namespace,"org.a","com.c")`, `like(_namespace,"org.*")`, `gt(_namespace,null)`,
	`eq(_revision,7)`, `gt(_revision,30)`, `le(_revision,10.5)`, `eq(_revision,"7")`, `ne(_revision,7)`, `in(_revision,1,2,3.0)`,
	`empty(_revision)`, `exists(_revision)`, `like(_revision,"*")`,
	`exists(_created)`, `empty(_modified)`, `gt(_created,"2023-05-01T00:00:00.5Z")`, `ge(_created,"2023-05-01T00:00:00.500Z")`,
	`eq(_created,"2023-05-01T00:00:00.5Z")`, `eq(_created,"2023-05-01T00:00:00.123456Z")`,
	`eq(_created,"2023-05-01T00:00:00.123456789Z")`, `lt(_created,"2023-05-01T00:00:00.1234561Z")`,
	`le(_created,"2023-05-01T00:00:00.123456Z")`, `gt(_created,"2023-05-01T02:00:00.123456999+02:00")`,
	`gt(_modified,"2023")`, `lt(_modified,"2022-06-01T00:00:00Z")`, `like(_modified,"2023-05-0*")`, `ilike(_created,"*z")`,
	`like(_created,"*.5Z")`, `eq(_modified,null)`, `ne(_modified,"x")`, `eq(_created,1)`, `gt(_created,time:now-100000d)`,
	`lt(_created,time:now)`, `in(_created,"2021-03-04T05:06:07Z","2022-06-01T01:00:00Z")`, `ne(_created,"2021-03-04T05:06:07Z")`,
	`gt(_created,"2023-05-01T00:00:00.1234565Z")`, `ge(_created,"2023-05-01T00:00:00.1234565Z")`,
	`lt(_created,"2023-05-01T00:00:00.1234565Z")`, `le(_created,"2023-05-01T00:00:00.1234565Z")`,
	`gt(_created,"2023-05-01T00:00:00.123456Z")`, `lt(_created,"2023-05-01T00:00:00.123456Z")`,
	`ge(_created,"2023-05-01T00:00:00.123456789Z")`, `le(_created,"2023-05-01T00:00:00.123455999Z")`,
	`gt(_created,"0001-01-01T00:00:00Z")`, `lt(_created,"9999-01-01T00:00:00Z")`, `eq(_created,"0001-01-01T00:00:00Z")`,
	`exists(definition)`, `eq(definition,"alpha")`, `eq(definition,5)`, `empty(definition)`, `like(definition,"*")`,
	`eq(attributes/n,5)`, `eq(attributes/n,5.0)`, `eq(attributes/n,"5")`, `gt(attributes/n,3)`, `ge(attributes/n,5)`,
	`lt(attributes/n,0)`, `le(attributes/n,-0.5)`, `eq(attributes/n,0)`, `eq(attributes/n,9007199254740993)`,
	`gt(attributes/n,9007199254740992.0)`, `eq(attributes/n,100)`, `eq(attributes/n,true)`, `gt(attributes/n,false)`,
	`ge(attributes/n,false)`, `lt(attributes/n,true)`, `le(attributes/n,true)`, `gt(attributes/n,true)`, `lt(attributes/n,false)`,
	`le(attributes/n,false)`, `ge(attributes/n,true)`, `eq(attributes/n,null)`, `ne(attributes/n,null)`, `gt(attributes/n,null)`,
	`le(attributes/n,null)`, `ne(attributes/n,5)`, `exists(attributes/n)`, `empty(attributes/n)`, `not(empty(attributes/n))`,
	`gt(attributes/n,"a")`, `lt(attributes/n,"alpha")`, `ge(attributes/n,"")`,
	`eq(attributes/s,"alpha")`, `ne(attributes/s,"alpha")`, `gt(attributes/s,"beta")`, `le(attributes/s,"Alpha")`,
	`like(attributes/s,"alpha*")`, `like(attributes/s,"?lpha")`, `ilike(attributes/s,"alpha")`, `ilike(attributes/s,"*H*")`,
	`like(attributes/s,"50%*")`, `like(attributes/s,"50_*")`, `ilike(attributes/s,"50%_*")`, `like(attributes/s,"[a]*")`,
	`like(attributes/s,"[a]??")`, `ilike(attributes/s,"MüNCHEN")`, `ilike(attributes/s,"MÜNCHEN")`, `like(attributes/s,"M?nchen")`,
	`like(attributes/s,"*\"*")`, `like(attributes/s,"*\\*")`, `eq(attributes/s,"a\"b\\c")`, `like(attributes/s,"")`,
	`like(attributes/s,"*")`, `like(attributes/s,"?")`, `empty(attributes/s)`, `in(attributes/s,"alpha","beta","",5)`,
	`eq(attributes/s,"é")`, `ilike(attributes/s,"É")`, `like(attributes/s,"a.b")`, `like(attributes/s,"$*")`,
	`like(attributes/s,"~?")`, `like(attributes/s,"line*")`, `like(attributes/s,"*break")`, `like(attributes/s,"line?break")`,
	`like(attributes/s,"**a**")`, `like(attributes/s,"a*b*c")`, `ilike(attributes/s,"?*")`,
	`eq(attributes/tags,"alpha")`, `eq(attributes/tags,5)`, `gt(attributes/tags,5)`, `eq(attributes/tags,null)`,
	`ne(attributes/tags,"alpha")`, `like(attributes/tags,"a*")`, `empty(attributes/tags)`, `exists(attributes/tags)`,
	`in(attributes/tags,true,false)`, `eq(attributes/tags,"leaf")`, `eq(attributes/tags/k,1)`, `eq(attributes/tags/0,5)`,
	`exists(attributes/tags/0)`, `gt(attributes/tags/0,3)`, `empty(attributes/tags/0)`, `ne(attributes/tags/0,5)`,
	`eq(attributes/loc/city,"alpha")`, `exists(attributes/loc/city)`, `ne(attributes/loc/city,"alpha")`, `gt(attributes/loc/lat,5)`,
	`empty(attributes/loc/city)`, `eq(attributes/loc,"nowhere")`, `eq(attributes/loc,3)`, `exists(attributes/loc/lat)`,
	`like(attributes/loc/city,"*a")`, `eq(attributes/loc/lat,48.1)`, `lt(attributes/loc/lat,0)`, `empty(attributes/loc)`,
	`eq(attributes/rooms/name,"beta")`, `eq(attributes/rooms/size,12)`, `gt(attributes/rooms/size,42)`, `ne(attributes/rooms/size,12)`,
	`exists(attributes/rooms/size)`, `empty(attributes/rooms)`, `empty(attributes/rooms/name)`, `exists(attributes/rooms)`,
	`empty(attributes/rooms/size)`,
	`eq(attributes/flag,true)`, `ne(attributes/flag,true)`, `eq(attributes/flag,"true")`, `empty(attributes/flag)`,
	`exists(attributes/obj)`, `empty(attributes/obj)`, `eq(attributes/obj/k,5)`, `exists(attributes/obj/k)`, `eq(attributes/obj,"alpha")`,
	`eq(attributes/obj/city,"alpha")`, `exists(attributes/obj/a)`, `empty(attributes/obj/a)`, `eq(attributes/obj/a,"leaf")`,
	`exists(attributes/obj/0)`, `eq(attributes/obj/a.b,5)`, `exists(attributes/obj/a.b)`,
	`eq(attributes/deep/a/b/c,5)`, `exists(attributes/deep/a/b/c)`, `empty(attributes/deep/a/b/c)`, `ne(attributes/deep/a/b/c,5)`,
	`like(attributes/deep/a/b/c,"*")`, `exists(attributes/deep/a/b)`, `eq(attributes/deep/a/b/c,null)`, `empty(attributes/deep/a)`,
	`exists(attributes/sp/a.b)`, `eq(attributes/sp/a.b,5)`, `exists(attributes/sp/$x)`, `exists(attributes/sp/$x/y.z)`,
	`eq(attributes/sp/$x/y.z,5)`, `exists(attributes/sp/$x/$)`, `exists(attributes/sp/~)`, `exists(attributes/sp/~0)`,
	`eq(attributes/sp/~0,"alpha")`, `exists(attributes/sp/0)`, `gt(attributes/sp/0,3)`, `exists(attributes/sp/1x)`,
	`exists(attributes/sp/a~1)`, `exists(attributes/sp/$)`, `exists(attributes/sp/.)`, `empty(attributes/sp/.)`,
	`ne(attributes/sp/$,1)`, `like(attributes/sp/a.b,"*")`, `exists(attributes/sp/a)`, `exists(attributes/sp/x)`, `empty(attributes/sp)`,
	`exists(attributes/weird key\"\\)`, `eq(attributes/weird key\"\\,5)`,
	`exists(attributes/)`, `empty(attributes/)`, `exists(_metadata)`, `empty(_metadata/a)`,
	`exists(features/lamp)`, `empty(features/lamp)`, `exists(features/lamp/properties)`, `empty(features/lamp/properties)`,
	`exists(features/lamp/desiredProperties)`, `exists(features/lamp/definition)`, `eq(features/lamp/definition,"org.example:Lamp:1")`,
	`like(features/lamp/definition,"*a")`, `eq(features/lamp/properties/on,true)`, `ne(features/lamp/properties/on,true)`,
	`gt(features/lamp/properties/brightness,5)`, `eq(features/lamp/properties/brightness,"alpha")`,
	`eq(features/lamp/desiredProperties/brightness,42)`, `lt(features/sensor/properties/temp,3)`,
	`eq(features/sensor/properties/unit,"Alpha")`, `exists(features/empty)`, `empty(features/empty)`, `empty(features/nul)`,
	`exists(features/nul)`, `exists(features/nul/properties)`, `exists(features/a.b$)`, `gt(features/a.b$/properties/x.y,3)`,
	`exists(features/*)`, `empty(features/*)`, `eq(features/*/properties/brightness,5)`, `gt(features/*/properties/brightness,5)`,
	`ne(features/*/properties/brightness,5)`, `exists(features/*/properties/brightness)`, `empty(features/*/properties/brightness)`,
	`exists(features/*/properties)`, `empty(features/*/properties)`, `exists(features/*/desiredProperties)`,
	`eq(features/*/desiredProperties/brightness,42)`, `like(features/*/definition,"org*")`, `exists(features/*/definition)`,
	`empty(features/*/definition)`, `in(features/*/properties/unit,"alpha","beta")`, `like(features/*/properties/brightness,"*a*")`,
	`eq(features/*/properties/x.y,5)`, `ne(features/*/properties/on,true)`, `empty(features/*/desiredProperties)`,
	`and(exists(features/lamp),eq(attributes/s,"alpha"))`, `or(eq(attributes/n,5),eq(attributes/s,"beta"),empty(attributes/tags))`,
	`not(and(gt(_revision,10),or(exists(attributes/loc),not(exists(features/*)))))`,
	`and(or(eq(_namespace,"org.a"),eq(_namespace,"org.b")),not(empty(attributes/s)),ge(_revision,5))`,
	`not(not(eq(attributes/s,"alpha")))`, `and(eq(attributes/n,5))`,
}

func testSearchCrossCheck(t *testing.T, st Store) {
	r := rand.New(rand.NewPCG(1, 2))
	recs := Seed(t, st, r, 400)
	// Some things are deleted: tombstones never match.
	for id, rec := range recs {
		if r.IntN(15) == 0 {
			tomb := rec
			tomb.Revision++
			tomb.Deleted, tomb.Doc = true, nil
			MustPut(t, st, tomb, rec.Revision)
			delete(recs, id)
		}
	}
	inputs := Inputs(t, recs)
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
		tally(CrossCheck(t, st, recs, inputs, f, nil, 200))
	}
	for _, f := range []string{`exists(thingId)`, `eq(attributes/s,"alpha")`, `exists(features/*)`} {
		CrossCheck(t, st, recs, inputs, f, []string{"org.b"}, 13)
		CrossCheck(t, st, recs, inputs, f, []string{"com.c", "org.a", "org.a"}, 7)
		CrossCheck(t, st, recs, inputs, f, []string{"none"}, 7)
	}
	// Random filters over the same vocabulary.
	g := filterGen{r: rand.New(rand.NewPCG(3, 4))}
	for range 300 {
		tally(CrossCheck(t, st, recs, inputs, rql.Format(g.node(0)), nil, 150))
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
		"attributes/n", "attributes/s", "attributes/tags", "attributes/tags/0", "attributes/loc", "attributes/loc/city",
		"attributes/loc/lat", "attributes/rooms/name", "attributes/rooms/size", "attributes/flag", "attributes/obj",
		"attributes/obj/k", "attributes/obj/a", "attributes/obj/a.b", "attributes/deep/a/b/c", "attributes/missing",
		"attributes/sp/a.b", "attributes/sp/$x/y.z", "attributes/sp/0", "attributes/sp/~0",
		"features/lamp/properties/brightness", "features/lamp/properties/on", "features/*/properties/brightness",
		"features/*/properties/temp", "features/lamp/definition", "features/*/definition", "features/sensor/properties/unit",
		"features/lamp/desiredProperties/brightness", "features/*/desiredProperties/brightness", "features/*/properties/x.y"}
	genExistsProps = append(slices.Clone(genFilterProps), "features/lamp", "features/*", "features/empty", "features/nul",
		"features/lamp/properties", "features/sensor/desiredProperties", "features/*/properties", "attributes/deep/a/b",
		"attributes/sp", "attributes/sp/$x")
	genPatterns = []string{"a*", "*a*", "?lpha", "A*", "50%*", "[a]*", "*", "*_*", "M?nchen", "org.*", "2023-*", "*Z", "", "?",
		"*9*", "$*", "*.*", "~*"}
	genTimeLits = []string{"2023-05-01T00:00:00.5Z", "2023-05-01T00:00:00.123456Z", "2022-06-01T00:00:00Z", "2022",
		"2024-12-31T23:59:59.999999Z"}
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

// testSortOrder holds every sort to the documented order, over all pages.
func testSortOrder(t *testing.T, st Store) {
	r := rand.New(rand.NewPCG(5, 6))
	recs := Seed(t, st, r, 300)
	inputs := Inputs(t, recs)
	sorts := []string{
		"+thingId", "-thingId", "+attributes/n", "-attributes/n", "+attributes/s,-thingId", "-attributes/s",
		"+attributes/obj", "-attributes/obj", "+attributes/tags", "-attributes/tags", "+attributes/loc/city,+attributes/n",
		"-attributes/loc/lat,-_revision", "+_revision,+policyId", "-_modified", "+_modified", "+_created,-attributes/flag",
		"+definition", "-definition,+_namespace", "+features/lamp/properties/brightness",
		"-features/sensor/properties/temp,+attributes/missing", "+_namespace,-thingId,+attributes/n",
		`+attributes/weird key\"\\`, "+_metadata/x", "+attributes/sp/a.b", "-attributes/sp/$x", "+attributes/sp/0,-attributes/sp/~0",
		"+attributes/", "-attributes/deep/a", "+features/a.b$/properties/x.y", "+attributes/n,+attributes/n,-attributes/s",
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
			sortRecords(want, inputs, opts.Sort)
			for _, size := range []int{23, 200} {
				got := IDs(SearchAll(t, st, twin.SearchQuery{Filter: n, Sort: opts.Sort, Size: size}))
				if !slices.Equal(got, IDs(want)) {
					t.Errorf("sort(%s) filter %q size %d:\n got %v\nwant %v", sortText, filter, size, got, IDs(want))
				}
			}
		}
	}
}

// testPagingWhileWriting: paging stays exact while things are created and
// deleted between pages: no thing twice, and every thing that existed
// throughout and matches exactly once.
func testPagingWhileWriting(t *testing.T, st Store) {
	r := rand.New(rand.NewPCG(7, 8))
	recs := Seed(t, st, r, 300)
	filter, _ := rql.ParseFilter(`or(exists(attributes/n),exists(features/lamp))`)
	p, _ := rql.Compile(filter)
	next := len(recs) + 1000
	for _, sortOpt := range []string{"", "sort(+attributes/n)", "sort(-_modified,+attributes/s)", "sort(-thingId)", "sort(-attributes/obj)"} {
		var sortKeys []rql.SortKey
		if sortOpt != "" {
			o, err := rql.ParseOptions(sortOpt)
			if err != nil {
				t.Fatal(err)
			}
			sortKeys = o.Sort
		}
		live := map[string]twin.Record{}
		throughout := map[string]bool{}
		for id, rec := range recs {
			live[id] = rec
			if p.Match(inputOf(t, rec)) {
				throughout[id] = true
			}
		}
		seen := map[string]int{}
		q := twin.SearchQuery{Filter: filter, Sort: sortKeys, Size: 7}
		for {
			page, err := st.Search(ctx(t), q)
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
				rec := GenThing(r, next)
				rec.ID = fmt.Sprintf("%s:new-%05d", rec.Namespace, next)
				next++
				MustPut(t, st, rec, 0)
				live[rec.ID] = rec
			}
			for id, rec := range live {
				if r.IntN(3) == 0 {
					MustPut(t, st, twin.Record{ID: id, Namespace: rec.Namespace, PolicyID: rec.PolicyID, Revision: rec.Revision + 1, Deleted: true}, rec.Revision)
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
				MustPut(t, st, twin.Record{ID: id, Namespace: rec.Namespace, PolicyID: rec.PolicyID, Revision: rec.Revision + 1, Deleted: true}, rec.Revision)
			}
		}
		for id, rec := range recs {
			if _, ok := live[id]; !ok {
				cur := MustGet(t, st, id)
				rec.Revision = cur.Revision + 1
				MustPut(t, st, rec, cur.Revision)
				recs[id] = rec
			}
		}
	}
}

func testCursorRules(t *testing.T, st Store) {
	Seed(t, st, rand.New(rand.NewPCG(9, 10)), 40)
	filter, _ := rql.ParseFilter(`exists(thingId)`)
	sortKeys := []rql.SortKey{{Property: "_revision", Descending: true}}
	first, err := st.Search(ctx(t), twin.SearchQuery{Filter: filter, Sort: sortKeys, Namespaces: []string{"org.a", "org.b"}, Size: 5})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	// A cursor alone continues the query it was made for (filter, sort and
	// namespaces come from it, as in Ditto).
	alone, err := st.Search(ctx(t), twin.SearchQuery{Cursor: first.NextCursor, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	same, err := st.Search(ctx(t), twin.SearchQuery{Filter: filter, Sort: sortKeys, Namespaces: []string{"org.b", "org.a"}, Cursor: first.NextCursor, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(IDs(alone.Records), IDs(same.Records)) || len(same.Records) == 0 {
		t.Errorf("cursor alone %v, cursor with its query %v", IDs(alone.Records), IDs(same.Records))
	}
	for _, rec := range same.Records {
		if rec.Namespace == "com.c" {
			t.Errorf("%s is outside the namespaces", rec.ID)
		}
	}
	if slices.ContainsFunc(same.Records, func(r twin.Record) bool { return slices.Contains(IDs(first.Records), r.ID) }) {
		t.Errorf("second page %v repeats the first %v", IDs(same.Records), IDs(first.Records))
	}
	otherFilter, _ := rql.ParseFilter(`exists(policyId)`)
	bad := []twin.SearchQuery{
		{Filter: otherFilter, Cursor: first.NextCursor},
		{Sort: []rql.SortKey{{Property: "_revision"}}, Cursor: first.NextCursor},
		{Namespaces: []string{"org.a"}, Cursor: first.NextCursor},
		{Cursor: "not a cursor!"},
		{Cursor: "AAAA"},
		{Cursor: strings.Repeat("A", 1<<20)},
		{Size: rql.MaxSize + 1},
		{Size: -1},
		{Sort: []rql.SortKey{{Property: "nope"}}},
		{Filter: &rql.Compare{Op: "eq", Property: "topic:action", Value: "x"}},
		{Filter: &rql.And{}},
		{Filter: (*rql.Or)(nil)},
		{Filter: &rql.Not{Child: (*rql.Exists)(nil)}},
		{Filter: &rql.Compare{Op: "like", Property: "attributes/s", Value: 5}},
		{Filter: &rql.Compare{Op: "nope", Property: "attributes/s", Value: 5}},
		{Filter: &rql.In{Property: "attributes/s"}},
	}
	for i, q := range bad {
		_, err := st.Search(ctx(t), q)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Status != 400 {
			t.Errorf("bad query %d: err = %v, want a 400 *protocol.Error", i, err)
		}
	}
}

func testCount(t *testing.T, st Store) {
	recs := Seed(t, st, rand.New(rand.NewPCG(11, 12)), 60)
	byNS := map[string]int64{}
	for _, rec := range recs {
		byNS[rec.Namespace]++
	}
	n, err := st.Count(ctx(t), twin.SearchQuery{})
	if err != nil || n != int64(len(recs)) {
		t.Fatalf("Count() = %d, %v; want %d", n, err, len(recs))
	}
	// Sort, size and cursor are ignored.
	n, err = st.Count(ctx(t), twin.SearchQuery{Namespaces: []string{"org.b"}, Size: 1, Sort: []rql.SortKey{{Property: "nope"}}, Cursor: "junk"})
	if err != nil || n != byNS["org.b"] {
		t.Fatalf("Count(org.b) = %d, %v; want %d", n, err, byNS["org.b"])
	}
	// Tombstones are not counted.
	for id, rec := range recs {
		MustPut(t, st, twin.Record{ID: id, Namespace: rec.Namespace, PolicyID: rec.PolicyID, Revision: rec.Revision + 1, Deleted: true}, rec.Revision)
		break
	}
	n, err = st.Count(ctx(t), twin.SearchQuery{})
	if err != nil || n != int64(len(recs)-1) {
		t.Fatalf("Count() after a delete = %d, %v; want %d", n, err, len(recs)-1)
	}
	bad, _ := rql.ParseFilter(`eq(topic:action,"x")`)
	var pe *protocol.Error
	if _, err := st.Count(ctx(t), twin.SearchQuery{Filter: bad}); !errors.As(err, &pe) || pe.Status != 400 {
		t.Errorf("Count with a placeholder property: err = %v, want a 400 *protocol.Error", err)
	}
}

// testListByNamespace: listing a namespace is a search with Namespaces and
// no filter, in thingId order, page by page.
func testListByNamespace(t *testing.T, st Store) {
	var want []string
	for i := range 60 {
		ns := []string{"org.list", "org.other", "org.list2"}[i%3]
		rec := testRecord(fmt.Sprintf("%s:t-%03d", ns, 59-i), 1)
		MustPut(t, st, rec, 0)
		if ns == "org.list" {
			want = append(want, rec.ID)
		}
	}
	slices.Sort(want)
	got := IDs(SearchAll(t, st, twin.SearchQuery{Namespaces: []string{"org.list"}, Size: 6}))
	if !slices.Equal(got, want) {
		t.Errorf("list org.list:\n got %v\nwant %v", got, want)
	}
	if got := SearchAll(t, st, twin.SearchQuery{Namespaces: []string{"org.none"}}); len(got) != 0 {
		t.Errorf("list of an empty namespace: %v", IDs(got))
	}
	// The records come whole.
	page, err := st.Search(ctx(t), twin.SearchQuery{Namespaces: []string{"org.list"}, Size: 1})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("first of org.list: %v, %v", page, err)
	}
	EqualRecord(t, page.Records[0], testRecord(want[0], 1))
}

// testSpecialKeys: keys with '.', '$', '~' and digits round-trip exactly
// and can be searched and sorted by.
func testSpecialKeys(t *testing.T, st Store) {
	docs := []string{
		`{"attributes":{"a.b":1,"$x":{"y.z":2},"~":3,"~0":4,"0":5,"$":6,".":7,"a~1b":8,"1x":{"0":9}},"features":{"f.1":{"properties":{"$p":10}}},"thingId":"sp:one"}`,
		`{"attributes":{"a":{"b":1},"x":{"y":{"z":2}},"0":[5,6],"list":[{"0":7},8]},"thingId":"sp:two"}`,
		`{"attributes":{"a.b":"1","$x":{"y.z":[2]}},"thingId":"sp:three"}`,
	}
	recs := map[string]twin.Record{}
	inputs := map[string]rql.Input{}
	for i, d := range docs {
		id := []string{"sp:one", "sp:two", "sp:three"}[i]
		rec := twin.Record{ID: id, Namespace: "sp", PolicyID: "sp:p", Revision: 1, Doc: []byte(d)}
		MustPut(t, st, rec, 0)
		EqualRecord(t, MustGet(t, st, id), rec)
		recs[id] = rec
		inputs[id] = inputOf(t, rec)
	}
	for _, f := range []string{
		`eq(attributes/a.b,1)`, `eq(attributes/a.b,"1")`, `exists(attributes/a.b)`, `eq(attributes/a/b,1)`,
		`eq(attributes/$x/y.z,2)`, `exists(attributes/$x)`, `eq(attributes/x/y/z,2)`, `eq(attributes/~,3)`,
		`eq(attributes/~0,4)`, `eq(attributes/0,5)`, `eq(attributes/0,6)`, `eq(attributes/$,6)`, `eq(attributes/.,7)`,
		`eq(attributes/a~1b,8)`, `eq(attributes/1x/0,9)`, `eq(attributes/list/0,7)`, `eq(attributes/list/0,8)`,
		`exists(attributes/list/0)`, `eq(features/f.1/properties/$p,10)`, `eq(features/*/properties/$p,10)`,
		`empty(attributes/0)`, `empty(attributes/1x/0)`, `ne(attributes/a.b,1)`, `like(attributes/a.b,"1")`,
	} {
		CrossCheck(t, st, recs, inputs, f, nil, 2)
	}
	for _, s := range []string{"+attributes/a.b", "-attributes/$x", "+attributes/0", "-attributes/~"} {
		opts, err := rql.ParseOptions("sort(" + s + ")")
		if err != nil {
			t.Fatal(err)
		}
		var want []twin.Record
		for _, rec := range recs {
			want = append(want, rec)
		}
		sortRecords(want, inputs, opts.Sort)
		if got := IDs(SearchAll(t, st, twin.SearchQuery{Sort: opts.Sort, Size: 2})); !slices.Equal(got, IDs(want)) {
			t.Errorf("sort(%s): got %v, want %v", s, got, IDs(want))
		}
	}
}

// testLargeDocument: a thing of about 100 kB, Ditto's default limit, with
// wide and deep parts, is stored, read and searched like any other.
func testLargeDocument(t *testing.T, st Store) {
	attrs := map[string]any{}
	for i := 0; len(mustJSON(attrs)) < 90_000; i++ {
		attrs[fmt.Sprintf("k%05d", i)] = strings.Repeat("v", 40) + strconv.Itoa(i)
	}
	var deep any = "bottom"
	for range 120 {
		deep = map[string]any{"d": deep}
	}
	attrs["deep"] = deep
	attrs["wide"] = []any{[]any{[]any{[]any{1, 2}}}, map[string]any{"x.y": []any{3}}}
	doc := mustJSON(map[string]any{"attributes": attrs, "thingId": "big:one"})
	if len(doc) < 90_000 || len(doc) > 110_000 {
		t.Fatalf("document of %d bytes", len(doc))
	}
	rec := twin.Record{ID: "big:one", Namespace: "big", PolicyID: "big:p", Revision: 1, Doc: doc}
	MustPut(t, st, rec, 0)
	EqualRecord(t, MustGet(t, st, rec.ID), rec)
	rec2 := rec
	rec2.Revision = 2
	rec2.Doc = append(doc[:len(doc)-1:len(doc)-1], `,"more":1}`...)
	MustPut(t, st, rec2, 1)
	EqualRecord(t, MustGet(t, st, rec.ID), rec2)
	recs := map[string]twin.Record{rec.ID: rec2}
	inputs := map[string]rql.Input{rec.ID: inputOf(t, rec2)}
	for _, f := range []string{
		`eq(attributes/k00007,"` + strings.Repeat("v", 40) + `7")`, `exists(attributes/deep/d/d/d/d/d/d/d/d/d/d/d/d/d/d)`,
		`empty(attributes/deep/d/d/d/d/d/d/d/d/d/d/d/d/d/d)`, `exists(attributes/wide/x.y)`, `eq(attributes/wide,1)`,
		`eq(attributes/wide/x.y,3)`, `empty(attributes/wide)`, `like(attributes/k00001,"v*1")`,
	} {
		CrossCheck(t, st, recs, inputs, f, nil, 1)
	}
	if got := IDs(SearchAll(t, st, twin.SearchQuery{Sort: []rql.SortKey{{Property: "attributes/deep"}}})); !slices.Equal(got, []string{rec.ID}) {
		t.Errorf("sort by a deep object: %v", got)
	}
}

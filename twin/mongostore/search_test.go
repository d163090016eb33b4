package mongostore

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

func mustSort(t *testing.T, text string) []rql.SortKey {
	t.Helper()
	if text == "" {
		return nil
	}
	o, err := rql.ParseOptions("sort(" + text + ")")
	if err != nil {
		t.Fatalf("ParseOptions(sort(%s)): %v", text, err)
	}
	return o.Sort
}

// The sort documents, and the keyset condition that continues after a
// thing with the given sort values, for every kind of sort key and value.
func TestSortGolden(t *testing.T) {
	var out strings.Builder
	for _, s := range []string{
		"", "+thingId", "-thingId", "+_revision", "-_modified,+attributes/s", "+_created", "+policyId,+_namespace",
		"+attributes/n,-thingId,+attributes/x", "-features/lamp/properties/on", "+attributes/a.b/$c/0",
		"+attributes/n,-attributes/n", "+definition", "+_metadata/m", "+attributes/",
	} {
		d, err := Sort(mustSort(t, s))
		if err != nil {
			t.Fatalf("Sort(%s): %v", s, err)
		}
		out.WriteString("sort(" + s + ")\n\t" + extJSON(t, d, false) + "\n")
	}
	// after: one key (and thingId), each direction, every value type.
	values := []struct {
		name string
		v    any
	}{
		{"missing", nil}, {"number", int64(5)}, {"double", 2.5}, {"string", "m"},
		{"object", bson.D{{Key: "~", Value: `{"a":1}`}, {Key: "a", Value: int64(1)}}},
		{"array", bson.D{{Key: "~", Value: true}, {Key: "~t", Value: "[1]"}}}, {"bool", false},
	}
	for _, s := range []string{"+attributes/x", "-attributes/x"} {
		plan, err := sortPlan(twin.NormalizeSort(mustSort(t, s)))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			cond, err := afterCondition(plan, rawValues(t, v.v, "org.a:t1"))
			if err != nil {
				t.Fatalf("after %s: %v", v.name, err)
			}
			out.WriteString("after sort(" + s + ") at " + v.name + "\n\t" + extJSON(t, cond, false) + "\n")
		}
	}
	for _, c := range []struct {
		sort string
		v    any
	}{
		{"+_revision", int64(7)}, {"-_revision", int64(7)}, {"+_modified", int64(1000)}, {"-_modified", int64(1000)},
		{"+_modified", nil}, {"-_modified", nil}, {"-thingId", "org.a:t1"}, {"+policyId,-attributes/n", "org.a:p"},
	} {
		plan, err := sortPlan(twin.NormalizeSort(mustSort(t, c.sort)))
		if err != nil {
			t.Fatal(err)
		}
		var vals []bson.RawValue
		if len(plan) == 1 {
			vals = rawValues(t, c.v)
		} else if len(plan) == 2 {
			vals = rawValues(t, c.v, "org.a:t1")
		} else {
			vals = rawValues(t, c.v, int64(3), "org.a:t1")
		}
		cond, err := afterCondition(plan, vals)
		if err != nil {
			t.Fatalf("after %s: %v", c.sort, err)
		}
		out.WriteString("after sort(" + c.sort + ") at " + extJSON(t, c.v, false) + "\n\t" + extJSON(t, cond, false) + "\n")
	}
	golden(t, "sort.golden", out.String())
}

// rawValues marshals values as the cursor carries them.
func rawValues(t *testing.T, vs ...any) []bson.RawValue {
	t.Helper()
	out := make([]bson.RawValue, len(vs))
	for i, v := range vs {
		if v == nil {
			out[i] = bson.RawValue{Type: bson.TypeNull}
			continue
		}
		typ, data, err := bson.MarshalValue(v)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = bson.RawValue{Type: typ, Value: data}
	}
	return out
}

// A whole find request, and the one its next page's cursor makes.
func TestSearchRequestGolden(t *testing.T) {
	n, _ := rql.ParseFilter(`and(eq(attributes/s,"a"),gt(_revision,3))`)
	q := twin.SearchQuery{Filter: n, Namespaces: []string{"org.b", "org.a", "org.b"}, Sort: mustSort(t, "-attributes/n,+attributes/n/x,+attributes/m"), Size: 10}
	req, err := buildSearch(q, 10, goldenNow)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("filter\t" + extJSON(t, req.filter, false) + "\n")
	out.WriteString("sort\t" + extJSON(t, req.sort, false) + "\n")
	out.WriteString("project\t" + extJSON(t, req.projection, false) + "\n")
	cursor, err := req.cursor(rawValues(t, 2.5, nil, "org.a:t9")).encode()
	if err != nil {
		t.Fatal(err)
	}
	next, err := buildSearch(twin.SearchQuery{Cursor: cursor}, 10, goldenNow)
	if err != nil {
		t.Fatal(err)
	}
	out.WriteString("next filter\t" + extJSON(t, next.filter, false) + "\n")
	out.WriteString("next sort\t" + extJSON(t, next.sort, false) + "\n")
	golden(t, "search.golden", out.String())
}

func TestCursorRoundTrip(t *testing.T) {
	c := cursorData{Filter: `eq(attributes/s,"x")`, Namespaces: []string{"a", "b"},
		Sort:   []cursorKey{{Property: "attributes/n", Descending: true}, {Property: "thingId"}},
		Values: rawValues(t, int64(9007199254740993), 5.0, "s", nil, true, bson.D{{Key: "~", Value: "{}"}})}
	text, err := c.encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(text, "+/=") {
		t.Errorf("cursor %q is not base64url without padding", text)
	}
	got, err := decodeCursor(text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Filter != c.Filter || strings.Join(got.Namespaces, ",") != "a,b" || len(got.Sort) != 2 || got.Sort[0] != c.Sort[0] || len(got.Values) != len(c.Values) {
		t.Fatalf("decoded %+v", got)
	}
	for i := range c.Values {
		if !got.Values[i].Equal(c.Values[i]) {
			t.Errorf("value %d: %v, want %v (types %v, %v)", i, got.Values[i], c.Values[i], got.Values[i].Type, c.Values[i].Type)
		}
	}
}

func TestCursorErrors(t *testing.T) {
	forged := func(c cursorData) string {
		s, err := c.encode()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := cursorData{Sort: []cursorKey{{Property: "thingId"}}, Values: rawValues(t, "x")}
	first := twin.SearchQuery{Cursor: forged(good)}
	if _, err := buildSearch(first, 5, goldenNow); err != nil {
		t.Fatalf("good cursor: %v", err)
	}
	other, _ := rql.ParseFilter(`exists(policyId)`)
	bad := map[string]twin.SearchQuery{
		"not base64":       {Cursor: "not a cursor!"},
		"not deflate":      {Cursor: "AAAA"},
		"too long":         {Cursor: strings.Repeat("A", maxCursorLength+1)},
		"no sort":          {Cursor: forged(cursorData{Values: rawValues(t, "x")})},
		"values misfit":    {Cursor: forged(cursorData{Sort: good.Sort, Values: rawValues(t, "x", "y")})},
		"value type":       {Cursor: forged(cursorData{Sort: good.Sort, Values: rawValues(t, bson.Binary{Data: []byte{1}})})},
		"bad filter":       {Cursor: forged(cursorData{Filter: "eq(", Sort: good.Sort, Values: rawValues(t, "x")})},
		"other filter":     {Filter: other, Cursor: first.Cursor},
		"other sort":       {Sort: mustSort(t, "-thingId"), Cursor: first.Cursor},
		"other namespaces": {Namespaces: []string{"a"}, Cursor: first.Cursor},
		"bad sort key":     {Sort: mustSort(t, "+attributes/"+strings.Repeat("a/", maxSearchKeys))},
	}
	for name, q := range bad {
		_, err := buildSearch(q, 5, goldenNow)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Status != 400 {
			t.Errorf("%s: err = %v, want a 400 *protocol.Error", name, err)
		}
	}
	// Sort keys the parser would refuse are refused here too.
	if _, err := Sort([]rql.SortKey{{Property: "features/*/properties/x"}}); err == nil {
		t.Error("Sort accepted the feature wildcard")
	}
}

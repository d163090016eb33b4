package mongostore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

// goldenNow resolves time placeholders in the golden filters.
var goldenNow = time.Date(2024, 2, 29, 12, 34, 56, 789123456, time.UTC)

// filterCases cover every operator on every kind of property: the
// top-level fields (thingId, _namespace, policyId, _revision), the times,
// a JSON path, one with keys MongoDB treats specially, a feature, the
// feature wildcard; every literal type; like patterns with every special
// character; the logical operators.
var filterCases = []string{
	// thingId, _namespace, policyId, _revision: top-level fields.
	`eq(thingId,"org.a:t1")`, `ne(thingId,"org.a:t1")`, `gt(thingId,"org.b")`, `ge(thingId,"a")`, `lt(thingId,"b")`, `le(thingId,"b")`,
	`in(thingId,"org.a:t1","org.a:t2",5)`, `eq(thingId,5)`, `eq(thingId,null)`, `gt(thingId,null)`,
	`like(thingId,"org.a:*")`, `ilike(thingId,"ORG.A:*")`, `exists(thingId)`, `empty(thingId)`,
	`eq(_namespace,"org.a")`, `in(_namespace,"org.a","org.b")`, `like(_namespace,"org.?")`,
	`eq(policyId,"org.a:p")`, `empty(policyId)`, `exists(policyId)`,
	`eq(_revision,7)`, `ne(_revision,7)`, `gt(_revision,30)`, `le(_revision,10.5)`, `eq(_revision,"7")`, `in(_revision,1,2,3.0)`,
	`empty(_revision)`, `exists(_revision)`,
	// _created and _modified: instants on the int64 field, other strings
	// on the text field.
	`exists(_created)`, `empty(_modified)`,
	`eq(_created,"2023-05-01T00:00:00.5Z")`, `eq(_created,"2023-05-01T00:00:00.123456789Z")`,
	`gt(_created,"2023-05-01T00:00:00.5Z")`, `ge(_created,"2023-05-01T00:00:00.1234565Z")`,
	`lt(_created,"2023-05-01T00:00:00.1234565Z")`, `le(_created,"2023-05-01T00:00:00.123456Z")`,
	`gt(_created,"2023-05-01T02:00:00+02:00")`, `gt(_modified,"2023")`, `eq(_modified,"2023")`, `ne(_modified,"x")`,
	`ne(_created,"2021-03-04T05:06:07Z")`, `ne(_created,5)`, `eq(_created,1)`, `eq(_modified,null)`,
	`like(_modified,"2023-05-0*")`, `ilike(_created,"*z")`,
	`in(_created,"2021-03-04T05:06:07Z","2022",5)`, `gt(_created,"0001-01-01T00:00:00Z")`, `lt(_created,"0001-01-01T00:00:00Z")`,
	`lt(_created,"9999-01-01T00:00:00Z")`, `gt(_created,time:now-1d)`, `lt(_modified,time:now[d])`,
	`eq(_created,time:now_epoch_millis)`,
	// A JSON path: every operator and literal type.
	`eq(attributes/n,5)`, `eq(attributes/n,5.0)`, `eq(attributes/n,-0.5)`, `eq(attributes/n,9007199254740993)`,
	`eq(attributes/n,"5")`, `eq(attributes/n,true)`, `eq(attributes/n,null)`,
	`ne(attributes/n,5)`, `ne(attributes/n,"5")`, `ne(attributes/n,null)`,
	`gt(attributes/n,3)`, `ge(attributes/n,2.5)`, `lt(attributes/n,"m")`, `le(attributes/n,false)`, `gt(attributes/n,null)`,
	`ge(attributes/n,null)`,
	`in(attributes/n,1,"1",true,null,1.5)`, `in(attributes/n,null)`, `in(attributes/n,"x")`,
	`exists(attributes/n)`, `empty(attributes/n)`, `not(empty(attributes/n))`,
	`eq(attributes/n,time:now)`, `eq(attributes/n,time:now_epoch_millis)`,
	// like and ilike.
	`like(attributes/s,"alpha")`, `like(attributes/s,"alpha*")`, `like(attributes/s,"*alpha")`, `like(attributes/s,"*alpha*")`,
	`like(attributes/s,"a*b?c")`, `like(attributes/s,"a**b")`, `like(attributes/s,"*")`, `like(attributes/s,"**")`,
	`like(attributes/s,"")`, `like(attributes/s,"?")`, `like(attributes/s,"*?*")`,
	`like(attributes/s,"a.b+c(d)[e]{f}|g^h$i\\j/k")`, `like(attributes/s,"50%_x")`, `like(attributes/s,"x\u0000y")`,
	`ilike(attributes/s,"Alpha*")`, `ilike(attributes/s,"MüNCHEN")`, `ilike(attributes/s,"?Z9_")`,
	// Paths: nested, through arrays, keys MongoDB treats specially.
	`eq(attributes/loc/city,"x")`, `eq(/attributes//loc/city,"x")`, `exists(attributes/deep/a/b/c)`,
	`eq(attributes/a.b,1)`, `eq(attributes/$x/y.z,2)`, `exists(attributes/~0)`, `eq(attributes/tags/0,5)`,
	`empty(attributes/0/1)`, `eq(attributes/weird key\"\\,1)`, `exists(attributes/)`, `empty(attributes/)`,
	`eq(definition,"org.example:def:1")`, `exists(_metadata/x)`,
	// A feature.
	`exists(features/lamp)`, `empty(features/lamp)`, `exists(features/lamp/properties)`, `empty(features/lamp/desiredProperties)`,
	`eq(features/lamp/properties/on,true)`, `gt(features/lamp/desiredProperties/b,5)`, `like(features/lamp/definition,"org*")`,
	`eq(features/a.b$/properties/x.y,1)`,
	// The feature wildcard.
	`exists(features/*)`, `empty(features/*)`, `exists(features/*/properties)`, `empty(features/*/properties)`,
	`eq(features/*/properties/on,true)`, `ne(features/*/properties/on,true)`, `gt(features/*/properties/b,5)`,
	`in(features/*/properties/u,"a",null)`, `like(features/*/definition,"org*")`, `exists(features/*/desiredProperties/x)`,
	`empty(features/*/properties/b)`, `empty(features/*/definition)`, `eq(features/*/properties/a.b/$c,1)`,
	// Logic.
	`and(eq(attributes/a,1),eq(attributes/b,2))`, `or(eq(attributes/a,1),exists(features/*))`, `not(eq(attributes/a,1))`,
	`and(eq(attributes/a,1))`, `or(and(eq(_namespace,"x"),not(exists(attributes/a))),empty(attributes/b))`,
	`not(not(eq(attributes/a,1)))`,
}

func TestFilterGolden(t *testing.T) {
	var out strings.Builder
	for _, f := range filterCases {
		n, err := rql.ParseFilter(f)
		if err != nil {
			t.Fatalf("ParseFilter(%s): %v", f, err)
		}
		d, err := Filter(n, goldenNow)
		if err != nil {
			t.Fatalf("Filter(%s): %v", f, err)
		}
		out.WriteString(f + "\n\t" + extJSON(t, d, false) + "\n")
	}
	golden(t, "filter.golden", out.String())
}

// The translation keeps numbers' types: int64 stays int64, a decimal is a
// double (canonical extended JSON names the types).
func TestFilterNumberTypes(t *testing.T) {
	for f, want := range map[string]string{
		`eq(attributes/n,5)`:                  `{"t.attributes.n":{"$numberLong":"5"}}`,
		`eq(attributes/n,5.0)`:                `{"t.attributes.n":{"$numberDouble":"5.0"}}`,
		`gt(_revision,9007199254740993)`:      `{"revision":{"$gt":{"$numberLong":"9007199254740993"}}}`,
		`eq(_created,"1970-01-01T00:00:01Z")`: `{"created":{"$gte":{"$numberLong":"1000000000"},"$lt":{"$numberLong":"1000001000"}}}`,
	} {
		n, err := rql.ParseFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Filter(n, goldenNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := extJSON(t, d, true); got != want {
			t.Errorf("Filter(%s) = %s, want %s", f, got, want)
		}
	}
}

func TestFilterNil(t *testing.T) {
	d, err := Filter(nil, goldenNow)
	if err != nil || len(d) != 0 {
		t.Errorf("Filter(nil) = %v, %v; want {}", d, err)
	}
}

// Filters the store cannot answer are 400 rql.expression.invalid errors.
func TestFilterErrors(t *testing.T) {
	deep := "attributes/" + strings.TrimSuffix(strings.Repeat("a/", maxSearchKeys), "/")
	nested := rql.Node(&rql.Exists{Property: "thingId"})
	for range rql.MaxDepth + 3 {
		nested = &rql.Not{Child: nested}
	}
	bad := []rql.Node{
		&rql.Compare{Op: "eq", Property: "topic:action", Value: "x"},
		&rql.Compare{Op: "eq", Property: "nope", Value: "x"},
		&rql.Compare{Op: "eq", Property: deep, Value: "x"},
		&rql.Compare{Op: "like", Property: "attributes/s", Value: 5},
		&rql.Compare{Op: "nope", Property: "attributes/s", Value: 5},
		&rql.Compare{Op: "eq", Property: "attributes/s", Value: []int{1}},
		&rql.Compare{Op: "eq", Property: "attributes/s", Value: rql.Placeholder{Name: "time:never"}},
		&rql.In{Property: "attributes/s"},
		&rql.And{},
		&rql.Or{},
		(*rql.Or)(nil),
		&rql.Not{},
		&rql.Not{Child: (*rql.Exists)(nil)},
		&rql.Exists{Property: "features/*/nope"},
		nested,
	}
	for i, n := range bad {
		_, err := Filter(n, goldenNow)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Status != 400 || pe.Code != protocol.CodeRQLInvalid {
			t.Errorf("bad filter %d (%s): err = %v, want a 400 rql.expression.invalid", i, rql.Format(n), err)
		}
	}
	// The deepest property allowed is fine.
	ok := "attributes/" + strings.TrimSuffix(strings.Repeat("a/", maxSearchKeys-1), "/")
	if _, err := Filter(&rql.Exists{Property: ok}, goldenNow); err != nil {
		t.Errorf("Filter(exists(%s)): %v", ok, err)
	}
}

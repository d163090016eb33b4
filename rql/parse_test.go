package rql_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

func TestParseFilterValid(t *testing.T) {
	cmp := func(op, prop string, v any, pos int) *rql.Compare {
		return &rql.Compare{Op: op, Property: prop, Value: v, Pos: pos}
	}
	tests := []struct {
		in   string
		want rql.Node
	}{
		// Every comparison operator.
		{`eq(attributes/a,1)`, cmp("eq", "attributes/a", int64(1), 0)},
		{`ne(attributes/a,1)`, cmp("ne", "attributes/a", int64(1), 0)},
		{`gt(attributes/a,1)`, cmp("gt", "attributes/a", int64(1), 0)},
		{`ge(attributes/a,1)`, cmp("ge", "attributes/a", int64(1), 0)},
		{`lt(attributes/a,1)`, cmp("lt", "attributes/a", int64(1), 0)},
		{`le(attributes/a,1)`, cmp("le", "attributes/a", int64(1), 0)},
		{`like(attributes/a,"x*")`, cmp("like", "attributes/a", "x*", 0)},
		{`ilike(attributes/a,"x?")`, cmp("ilike", "attributes/a", "x?", 0)},
		{`in(thingId,"a","b",3)`, &rql.In{Property: "thingId", Values: []any{"a", "b", int64(3)}}},
		{`in(thingId,"a")`, &rql.In{Property: "thingId", Values: []any{"a"}}},
		{`exists(features/lamp)`, &rql.Exists{Property: "features/lamp"}},
		{`empty(attributes/tags)`, &rql.Empty{Property: "attributes/tags"}},
		// Logical operators and nesting; whitespace after the comma between queries.
		{`and(eq(thingId,"a"),not(exists(policyId)))`, &rql.And{Children: []rql.Node{
			cmp("eq", "thingId", "a", 4), &rql.Not{Child: &rql.Exists{Property: "policyId"}}}}},
		{"or(eq(_revision,1),\n\t eq(_revision,2))", &rql.Or{Children: []rql.Node{
			cmp("eq", "_revision", int64(1), 3), cmp("eq", "_revision", int64(2), 22)}}},
		{`and(eq(thingId,"a"))`, &rql.And{Children: []rql.Node{cmp("eq", "thingId", "a", 4)}}},
		{`not(not(not(eq(thingId,"a"))))`, &rql.Not{Child: &rql.Not{Child: &rql.Not{Child: cmp("eq", "thingId", "a", 12)}}}},
		// Literals.
		{`eq(attributes/a,0)`, cmp("eq", "attributes/a", int64(0), 0)},
		{`eq(attributes/a,+0)`, cmp("eq", "attributes/a", int64(0), 0)},
		{`eq(attributes/a,-17)`, cmp("eq", "attributes/a", int64(-17), 0)},
		{`eq(attributes/a,+17)`, cmp("eq", "attributes/a", int64(17), 0)},
		{`eq(attributes/a,9223372036854775807)`, cmp("eq", "attributes/a", int64(math.MaxInt64), 0)},
		{`eq(attributes/a,-9223372036854775808)`, cmp("eq", "attributes/a", int64(math.MinInt64), 0)},
		{`eq(attributes/a,9007199254740993)`, cmp("eq", "attributes/a", int64(9007199254740993), 0)},
		{`eq(attributes/a,1.5)`, cmp("eq", "attributes/a", 1.5, 0)},
		{`eq(attributes/a,-0.25)`, cmp("eq", "attributes/a", -0.25, 0)},
		{`eq(attributes/a,0.0)`, cmp("eq", "attributes/a", 0.0, 0)},
		{`eq(attributes/a,-0.0)`, cmp("eq", "attributes/a", math.Copysign(0, -1), 0)},
		{`eq(attributes/a,123.000)`, cmp("eq", "attributes/a", 123.0, 0)},
		{`eq(attributes/a,true)`, cmp("eq", "attributes/a", true, 0)},
		{`eq(attributes/a,false)`, cmp("eq", "attributes/a", false, 0)},
		{`eq(attributes/a,null)`, cmp("eq", "attributes/a", nil, 0)},
		{`eq(attributes/a,"")`, cmp("eq", "attributes/a", "", 0)},
		{`eq(attributes/a,'single')`, cmp("eq", "attributes/a", "single", 0)},
		{`eq(attributes/a,'it"s')`, cmp("eq", "attributes/a", `it"s`, 0)},
		{`eq(attributes/a,"it's")`, cmp("eq", "attributes/a", `it's`, 0)},
		{`eq(attributes/a,"a,b)c(d")`, cmp("eq", "attributes/a", `a,b)c(d`, 0)},
		// Escapes.
		{`eq(attributes/a,"q\"b\\s\/b\bf\fn\nr\rt\t")`, cmp("eq", "attributes/a", "q\"b\\s/b\bf\fn\nr\rt\t", 0)},
		{`eq(attributes/a,'q\'b\\s\/')`, cmp("eq", "attributes/a", `q'b\s/`, 0)},
		{`eq(attributes/a,"\u00e9\u20AC")`, cmp("eq", "attributes/a", "é€", 0)},
		{`eq(attributes/a,"\ud83d\ude00")`, cmp("eq", "attributes/a", "😀", 0)},
		{`eq(attributes/a,"\ud83d")`, cmp("eq", "attributes/a", "\uFFFD", 0)},
		{"eq(attributes/a,\"raw\ttab\nand\x01ctl\")", cmp("eq", "attributes/a", "raw\ttab\nand\x01ctl", 0)},
		{`eq(attributes/a,"ünï😀")`, cmp("eq", "attributes/a", "ünï😀", 0)},
		// Whitespace where Ditto allows it: leading, after a literal.
		{" \t\n\r\feq(attributes/a,1)", cmp("eq", "attributes/a", int64(1), 5)},
		{`eq(attributes/a,1  )`, cmp("eq", "attributes/a", int64(1), 0)},
		{`eq(attributes/a,"x" )`, cmp("eq", "attributes/a", "x", 0)},
		{`in(attributes/a,1 ,2 ,"x" )`, &rql.In{Property: "attributes/a", Values: []any{int64(1), int64(2), "x"}}},
		// Placeholders: time values, and event-filter properties.
		{`gt(_modified,time:now)`, cmp("gt", "_modified", rql.Placeholder{Name: "time:now"}, 0)},
		{`lt(attributes/ts,time:now_epoch_millis-1h[m])`, cmp("lt", "attributes/ts", rql.Placeholder{Name: "time:now_epoch_millis-1h[m]"}, 0)},
		{`in(topic:action,"created","deleted")`, &rql.In{Property: "topic:action", Values: []any{"created", "deleted"}}},
		{`eq(resource:path,"/")`, cmp("eq", "resource:path", "/", 0)},
		{`eq(header:correlation-id,"c")`, cmp("eq", "header:correlation-id", "c", 0)},
		{`exists(thing:id)`, &rql.Exists{Property: "thing:id"}},
		{`eq(topic:action-subject,"x")`, cmp("eq", "topic:action-subject", "x", 0)},
		// Properties: leading slash dropped, every model path, escapes, spaces belong to the property.
		{`eq(/attributes/a,1)`, cmp("eq", "attributes/a", int64(1), 0)},
		{`eq(thingId,"x")`, cmp("eq", "thingId", "x", 0)},
		{`eq(policyId,"x")`, cmp("eq", "policyId", "x", 0)},
		{`eq(definition,"x")`, cmp("eq", "definition", "x", 0)},
		{`eq(_namespace,"x")`, cmp("eq", "_namespace", "x", 0)},
		{`eq(_revision,1)`, cmp("eq", "_revision", int64(1), 0)},
		{`eq(_created,"x")`, cmp("eq", "_created", "x", 0)},
		{`eq(_metadata/a/b,"x")`, cmp("eq", "_metadata/a/b", "x", 0)},
		{`exists(_metadata)`, &rql.Exists{Property: "_metadata"}},
		{`eq(features/f/properties/a/b,1)`, cmp("eq", "features/f/properties/a/b", int64(1), 0)},
		{`eq(features/f/desiredProperties/a,1)`, cmp("eq", "features/f/desiredProperties/a", int64(1), 0)},
		{`eq(features/*/properties/a,1)`, cmp("eq", "features/*/properties/a", int64(1), 0)},
		{`eq(features/f/definition,"d")`, cmp("eq", "features/f/definition", "d", 0)},
		{`exists(features/f/properties)`, &rql.Exists{Property: "features/f/properties"}},
		{`exists(features/f/desiredProperties)`, &rql.Exists{Property: "features/f/desiredProperties"}},
		{`exists(features/*)`, &rql.Exists{Property: "features/*"}},
		{`eq(attributes/my key,1)`, cmp("eq", "attributes/my key", int64(1), 0)},
		{`eq(attributes/a(b,1)`, cmp("eq", "attributes/a(b", int64(1), 0)},
		{`eq(attributes/a\"b\\c\u002cd,1)`, cmp("eq", "attributes/a\"b\\c,d", int64(1), 0)},
	}
	for _, tt := range tests {
		got, err := rql.ParseFilter(tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFilter(%q)\n got %s\nwant %s", tt.in, dump(got), dump(tt.want))
		}
		if math.Signbit(floatOf(tt.want)) != math.Signbit(floatOf(got)) {
			t.Errorf("ParseFilter(%q): sign of zero lost", tt.in)
		}
		// The canonical form parses back into the same tree.
		again, err := rql.ParseFilter(rql.Format(got))
		if err != nil || !reflect.DeepEqual(clearPos(again), clearPos(got)) {
			t.Errorf("Format(ParseFilter(%q)) = %q does not parse back: %v", tt.in, rql.Format(got), err)
		}
	}
}

func floatOf(n rql.Node) float64 {
	if c, ok := n.(*rql.Compare); ok {
		if f, ok := c.Value.(float64); ok {
			return f
		}
	}
	return 0
}

// clearPos zeroes the positions, which formatting changes.
func clearPos(n rql.Node) rql.Node {
	switch n := n.(type) {
	case *rql.Compare:
		c := *n
		c.Pos = 0
		return &c
	case *rql.And:
		out := &rql.And{}
		for _, c := range n.Children {
			out.Children = append(out.Children, clearPos(c))
		}
		return out
	case *rql.Or:
		out := &rql.Or{}
		for _, c := range n.Children {
			out.Children = append(out.Children, clearPos(c))
		}
		return out
	case *rql.Not:
		return &rql.Not{Child: clearPos(n.Child)}
	}
	return n
}

func dump(n rql.Node) string {
	switch n := n.(type) {
	case *rql.And:
		return fmt.Sprintf("And%v", dumpAll(n.Children))
	case *rql.Or:
		return fmt.Sprintf("Or%v", dumpAll(n.Children))
	case *rql.Not:
		return "Not(" + dump(n.Child) + ")"
	}
	return fmt.Sprintf("%#v", n)
}

func dumpAll(ns []rql.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, dump(n))
	}
	return out
}

func TestParseFilterInvalid(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string // part of the message
	}{
		{``, 0, "empty"},
		{`   `, 3, "empty"},
		{`eq(attributes/a,1`, 17, "expected ')'"},
		{`eq(attributes/a,1))`, 18, "after the end"},
		{`and(eq(attributes/a,1)`, 22, "expected ',' or ')'"},
		{`and()`, 4, "expected an operator"},
		{`and(eq(attributes/a,1),)`, 23, "expected an operator"},
		{`not(eq(thingId,"a"),eq(thingId,"b"))`, 19, "expected ')'"},
		{`foo(attributes/a,1)`, 0, `unknown operator "foo"`},
		{`EQ(attributes/a,1)`, 0, `unknown operator "EQ"`},
		{`eq (attributes/a,1)`, 2, "expected '('"},
		{`eq(attributes/a,foo)`, 16, "strings must be quoted"},
		{`eq(attributes/a,truex)`, 20, "expected ')'"},
		{`eq(attributes/a, 1)`, 16, "expected a value"},
		{`eq(attributes/a,1)x`, 18, "after the end"},
		{`eq(attributes/a,1) `, 18, "after the end"},
		{`and(eq(thingId,"a") ,eq(thingId,"b"))`, 19, "expected ',' or ')'"},
		{`eq(attributes/a,"abc`, 16, "not terminated"},
		{`eq(attributes/a,"a\qb")`, 18, `invalid escape sequence "\\q"`},
		{`eq(attributes/a,"a\'b")`, 18, "invalid escape"},
		{`eq(attributes/a,'a\"b')`, 18, "invalid escape"},
		{`eq(attributes/a,"\u12")`, 17, `\u needs four`},
		{`eq(attributes/a\q,1)`, 15, "invalid escape"},
		{`eq(attributes/a,01)`, 17, "expected ')'"},
		{`eq(attributes/a,-0)`, 16, "-0 is not"},
		{`eq(attributes/a,1.)`, 17, "expected ')'"},
		{`eq(attributes/a,.5)`, 16, "expected a value"},
		{`eq(attributes/a,1e5)`, 17, "expected ')'"},
		{`eq(attributes/a,9223372036854775808)`, 16, "out of range"},
		{`eq(attributes/a,` + strings.Repeat("9", 400) + `.0)`, 16, "out of range"},
		{`eq(attributes/a,-)`, 17, "expected a digit"},
		{`eq(attributes/a,time:)`, 16, "unknown time placeholder"},
		{`eq(attributes/a,time:later)`, 16, "unknown time placeholder"},
		{`eq(attributes/a,time:now-1x)`, 16, "unknown time placeholder"},
		{`eq(attributes/a,time:now[q])`, 16, "truncation unit"},
		{`eq(attributes/a,header:x)`, 16, "strings must be quoted"},
		{`eq(unknown,1)`, 3, "unknown property <unknown>"},
		{`eq(attributes,1)`, 3, "unknown property"},
		{`eq(features/f,1)`, 3, "unknown property"},
		{`eq(features/f/properties,1)`, 3, "unknown property"},
		{`eq(features//properties/a,1)`, 3, "feature id"},
		{`exists(features)`, 7, "unknown property"},
		{`eq(topic:unknown,"x")`, 3, "unknown placeholder"},
		{`eq(time:now,"x")`, 3, "unknown placeholder"},
		{`eq(,1)`, 3, "unknown property"},
		{`like(attributes/a,1)`, 18, "quoted string pattern"},
		{`ilike(attributes/a,null)`, 19, "quoted string pattern"},
		{`in(attributes/a)`, 15, "expected ','"},
		{`in(attributes/a,1,)`, 18, "expected a value"},
		{`exists(attributes/a,1)`, 19, "expected ')'"},
		{`eq(attributes/a"b,1)`, 15, "expected ','"},
		{strings.Repeat("not(", rql.MaxDepth+1) + `exists(thingId)` + strings.Repeat(")", rql.MaxDepth+1), 4 * rql.MaxDepth, "nest deeper"},
		{`exists(thingId)` + strings.Repeat(" ", rql.MaxFilterLength), rql.MaxFilterLength, "longer than"},
	}
	for _, tt := range tests {
		_, err := rql.ParseFilter(tt.in)
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Errorf("ParseFilter(%.60q): err = %v, want a *protocol.Error", tt.in, err)
			continue
		}
		if pe.Code != protocol.CodeRQLInvalid || pe.Status != 400 {
			t.Errorf("ParseFilter(%.60q): %s %d, want rql.expression.invalid 400", tt.in, pe.Code, pe.Status)
		}
		wantPos := fmt.Sprintf("at position %d:", tt.pos)
		if !strings.Contains(pe.Message, wantPos) || !strings.Contains(pe.Message, tt.msg) {
			t.Errorf("ParseFilter(%.60q): message %q, want %q and %q", tt.in, pe.Message, wantPos, tt.msg)
		}
	}
}

func TestParseFilterDepthLimit(t *testing.T) {
	ok := strings.Repeat("not(", rql.MaxDepth) + `exists(thingId)` + strings.Repeat(")", rql.MaxDepth)
	if _, err := rql.ParseFilter(ok); err != nil {
		t.Fatalf("depth %d: %v", rql.MaxDepth, err)
	}
	mixed := strings.Repeat("and(or(", rql.MaxDepth/2) + `exists(thingId)` + strings.Repeat("))", rql.MaxDepth/2)
	if _, err := rql.ParseFilter(mixed); err != nil {
		t.Fatalf("and/or depth %d: %v", rql.MaxDepth, err)
	}
}

func TestProperties(t *testing.T) {
	n, err := rql.ParseFilter(`and(eq(attributes/a,1),or(exists(features/f),in(/attributes/a,1,2)),not(empty(thingId)),like(topic:action,"c*"))`)
	if err != nil {
		t.Fatal(err)
	}
	got := rql.Properties(n)
	want := []string{"attributes/a", "features/f", "thingId", "topic:action"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Properties = %q, want %q", got, want)
	}
}

func TestFormatEscapes(t *testing.T) {
	n := &rql.And{Children: []rql.Node{
		&rql.Compare{Op: "eq", Property: "attributes/a,b)c\"d\\e\x01", Value: "x\"y\\z\n\r\t\x02\x7f"},
		&rql.In{Property: "thingId", Values: []any{int64(-5), 1e21, 0.1, nil, true, rql.Placeholder{Name: "time:now"}}},
	}}
	text := rql.Format(n)
	back, err := rql.ParseFilter(text)
	if err != nil {
		t.Fatalf("Format = %q: %v", text, err)
	}
	if !reflect.DeepEqual(clearPos(back), clearPos(n)) {
		t.Errorf("round trip of %q\n got %s\nwant %s", text, dump(back), dump(n))
	}
}

func TestResolveField(t *testing.T) {
	tests := []struct {
		prop string
		use  rql.Use
		want rql.Field
		err  bool
	}{
		{"thingId", rql.UseFilter, rql.Field{Keys: []string{"thingId"}}, false},
		{"_modified", rql.UseSort, rql.Field{Kind: rql.FieldTime, Keys: []string{"_modified"}}, false},
		{"attributes/a/b", rql.UseFilter, rql.Field{Keys: []string{"attributes", "a", "b"}, Model: 1}, false},
		{"attributes//a/", rql.UseFilter, rql.Field{Keys: []string{"attributes", "a"}, Model: 1}, false},
		{"attributes/", rql.UseExists, rql.Field{Keys: []string{"attributes"}}, false},
		{"features/f/properties/x/y", rql.UseFilter, rql.Field{Keys: []string{"features", "f", "properties", "x", "y"}, Model: 3}, false},
		{"features/*/desiredProperties/x", rql.UseFilter, rql.Field{Keys: []string{"features", "*", "desiredProperties", "x"}, Model: 3}, false},
		{"features/f/definition", rql.UseFilter, rql.Field{Keys: []string{"features", "f", "definition"}, Model: 2}, false},
		{"features/f", rql.UseExists, rql.Field{Keys: []string{"features", "f"}, Model: 1}, false},
		{"features/f/properties", rql.UseExists, rql.Field{Keys: []string{"features", "f", "properties"}, Model: 2}, false},
		{"topic:action", rql.UseFilter, rql.Field{Kind: rql.FieldPlaceholder, Name: "topic:action"}, false},
		{"topic:action", rql.UseSort, rql.Field{}, true},
		{"features/*/properties/x", rql.UseSort, rql.Field{}, true},
		{"features/f/definition", rql.UseSort, rql.Field{}, true},
		{"features/f", rql.UseFilter, rql.Field{}, true},
		{"namespace", rql.UseFilter, rql.Field{}, true},
	}
	for _, tt := range tests {
		got, err := rql.ResolveField(tt.prop, tt.use)
		if (err != nil) != tt.err || (err == nil && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ResolveField(%q, %d) = %+v, %v; want %+v, error %v", tt.prop, tt.use, got, err, tt.want, tt.err)
		}
	}
	if f, _ := rql.ResolveField("features/*/properties/x", rql.UseFilter); !f.Wildcard() {
		t.Error("features/* is not a wildcard")
	}
}

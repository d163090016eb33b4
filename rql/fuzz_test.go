package rql_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

var filterSeeds = []string{
	``, ` `, `eq(thingId,"a")`, `and(eq(attributes/a,1),or(ne(attributes/b,2.5),not(exists(features/f))))`,
	`in(attributes/a,1,-2,3.25,"x",'y',true,false,null)`, `like(attributes/s,"a*b?c")`, `ilike(thingId,'X*')`,
	`gt(_modified,time:now-1h[d])`, `lt(attributes/t,time:now_epoch_millis+5m)`, `empty(features/*/properties/x)`,
	`eq(attributes/a,"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t")`, `eq(attributes/a\u002c,1)`, `eq(topic:action,"created")`,
	`and(eq(thingId,"a"), eq(thingId,"b"))`, `eq(attributes/a, 1)`, `eq(attributes/a,1 )`, `not(`, `)))`, `eq(`,
	`eq(attributes/a,"\ud83d")`, `eq(attributes/a,-0)`, `eq(attributes/a,9223372036854775808)`, "eq(attributes/a,\"\xff\")",
	strings.Repeat("not(", 70) + "exists(thingId)" + strings.Repeat(")", 70),
}

// FuzzParseFilter: no input panics; errors are rql.expression.invalid 400
// with a position; a parsed filter formats to text that parses to the
// same tree, and compiles into a predicate that evaluates without panic.
func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	thing := map[string]any{
		"thingId": "ns:a", "_modified": "2024-01-02T03:04:05Z",
		"attributes": map[string]any{"a": 1.5, "s": "abc", "arr": []any{1.0, "x", map[string]any{"b": nil}}},
		"features":   map[string]any{"f": map[string]any{"properties": map[string]any{"x": true}}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := rql.ParseFilter(s)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeRQLInvalid || pe.Status != 400 || !strings.Contains(pe.Message, "at position ") {
				t.Fatalf("ParseFilter(%q): error %v is not a positioned rql.expression.invalid", s, err)
			}
			return
		}
		text := rql.Format(n)
		if len(text) > rql.MaxFilterLength {
			return // escapes made it longer than a filter may be
		}
		again, err := rql.ParseFilter(text)
		if err != nil {
			t.Fatalf("Format(ParseFilter(%q)) = %q does not parse: %v", s, text, err)
		}
		if !reflect.DeepEqual(clearPos(again), clearPos(n)) {
			t.Fatalf("Format(ParseFilter(%q)) = %q parses to another tree", s, text)
		}
		p, err := rql.Compile(n)
		if err != nil {
			t.Fatalf("Compile(ParseFilter(%q)): %v", s, err)
		}
		p.Match(rql.Input{Thing: thing, Placeholder: func(string) (string, bool) { return "x", true }})
		p.Match(rql.Input{})
		rql.Properties(n)
	})
}

// FuzzParseOptions: no input panics; errors are search.option.invalid 400;
// sizes and limits stay within Ditto's bounds.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{``, `sort(+thingId)`, `sort(-attributes/a,+_modified),size(25),cursor(abc)`,
		`limit(0,10)`, `size(0)`, `size(201)`, `limit(5,5),size(3)`, `sort(+a`, `cursor()`, `size(007)`, ` size(1)`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := rql.ParseOptions(s)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeSearchOptionInvalid || pe.Status != 400 {
				t.Fatalf("ParseOptions(%q): error %v is not a search.option.invalid", s, err)
			}
			return
		}
		if o.Size < 0 || o.Size > rql.MaxSize || (o.Limit != nil && (o.Limit.Count < 1 || o.Limit.Count > rql.MaxSize || o.Limit.Offset < 0)) {
			t.Fatalf("ParseOptions(%q) = %+v: out of bounds", s, o)
		}
		if o.Limit != nil && (o.Size != 0 || o.Cursor != "") {
			t.Fatalf("ParseOptions(%q) = %+v: limit with size or cursor", s, o)
		}
		for _, k := range o.Sort {
			if _, err := rql.ResolveField(k.Property, rql.UseSort); err != nil {
				t.Fatalf("ParseOptions(%q): sort key %q: %v", s, k.Property, err)
			}
		}
	})
}

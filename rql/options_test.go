package rql_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

func TestParseOptionsValid(t *testing.T) {
	tests := []struct {
		in   string
		want rql.Options
	}{
		{`sort(+thingId)`, rql.Options{Sort: []rql.SortKey{{Property: "thingId"}}}},
		{`sort(+attributes/a,-_modified,+/features/f/properties/x)`, rql.Options{Sort: []rql.SortKey{
			{Property: "attributes/a"}, {Property: "_modified", Descending: true}, {Property: "features/f/properties/x"}}}},
		{`size(1)`, rql.Options{Size: 1}},
		{`size(200)`, rql.Options{Size: 200}},
		{`size(007)`, rql.Options{Size: 7}},
		{`cursor(AbC-_09)`, rql.Options{Cursor: "AbC-_09"}},
		{`sort(-policyId),size(25),cursor(xyz)`, rql.Options{Sort: []rql.SortKey{{Property: "policyId", Descending: true}}, Size: 25, Cursor: "xyz"}},
		{` size(5),sort(+_revision)`, rql.Options{Size: 5, Sort: []rql.SortKey{{Property: "_revision"}}}},
		{`limit(0,10)`, rql.Options{Limit: &rql.Limit{Offset: 0, Count: 10}}},
		{`limit(40,200),sort(-thingId)`, rql.Options{Limit: &rql.Limit{Offset: 40, Count: 200}, Sort: []rql.SortKey{{Property: "thingId", Descending: true}}}},
		{`limit(+5 ,7 )`, rql.Options{Limit: &rql.Limit{Offset: 5, Count: 7}}},
	}
	for _, tt := range tests {
		got, err := rql.ParseOptions(tt.in)
		if err != nil {
			t.Errorf("ParseOptions(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseOptions(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseOptionsInvalid(t *testing.T) {
	tests := []struct{ in, msg string }{
		{``, "expected an option"},
		{`size(0)`, "positive"},
		{`size(201)`, "between 1 and 200"},
		{`size(99999999999999999999)`, "between 1 and 200"},
		{`size(-1)`, "expected the page size"},
		{`size(+1)`, "expected the page size"},
		{`size()`, "expected the page size"},
		{`size(1.5)`, "expected ')'"},
		{`size(5),size(6)`, "more than one 'size'"},
		{`sort(thingId)`, "expected '+' or '-'"},
		{`sort(+thingId,)`, "expected ')'"},
		{`sort()`, "expected '+' or '-'"},
		{`sort(+unknown)`, "unknown property"},
		{`sort(+features/*/properties/x)`, "wildcard"},
		{`sort(+features/f/definition)`, "unknown property"},
		{`sort(+topic:action)`, "unknown property"},
		{`sort(+thingId),sort(-thingId)`, "more than one 'sort'"},
		{`sort(` + strings.Repeat("+thingId,", rql.MaxSortKeys) + `+policyId)`, "sort keys"},
		{`cursor()`, "empty"},
		{`limit(0,0)`, "between 1 and 200"},
		{`limit(0,201)`, "between 1 and 200"},
		{`limit(-1,5)`, "offset"},
		{`limit(1)`, "expected ','"},
		{`limit(0,5),size(5)`, "must not be used together"},
		{`cursor(x),limit(0,5)`, "must not be used together"},
		{`size(5), sort(+thingId)`, "expected an option"},
		{`size(5);sort(+thingId)`, "expected ','"},
		{`page(5)`, `unknown option "page"`},
		{`size(5) `, "expected ','"},
	}
	for _, tt := range tests {
		_, err := rql.ParseOptions(tt.in)
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Errorf("ParseOptions(%q): err = %v, want a *protocol.Error", tt.in, err)
			continue
		}
		if pe.Code != protocol.CodeSearchOptionInvalid || pe.Status != 400 {
			t.Errorf("ParseOptions(%q): %s %d, want %s 400", tt.in, pe.Code, pe.Status, protocol.CodeSearchOptionInvalid)
		}
		if !strings.Contains(pe.Message, tt.msg) {
			t.Errorf("ParseOptions(%q): message %q, want %q", tt.in, pe.Message, tt.msg)
		}
	}
}

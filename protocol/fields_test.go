package protocol_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func ptrs(ss ...string) protocol.FieldSelector {
	out := protocol.FieldSelector{}
	for _, s := range ss {
		out = append(out, protocol.Pointer(strings.Split(s, "/")))
	}
	return out
}

func TestParseFieldSelector(t *testing.T) {
	tests := []struct {
		in   string
		want protocol.FieldSelector
	}{
		{"thingId", ptrs("thingId")},
		{"thingId,policyId", ptrs("thingId", "policyId")},
		{"thingId,attributes(location,serial)", ptrs("thingId", "attributes/location", "attributes/serial")},
		{"attributes/complex(some,serialNo)", ptrs("attributes/complex/some", "attributes/complex/serialNo")},
		{"features(f1(properties(a)),f2)", ptrs("features/f1/properties/a", "features/f2")},
		{"features(f1(properties(a,b/c)),f2/definition),thingId",
			ptrs("features/f1/properties/a", "features/f1/properties/b/c", "features/f2/definition", "thingId")},
		{"features/*/properties/on", ptrs("features/*/properties/on")},
		{"features/*(properties/on,definition)", ptrs("features/*/properties/on", "features/*/definition")},
		{"/attributes/a/", ptrs("attributes/a")},
		{" thingId , attributes ( a , b ) ", ptrs("thingId", "attributes/a", "attributes/b")},
		{"thingId,", ptrs("thingId")},
		{",thingId,,policyId", ptrs("thingId", "policyId")},
		{"a(b,),c", ptrs("a/b", "c")},
		{"温度/x", ptrs("温度/x")},
		{"_metadata,_revision,_policy", ptrs("_metadata", "_revision", "_policy")},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := protocol.ParseFieldSelector(tc.in)
			if err != nil {
				t.Fatalf("ParseFieldSelector(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseFieldSelector(%q) = %q, want %q", tc.in, got, tc.want)
			}
			roots := got.Roots()
			if len(roots) != len(got) {
				t.Fatalf("Roots() = %q", roots)
			}
			for i, p := range got {
				if roots[i] != p[0] {
					t.Fatalf("Roots()[%d] = %q, want %q", i, roots[i], p[0])
				}
			}
		})
	}
}

func TestParseFieldSelectorInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"only spaces", "   "},
		{"only commas", ",,"},
		{"only slash", "/"},
		{"unbalanced open", "a(b"},
		{"unbalanced nested open", "a(b(c)"},
		{"unbalanced close", "a)"},
		{"unbalanced close later", "a(b)),c"},
		{"group without name", "(a)"},
		{"group after comma", "a,(b)"},
		{"group after group", "a(b)(c)"},
		{"empty group only", "a()"},
		{"double slash", "a//b"},
		{"double slash in group", "a(b//c)"},
		{"too long", strings.Repeat("a", protocol.MaxFieldSelectorLength+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.ParseFieldSelector(tc.in)
			wantError(t, err, protocol.CodeFieldSelectorInv, 400)
			if got != nil {
				t.Errorf("ParseFieldSelector(%q) = %q with the error", tc.in, got)
			}
		})
	}
	// Exactly at the limit is fine.
	if _, err := protocol.ParseFieldSelector(strings.Repeat("a", protocol.MaxFieldSelectorLength)); err != nil {
		t.Errorf("selector of MaxFieldSelectorLength: %v", err)
	}
}

const sampleThing = `{
  "thingId": "org.eclipse.ditto:fancy-thing_53",
  "policyId": "org.eclipse.ditto:the_policy_id",
  "definition": "org.eclipse.ditto:SomeModel:1.0.0",
  "attributes": {"location": {"latitude": 44.67, "longitude": 8.26}, "serial": "A-1", "model": "x"},
  "features": {
    "lamp": {"definition": ["d:lamp:1"], "properties": {"on": true, "level": 3}},
    "switch": {"properties": {"on": false}},
    "sensor": {"properties": {"temperature": 21.5}},
    "empty": {}
  }
}`

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func TestFieldSelectorSelect(t *testing.T) {
	tests := []struct {
		selector string
		want     string
	}{
		{"thingId", `{"thingId":"org.eclipse.ditto:fancy-thing_53"}`},
		{"thingId,attributes(location,serial)",
			`{"thingId":"org.eclipse.ditto:fancy-thing_53","attributes":{"location":{"latitude":44.67,"longitude":8.26},"serial":"A-1"}}`},
		{"attributes/location/latitude", `{"attributes":{"location":{"latitude":44.67}}}`},
		{"features(lamp(properties(on)),switch)",
			`{"features":{"lamp":{"properties":{"on":true}},"switch":{"properties":{"on":false}}}}`},
		{"features/*/properties/on",
			`{"features":{"lamp":{"properties":{"on":true}},"switch":{"properties":{"on":false}}}}`},
		{"features/*/definition", `{"features":{"lamp":{"definition":["d:lamp:1"]}}}`},
		{"features/*", `{"features":{"lamp":{"definition":["d:lamp:1"],"properties":{"on":true,"level":3}},` +
			`"switch":{"properties":{"on":false}},"sensor":{"properties":{"temperature":21.5}},"empty":{}}}`},
		{"missing,attributes/missing,attributes/serial/deeper", `{}`},
		{"features/lamp/properties/on/x", `{}`},
		{"attributes/serial,attributes(model)", `{"attributes":{"serial":"A-1","model":"x"}}`},
		{"attributes,attributes/location/latitude",
			`{"attributes":{"location":{"latitude":44.67,"longitude":8.26},"serial":"A-1","model":"x"}}`},
		{"attributes/location/latitude,attributes",
			`{"attributes":{"location":{"latitude":44.67,"longitude":8.26},"serial":"A-1","model":"x"}}`},
		{"features,features/*/properties/on", `{"features":{"lamp":{"definition":["d:lamp:1"],"properties":{"on":true,"level":3}},` +
			`"switch":{"properties":{"on":false}},"sensor":{"properties":{"temperature":21.5}},"empty":{}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.selector, func(t *testing.T) {
			fs, err := protocol.ParseFieldSelector(tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			thing := decodeJSON(t, sampleThing)
			got := fs.Select(thing)
			if want := decodeJSON(t, tc.want); !reflect.DeepEqual(got, want) {
				gotJSON, _ := json.Marshal(got)
				t.Fatalf("Select(%q)\n got  %s\n want %s", tc.selector, gotJSON, tc.want)
			}
			if !reflect.DeepEqual(thing, decodeJSON(t, sampleThing)) {
				t.Fatalf("Select(%q) changed its input", tc.selector)
			}
		})
	}
}

func TestFieldSelectorSelectNonObject(t *testing.T) {
	fs, err := protocol.ParseFieldSelector("a")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{nil, 1.5, "s", []any{map[string]any{"a": 1}}, true} {
		if got := fs.Select(v); !reflect.DeepEqual(got, v) {
			t.Errorf("Select(%#v) = %#v", v, got)
		}
	}
}

// Select must only read its input: the thing may be shared with concurrent
// readers (run with -race).
func TestFieldSelectorSelectDoesNotWriteInput(t *testing.T) {
	thing := decodeJSON(t, sampleThing)
	selectors := []string{
		"attributes,attributes/location/latitude",
		"features,features/*/properties/on",
		"features/lamp,features/lamp/properties/on,features/*/properties",
	}
	var wg sync.WaitGroup
	for _, s := range selectors {
		fs, err := protocol.ParseFieldSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			wg.Go(func() {
				for range 50 {
					fs.Select(thing)
				}
			})
		}
	}
	wg.Go(func() {
		for range 50 {
			if _, err := json.Marshal(thing); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}

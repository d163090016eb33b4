package rql_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/rql"
)

// decodeThing decodes JSON as the gateway does (numbers as json.Number).
func decodeThing(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

const lampJSON = `{
 "thingId": "org.example:lamp-1", "policyId": "org.example:policy", "_namespace": "org.example",
 "_revision": 42, "_created": "2024-01-02T03:04:05Z", "_modified": "2024-05-06T07:08:09.123456Z",
 "definition": "org.example:Lamp:1.0.0",
 "attributes": {
   "int": 5, "float": 2.5, "intf": 5.0, "bigint": 9007199254740993, "neg": -3, "exp": 1e2,
   "str": "Hello World", "numstr": "5", "bool": true, "f": false, "null": null,
   "emptyStr": "", "emptyArr": [], "emptyObj": {},
   "tags": ["red", "green", 3, null],
   "rooms": [{"name": "kitchen", "size": 12}, {"name": "hall", "size": [3, 4]}, 7, [{"name": "nested"}]],
   "location": {"lat": 48.1, "lon": 11.5, "city": "München"},
   "special": "50% off_now [x]*?\\",
   "nested": {"arr": [{"deep": [{"v": 1}, {"v": [2, [3]]}]}]},
   "nullInArr": [null],
   "objs": [{"a": ""}, {"a": null}]
 },
 "features": {
   "lamp": {"definition": ["org.example:Lamp:1"], "properties": {"on": true, "brightness": 80, "color": {"r": 255}},
            "desiredProperties": {"brightness": 100}},
   "sensor": {"properties": {"temperature": 21.5, "unit": "°C"}},
   "bare": {}
 }
}`

func TestPredicate(t *testing.T) {
	lamp := decodeThing(t, lampJSON)
	bare := decodeThing(t, `{"thingId":"org.example:bare","attributes":{}}`)
	nofeatures := decodeThing(t, `{"thingId":"x:y","features":{}}`)
	placeholders := func(name string) (string, bool) {
		v, ok := map[string]string{
			"topic:action":          "modified",
			"resource:path":         "/attributes/int",
			"header:correlation-id": "c-1",
			"time:now":              "2024-05-06T07:08:10Z",
			"time:now_epoch_millis": "1700000000000",
		}[name]
		return v, ok
	}
	tests := []struct {
		filter string
		want   bool
	}{
		// Numbers: integers and decimals compare numerically and exactly.
		{`eq(attributes/int,5)`, true},
		{`eq(attributes/int,5.0)`, true},
		{`eq(attributes/intf,5)`, true},
		{`eq(attributes/exp,100)`, true},
		{`eq(attributes/float,2.5)`, true},
		{`gt(attributes/float,2)`, true},
		{`gt(attributes/int,4.999)`, true},
		{`lt(attributes/int,5.001)`, true},
		{`ge(attributes/int,5)`, true},
		{`le(attributes/int,4)`, false},
		{`lt(attributes/neg,0)`, true},
		{`eq(attributes/bigint,9007199254740993)`, true},
		{`eq(attributes/bigint,9007199254740992)`, false},
		{`gt(attributes/bigint,9007199254740992.0)`, true},
		// No coercion between strings, numbers and booleans.
		{`eq(attributes/int,"5")`, false},
		{`eq(attributes/numstr,5)`, false},
		{`eq(attributes/numstr,"5")`, true},
		{`gt(attributes/numstr,4)`, false},
		{`eq(attributes/bool,"true")`, false},
		{`eq(attributes/bool,1)`, false},
		{`eq(attributes/bool,true)`, true},
		{`gt(attributes/bool,false)`, true},
		{`ge(attributes/f,false)`, true},
		{`lt(attributes/f,true)`, true},
		{`gt(attributes/f,true)`, false},
		// Strings order by bytes.
		{`gt(attributes/str,"Hello")`, true},
		{`lt(attributes/str,"hello")`, true},
		{`ge(attributes/str,"Hello World")`, true},
		{`gt(attributes/location/city,"Muenchen")`, true},
		// null.
		{`eq(attributes/null,null)`, true},
		{`eq(attributes/missing,null)`, false},
		{`eq(attributes/int,null)`, false},
		{`ne(attributes/null,null)`, false},
		{`ne(attributes/int,null)`, true},
		{`gt(attributes/null,null)`, false},
		{`ge(attributes/null,null)`, false},
		{`exists(attributes/null)`, true},
		{`eq(attributes/nullInArr,null)`, true},
		// ne matches only where the property exists.
		{`ne(attributes/int,6)`, true},
		{`ne(attributes/int,5)`, false},
		{`ne(attributes/missing,5)`, false},
		{`ne(attributes/tags,"red")`, false},
		{`ne(attributes/tags,"blue")`, true},
		{`not(eq(attributes/missing,5))`, true},
		// Arrays: one element matching suffices, one level deep.
		{`eq(attributes/tags,"green")`, true},
		{`eq(attributes/tags,3)`, true},
		{`eq(attributes/tags,null)`, true},
		{`gt(attributes/tags,2)`, true},
		{`gt(attributes/tags,3)`, false},
		{`like(attributes/tags,"gr*")`, true},
		{`in(attributes/tags,"blue","red")`, true},
		{`eq(attributes/rooms,7)`, true},
		// Objects inside arrays are addressable; their arrays too.
		{`eq(attributes/rooms/name,"hall")`, true},
		{`eq(attributes/rooms/name,"nested")`, false}, // an array inside an array is not entered
		{`eq(attributes/rooms/size,4)`, true},
		{`gt(attributes/rooms/size,11)`, true},
		{`exists(attributes/rooms/name)`, true},
		{`exists(attributes/rooms/colour)`, false},
		{`ne(attributes/rooms/name,"kitchen")`, false},
		{`ne(attributes/rooms/name,"garage")`, true},
		{`eq(attributes/nested/arr/deep/v,1)`, true},
		{`eq(attributes/nested/arr/deep/v,2)`, true},
		{`eq(attributes/nested/arr/deep/v,3)`, false},
		{`eq(attributes/tags/0,"red")`, false}, // keys are keys, not indexes
		// Objects never equal a scalar.
		{`eq(attributes/location,"x")`, false},
		{`exists(attributes/location)`, true},
		{`eq(attributes/location/lat,48.1)`, true},
		// like and ilike: * and ?, anchored, special characters literal.
		{`like(attributes/str,"Hello*")`, true},
		{`like(attributes/str,"*World")`, true},
		{`like(attributes/str,"*lo W*")`, true},
		{`like(attributes/str,"Hello")`, false},
		{`like(attributes/str,"Hell? World")`, true},
		{`like(attributes/str,"Hell?World")`, false},
		{`like(attributes/str,"*")`, true},
		{`like(attributes/str,"**o**")`, true},
		{`like(attributes/str,"**x**")`, false},
		{`like(attributes/str,"**d")`, true},
		{`like(attributes/str,"hello*")`, false},
		{`ilike(attributes/str,"hello*")`, true},
		{`ilike(attributes/str,"HELLO WORLD")`, true},
		{`like(attributes/location/city,"M?nchen")`, true},
		{`ilike(attributes/location/city,"MÜNCHEN")`, false}, // ASCII folding only
		{`ilike(attributes/location/city,"MüNCHEN")`, true},
		{`like(attributes/special,"50% off_now [x]*")`, true},
		{`like(attributes/special,"50_ off%")`, false},
		{`like(attributes/special,"*[x]*\\")`, true},
		{`like(attributes/int,"5")`, false}, // only strings
		{`like(attributes/emptyStr,"*")`, true},
		{`like(attributes/emptyStr,"?")`, false},
		// in.
		{`in(attributes/int,1,2,5.0)`, true},
		{`in(attributes/int,"5",6)`, false},
		{`in(attributes/null,1,null)`, true},
		{`in(attributes/missing,null)`, false},
		// exists.
		{`exists(attributes/int)`, true},
		{`exists(attributes/missing)`, false},
		{`exists(attributes/emptyObj)`, true},
		{`exists(features/lamp)`, true},
		{`exists(features/bare)`, true},
		{`exists(features/nope)`, false},
		{`exists(features/lamp/properties)`, true},
		{`exists(features/sensor/desiredProperties)`, false},
		{`exists(features/lamp/definition)`, true},
		{`exists(definition)`, true},
		{`exists(_metadata)`, false},
		// empty: absent, null, "", [], {}.
		{`empty(attributes/missing)`, true},
		{`empty(attributes/null)`, true},
		{`empty(attributes/emptyStr)`, true},
		{`empty(attributes/emptyArr)`, true},
		{`empty(attributes/emptyObj)`, true},
		{`empty(attributes/int)`, false},
		{`empty(attributes/f)`, false},
		{`empty(attributes/tags)`, false},
		{`empty(attributes/location)`, false},
		{`empty(features/bare)`, true},
		{`empty(features/lamp)`, false},
		{`empty(features/sensor/desiredProperties)`, true},
		{`empty(attributes/objs/a)`, true},
		{`empty(attributes/rooms/name)`, false},
		{`not(empty(attributes/tags))`, true},
		// Features: by id, and the * wildcard.
		{`eq(features/lamp/properties/brightness,80)`, true},
		{`eq(features/lamp/desiredProperties/brightness,100)`, true},
		{`eq(features/lamp/properties/color/r,255)`, true},
		{`eq(features/lamp/definition,"org.example:Lamp:1")`, true},
		{`like(features/lamp/definition,"org.example:*")`, true},
		{`eq(features/*/properties/temperature,21.5)`, true},
		{`gt(features/*/properties/brightness,79)`, true},
		{`eq(features/*/desiredProperties/brightness,80)`, false},
		{`exists(features/*/properties/unit)`, true},
		{`exists(features/*)`, true},
		{`empty(features/*)`, false},
		{`empty(features/*/properties/unit)`, true}, // some feature lacks a unit
		{`ne(features/*/properties/brightness,80)`, false},
		{`ne(features/*/properties/brightness,81)`, true},
		{`exists(features/*/definition)`, true},
		// Special fields.
		{`eq(thingId,"org.example:lamp-1")`, true},
		{`like(thingId,"org.example:*")`, true},
		{`eq(policyId,"org.example:policy")`, true},
		{`eq(_namespace,"org.example")`, true},
		{`eq(_revision,42)`, true},
		{`gt(_revision,41.5)`, true},
		{`eq(definition,"org.example:Lamp:1.0.0")`, true},
		{`eq(_created,"2024-01-02T03:04:05Z")`, true},
		{`eq(_created,"2024-01-02T03:04:05.000Z")`, true}, // the same instant
		{`eq(_created,"2024-01-02T05:04:05+02:00")`, true},
		{`gt(_modified,"2024-05-06T07:08:09.123Z")`, true},
		{`lt(_modified,"2024-05-06T07:08:09.1234561Z")`, true},
		{`eq(_modified,"2024-05-06T07:08:09.123456Z")`, true},
		{`gt(_modified,"2024")`, true}, // not an instant: compares as text
		{`like(_modified,"2024-05-*")`, true},
		{`eq(_modified,1)`, false},
		{`exists(_modified)`, true},
		{`lt(_modified,time:now)`, true},
		{`gt(_created,time:now-1000000d)`, true},
		{`gt(_created,time:now+1d)`, false},
		// Placeholders.
		{`eq(topic:action,"modified")`, true},
		{`in(topic:action,"created","deleted")`, false},
		{`and(eq(topic:action,"modified"),eq(resource:path,"/attributes/int"))`, true},
		{`eq(header:correlation-id,"c-1")`, true},
		{`exists(topic:subject)`, false},
		{`ne(topic:subject,"x")`, false},
		{`gt(attributes/int,time:now_epoch_millis)`, false},
		// Logic.
		{`and(eq(attributes/int,5),eq(attributes/str,"Hello World"),exists(features/lamp))`, true},
		{`and(eq(attributes/int,5),eq(attributes/str,"x"))`, false},
		{`or(eq(attributes/int,6),eq(attributes/str,"x"),exists(features/lamp))`, true},
		{`or(eq(attributes/int,6),eq(attributes/str,"x"))`, false},
		{`not(or(eq(attributes/int,6),not(exists(thingId))))`, true},
	}
	for _, tt := range tests {
		n, err := rql.ParseFilter(tt.filter)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.filter, err)
			continue
		}
		p, err := rql.Compile(n)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.filter, err)
			continue
		}
		if got := p.Match(rql.Input{Thing: lamp, Placeholder: placeholders}); got != tt.want {
			t.Errorf("%s on the lamp = %v, want %v", tt.filter, got, tt.want)
		}
	}

	// Missing data.
	for _, tt := range []struct {
		thing  map[string]any
		filter string
		want   bool
	}{
		{bare, `exists(features/*)`, false},
		{bare, `empty(features/*)`, true},
		{nofeatures, `empty(features/*)`, true},
		{bare, `empty(features/*/properties/x)`, false},
		{bare, `ne(attributes/x,1)`, false},
		{bare, `empty(attributes/x)`, true},
		{bare, `exists(attributes/)`, true},
		{bare, `eq(topic:action,"modified")`, false}, // no placeholder resolver
		{nil, `exists(thingId)`, false},
		{nil, `not(exists(thingId))`, true},
		{nil, `empty(attributes/a)`, true},
	} {
		n, err := rql.ParseFilter(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := rql.Compile(n)
		if got := p.Match(rql.Input{Thing: tt.thing}); got != tt.want {
			t.Errorf("%s on %v = %v, want %v", tt.filter, tt.thing, got, tt.want)
		}
	}
}

func TestPredicateNeMatchesMissing(t *testing.T) {
	thing := decodeThing(t, `{"attributes":{"a":1,"tags":["x"]}}`)
	for _, tt := range []struct {
		filter        string
		search, event bool
	}{
		{`ne(attributes/a,2)`, true, true},
		{`ne(attributes/a,1)`, false, false},
		{`ne(attributes/missing,1)`, false, true},
		{`ne(attributes/tags,"x")`, false, false},
		{`ne(topic:action,"x")`, false, true},
	} {
		n, _ := rql.ParseFilter(tt.filter)
		search, _ := rql.Compile(n)
		event, _ := rql.Compile(n, rql.NeMatchesMissing())
		if got := search.Match(rql.Input{Thing: thing}); got != tt.search {
			t.Errorf("%s = %v, want %v", tt.filter, got, tt.search)
		}
		if got := event.Match(rql.Input{Thing: thing}); got != tt.event {
			t.Errorf("%s with NeMatchesMissing = %v, want %v", tt.filter, got, tt.event)
		}
	}
}

// Go values other than json.Number: float64 (plain encoding/json),
// integers, time.Time for the special fields.
func TestPredicateGoValues(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	thing := map[string]any{
		"_created":   created,
		"_revision":  int64(7),
		"attributes": map[string]any{"f": 2.0, "i": 3, "u": uint64(1 << 63), "arr": []any{1.5, "x"}},
	}
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{`eq(attributes/f,2)`, true},
		{`eq(attributes/i,3.0)`, true},
		{`gt(attributes/u,9223372036854775807)`, true},
		{`eq(attributes/arr,1.5)`, true},
		{`eq(_revision,7)`, true},
		{`eq(_created,"2024-01-02T03:04:05.123456Z")`, true}, // truncated to the microsecond
		{`like(_created,"*.123456Z")`, true},
		{`gt(_created,"2024-01-02T03:04:05.123456Z")`, false},
	} {
		n, err := rql.ParseFilter(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := rql.Compile(n)
		if got := p.Match(rql.Input{Thing: thing}); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestCompileRejectsBadTrees(t *testing.T) {
	for _, n := range []rql.Node{
		&rql.And{},
		&rql.Or{Children: []rql.Node{}},
		&rql.Not{},
		&rql.Compare{Op: "eq", Property: "nope", Value: int64(1)},
		&rql.Compare{Op: "xx", Property: "thingId", Value: "a"},
		&rql.Compare{Op: "like", Property: "thingId", Value: int64(1)},
		&rql.Compare{Op: "eq", Property: "thingId", Value: []int{1}},
		&rql.Compare{Op: "eq", Property: "thingId", Value: rql.Placeholder{Name: "time:soon"}},
		&rql.In{Property: "thingId"},
		&rql.Exists{Property: "features"},
		(*rql.And)(nil),
		&rql.And{Children: []rql.Node{nil}},
		&rql.Not{Child: (*rql.Exists)(nil)},
		&rql.Or{Children: []rql.Node{(*rql.Compare)(nil)}},
	} {
		rql.Format(n)
		rql.Properties(n)
		if _, err := rql.Compile(n); err == nil {
			t.Errorf("Compile(%s) succeeded", dump(n))
		}
	}
	p, err := rql.Compile(nil)
	if err != nil || !p.Match(rql.Input{}) {
		t.Errorf("Compile(nil) = %v, %v; want a predicate matching everything", p, err)
	}
}

// Match is safe for concurrent use (run with -race).
func TestPredicateConcurrent(t *testing.T) {
	lamp := decodeThing(t, lampJSON)
	n, _ := rql.ParseFilter(`and(gt(attributes/int,1),like(attributes/str,"H*"),eq(features/*/properties/unit,"°C"),gt(_modified,time:now-10000d))`)
	p, err := rql.Compile(n)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if !p.Match(rql.Input{Thing: lamp}) {
					t.Error("no match")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestResolveTime(t *testing.T) {
	now := time.Date(2024, 1, 6, 14, 23, 42, 123456789, time.UTC) // a Saturday
	for _, tt := range []struct {
		name string
		want any
	}{
		{"time:now", "2024-01-06T14:23:42.123456Z"},
		{"time:now_epoch_millis", now.UnixMilli()},
		{"time:now+1h", "2024-01-06T15:23:42.123456Z"},
		{"time:now-7d", "2023-12-30T14:23:42.123456Z"},
		{"time:now-90", "2024-01-06T14:22:12.123456Z"},
		{"time:now+500ms", "2024-01-06T14:23:42.623456Z"},
		{"time:now[h]", "2024-01-06T14:00:00Z"},
		{"time:now[d]", "2024-01-06T00:00:00Z"},
		{"time:now-25m[m]", "2024-01-06T13:58:00Z"},
		{"time:now+3d[s]", "2024-01-09T14:23:42Z"},
		{"time:now[ms]", "2024-01-06T14:23:42.123Z"},
		{"time:now[w]", "2024-01-01T00:00:00Z"},
		{"time:now[mo]", "2024-01-01T00:00:00Z"},
		{"time:now[y]", "2024-01-01T00:00:00Z"},
		{"time:now+1mo", now.Add(2629746 * time.Second).Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")},
		{"time:now_epoch_millis[s]", now.Truncate(time.Second).UnixMilli()},
		{"time:now_epoch_millis-1s", now.Add(-time.Second).UnixMilli()},
	} {
		got, err := rql.ResolveTime(tt.name, now)
		if err != nil || got != tt.want {
			t.Errorf("ResolveTime(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{"time:", "time:later", "time:now-", "time:now+1x", "time:now[", "time:now[x]", "time:now+99999999999999999999s", "now", "time:now1h"} {
		if _, err := rql.ResolveTime(bad, now); err == nil {
			t.Errorf("ResolveTime(%q) succeeded", bad)
		}
	}
}

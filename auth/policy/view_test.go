package policy

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/twinway/twinway/protocol"
)

const docThing = `{
  "thingId": "my.namespace:thing-0123",
  "policyId": "my.namespace:policy-a",
  "attributes": { "location": "Kitchen", "tags": ["a", "b"] },
  "features": {
    "featureX": { "properties": { "location": { "city": "Berlin", "street": "Main St" }, "temperature": 21.5 } },
    "featureY": { "properties": { "city": "Paris" }, "desiredProperties": {} },
    "featureZ": { "properties": { "secret": true } }
  }
}`

func value(t testing.TB, s string) any {
	t.Helper()
	v, err := protocol.DecodeValue([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ptr(t testing.TB, s string) protocol.Pointer {
	t.Helper()
	p, err := protocol.ParsePointer(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrune(t *testing.T) {
	doc := Compile(mustParse(t, docPolicyJSON), testNow)
	rules := Compile(policyOf(t,
		"a: u | thing:/ +READ ; thing:/attributes/secret -READ ; thing:/features/lamp/properties/on +WRITE",
		"b: p | thing:/features/lamp/properties/level +READ",
		"c: e | thing:/attributes/list/x +READ",
		"d: w | thing:/ +WRITE",
		"e: o | thing:/attributes/obj +READ ; thing:/attributes/obj/hidden -READ",
	), testNow)
	const thing = `{"thingId":"ns:t","attributes":{"secret":"s3","public":1,"list":[{"x":1,"y":2},3]},
		"features":{"lamp":{"properties":{"on":true,"level":7}}}}`
	tests := []struct {
		name     string
		enf      *Enforcer
		subjects string
		root     string
		value    string
		want     string // "" = nothing readable
	}{
		{"owner sees all", doc, "ditto", "/", docThing, docThing},
		{"observer sees featureX and featureY", doc, "observer-client", "/", docThing,
			`{"features":{"featureX":{"properties":{"location":{"city":"Berlin","street":"Main St"},"temperature":21.5}},"featureY":{"properties":{"city":"Paris"},"desiredProperties":{}}}}`},
		{"users do not see the city", doc, "some-users", "/", docThing,
			`{"features":{"featureX":{"properties":{"location":{"street":"Main St"},"temperature":21.5}},"featureY":{"properties":{"city":"Paris"},"desiredProperties":{}}}}`},
		{"users: event at the city", doc, "some-users", "/features/featureX/properties/location/city", `"Munich"`, ""},
		{"users: event at the location", doc, "some-users", "/features/featureX/properties/location", `{"city":"Munich"}`, `{}`},
		{"users: event at featureX", doc, "some-users", "/features/featureX", `{"properties":{"location":{"city":"Munich","zip":1}}}`,
			`{"properties":{"location":{"zip":1}}}`},
		{"observer: event at the attributes", doc, "observer-client", "/attributes", `{"location":"Hall"}`, ""},
		{"stranger", doc, "stranger", "/", docThing, ""},
		{"unknown resource type", doc, "ditto", "/", `{}`, ""},

		{"revoke on an attribute removes it", rules, "u", "/", thing,
			`{"thingId":"ns:t","attributes":{"public":1,"list":[{"x":1,"y":2},3]},"features":{"lamp":{"properties":{"on":true,"level":7}}}}`},
		{"partial READ on a property sees only it", rules, "p", "/", thing,
			`{"features":{"lamp":{"properties":{"level":7}}}}`},
		{"partial READ on a property, event at the feature", rules, "p", "/features/lamp", `{"properties":{"on":false,"level":8}}`,
			`{"properties":{"level":8}}`},
		{"partial READ on a property, event at another property", rules, "p", "/features/lamp/properties/on", `false`, ""},
		{"array elements are judged at the array's node", rules, "e", "/", thing,
			`{"attributes":{"list":[{"x":1}]}}`},
		{"WRITE is not READ", rules, "w", "/", thing, ""},
		{"a readable empty object stays", rules, "o", "/attributes/obj", `{"hidden":1}`, `{}`},
		{"null is a readable scalar", rules, "u", "/attributes/public", `null`, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := TypeThing
			if tt.name == "unknown resource type" {
				typ = "unknown"
			}
			in := value(t, tt.value)
			before := protocol.EncodeValue(in)
			got, ok := tt.enf.View(subjectsOf(tt.subjects), "ns").Prune(typ, ptr(t, tt.root), in)
			if string(protocol.EncodeValue(in)) != string(before) {
				t.Fatal("Prune modified its input")
			}
			if tt.want == "" {
				if ok {
					t.Fatalf("got %s, want nothing", protocol.EncodeValue(got))
				}
				return
			}
			if !ok {
				t.Fatalf("nothing readable, want %s", tt.want)
			}
			if g, w := protocol.EncodeValue(got), protocol.EncodeValue(value(t, tt.want)); string(g) != string(w) {
				t.Fatalf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// A fully readable value is returned as it is, not copied.
func TestPruneShares(t *testing.T) {
	v := Compile(mustParse(t, docPolicyJSON), testNow).View([]string{"nginx:ditto"}, "my.namespace")
	in := value(t, docThing)
	out, ok := v.Prune(TypeThing, nil, in)
	if !ok || reflect.ValueOf(out).UnsafePointer() != reflect.ValueOf(in).UnsafePointer() {
		t.Fatal("the owner's view copied the thing")
	}
}

func TestViewKey(t *testing.T) {
	p := policyOf(t,
		"a: u1, u2 | thing:/ +READ",
		"b: u3 | thing:/ +READ ; thing:/attributes/x -READ",
		"c: u4 | thing:/features -WRITE", // says nothing about READ
		"d: u1 | thing:/features/x/properties/y +WRITE ; policy:/ +READ",
	)
	e := Compile(p, testNow)
	key := func(s string) string { return e.View(subjectsOf(s), "ns").Key() }
	if key("u1") == key("u2") {
		t.Fatal("u1 has more than u2")
	}
	if key("u2") != key("u2,u4") {
		t.Fatal("u4 adds only a revoke where nothing is granted")
	}
	if key("u2") == key("u3") || key("u3") != key("u3,u3") {
		t.Fatal("keys")
	}
	if key("u1,u2") != key("u2,u1") || e.View(subjectsOf("u2,u1"), "ns") != e.View(subjectsOf("u1,u2"), "ns") {
		t.Fatal("subject order matters")
	}
	if key("nobody") != key("") || key("nobody") == key("u2") {
		t.Fatal("empty views")
	}
	// the same decisions under another policy give the same key
	other := Compile(policyOf(t, "x: z | thing:/ +READ"), testNow)
	if other.View(subjectsOf("z"), "ns").Key() != key("u2") {
		t.Fatal("equal views, different keys")
	}
}

// Views are cached per (namespace, subject set), shared, bounded and safe for
// concurrent use; every goroutine gets the same answers.
func TestViewCacheConcurrent(t *testing.T) {
	e := Compile(mustParse(t, docPolicyJSON), testNow)
	thing := value(t, docThing)
	sets := [][]string{
		{"nginx:ditto"}, {"nginx:observer-client"}, {"nginx:some-users"},
		{"nginx:some-users", "nginx:observer-client"}, {"nginx:stranger"},
	}
	want := make([]string, len(sets))
	for i, s := range sets {
		out, _ := e.View(s, "my.namespace").Prune(TypeThing, nil, thing)
		want[i] = string(protocol.EncodeValue(out))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (g + i) % len(sets)
				v := e.View(sets[k], "my.namespace")
				out, _ := v.Prune(TypeThing, nil, thing)
				if got := string(protocol.EncodeValue(out)); got != want[k] {
					errs <- fmt.Errorf("set %d: %s", k, got)
					return
				}
				if i%7 == 0 { // distinct subject sets fill the cache past its bound
					e.View([]string{fmt.Sprintf("nginx:g%d-%d", g, i)}, "my.namespace")
				}
				e.Has(sets[k], "thing:/features/featureX", "my.namespace", Read)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v1, v2 := e.View(sets[1], "my.namespace"), e.View(sets[1], "my.namespace"); v1 != v2 {
		t.Fatal("a cached view was not reused")
	}
	e.mu.RLock()
	n := len(e.views)
	e.mu.RUnlock()
	if n > maxViews {
		t.Fatalf("%d views cached", n)
	}
}

package twin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

// Thing ids follow Ditto's RegexPatterns: namespace segments start with a
// letter, the name has no '/' and no U+0000–U+001F, U+007F–U+00FF, the whole
// id is at most 256 characters.
func TestThingIDRules(t *testing.T) {
	cases := []struct {
		ns, name string
		valid    bool
	}{
		{"org.example", "lamp", true},
		{"", "lamp", true},
		{"org.eclipse.ditto", "fancy-thing_53", true},
		{"a-b.c_d", "x", true},
		{"ns_", "x", true},
		{"A1", "x", true},
		{"ns", "a:b", true},
		{"ns", "with space", true},
		{"ns", "日本", true},
		{"ns", "Ā", true}, // U+0100
		{"ns", "😀", true},
		{"ns", "*", true},
		{"a", strings.Repeat("x", 254), true}, // 256 in all
		{"a", strings.Repeat("x", 255), false},
		{"1ns", "x", false},
		{"_ns", "x", false},
		{"-ns", "x", false},
		{"ns.", "x", false},
		{"ns..a", "x", false},
		{"ns.1a", "x", false},
		{"ns", "", false},
		{"ns", "ü", false},      // U+00FC
		{"ns", "ÿ", false},      // U+00FF
		{"ns", "a\x7fb", false}, // DEL
		{"ns", "a\tb", false},
		{"n s", "x", false},
	}
	f := newFixture(t)
	for _, tc := range cases {
		id := tc.ns + ":" + tc.name
		t.Run(fmt.Sprintf("%.40q", id), func(t *testing.T) {
			topic := tc.ns + "/" + tc.name + "/things/twin/commands/modify"
			resp := f.handle(protocol.Envelope{Topic: topic, Path: "/", Value: raw(`{}`)})
			if tc.valid {
				wantStatus(t, resp, 201)
				jsonEqual(t, "created", resp.Value, mustJSON(map[string]string{"thingId": id, "policyId": id}))
				onlyEvent(t, f)
				return
			}
			e := wantError(t, resp, 400, "things:id.invalid")
			if want := "Thing ID '" + id + "' is not valid!"; e.Message != want {
				t.Errorf("message %q, want %q", e.Message, want)
			}
			noEvent(t, f)
		})
	}
}

// A thingId in the value must be the command's.
func TestThingIDInValue(t *testing.T) {
	f := newFixture(t)
	f.mustCreate("org.example:mine", `{}`)
	f.events.take()
	cases := []struct {
		action, id, value, code string
	}{
		{"create", "org.example:new", `{"thingId":"org.example:other"}`, "things:id.notsettable"},
		{"modify", "org.example:new", `{"thingId":"org.example:other"}`, "things:id.notsettable"},
		{"modify", "org.example:mine", `{"thingId":"org.example:other"}`, "things:id.notsettable"},
		{"modify", "org.example:mine", `{"thingId":5}`, "things:id.notsettable"},
		{"modify", "org.example:mine", `{"thingId":null}`, "things:id.notsettable"},
		{"merge", "org.example:mine", `{"thingId":"org.example:other"}`, "things:id.notsettable"},
		{"merge", "org.example:new", `{"thingId":"org.example:other","attributes":{"a":1}}`, "things:id.notsettable"},
		{"merge", "org.example:mine", `{"thingId":null}`, "things:id.notdeletable"},
		{"merge", "org.example:new", `{"thingId":null,"attributes":{"a":1}}`, "things:id.notdeletable"},
	}
	for _, tc := range cases {
		e := wantError(t, f.send(tc.action, tc.id, "/", tc.value), 400, tc.code)
		if tc.code == "things:id.notdeletable" && e.Message != "The Thing ID of a Thing cannot be deleted." {
			t.Errorf("message %q", e.Message)
		}
	}
	noEvent(t, f)
	wantError(t, f.retrieve("org.example:new", "/", ""), 404, "things:thing.notfound")
	// The same id is fine.
	wantStatus(t, f.modify("org.example:mine", "/", `{"thingId":"org.example:mine"}`), 204)
	wantStatus(t, f.merge("org.example:mine", "/", `{"thingId":"org.example:mine","attributes":{"a":1}}`), 204)
}

// Keys of attributes, features, properties and desired properties are
// checked at every depth, inside arrays too.
func TestInvalidKeys(t *testing.T) {
	long := strings.Repeat("k", 257)
	cases := []struct {
		name, action, path, value string
	}{
		{"slash", "modify", "/attributes", `{"a/b":1}`},
		{"nested control", "modify", "/attributes", `{"a":{"b\u0001":1}}`},
		{"in array of objects", "modify", "/attributes", `{"list":[{"ok":1},{"bad/key":2}]}`},
		{"in nested arrays", "modify", "/attributes", `{"list":[[{"ok":1}],[{"x/y":1}]]}`},
		{"latin-1", "modify", "/attributes", `{"ü":1}`},
		{"DEL", "modify", "/attributes", `{"a\u007f":1}`},
		{"too long", "modify", "/attributes", `{"` + long + `":1}`},
		{"empty", "modify", "/attributes", `{"":1}`},
		{"attribute value", "modify", "/attributes/a", `{"x":{"y/z":1}}`},
		{"attribute array value", "modify", "/attributes/a", `[1,{"y/z":1}]`},
		{"thing attributes", "modify", "/", `{"attributes":{"a":{"b":[{"c/d":1}]}}}`},
		{"create", "create", "/", `{"attributes":{"a/b":1}}`},
		{"feature id", "modify", "/features", `{"a/b":{}}`},
		{"empty feature id", "modify", "/features", `{"":{}}`},
		{"feature id in thing", "modify", "/", `{"features":{"f\u0000":{}}}`},
		{"properties", "modify", "/features/f/properties", `{"p":{"q/r":1}}`},
		{"property value", "modify", "/features/f/properties/p", `{"q/r":1}`},
		{"desired properties", "modify", "/features/f/desiredProperties", `{"p":[{"q/r":1}]}`},
		{"feature", "modify", "/features/f", `{"properties":{"a/b":1}}`},
		{"features", "modify", "/features", `{"g":{"desiredProperties":{"x":{"\u0010":1}}}}`},
		{"merge", "merge", "/attributes", `{"a":{"b/c":1}}`},
		{"merge at root", "merge", "/", `{"features":{"f":{"properties":{"a/b":1}}}}`},
		{"merge property", "merge", "/features/f/properties/p", `{"q/r":1}`},
	}
	f := newFixture(t)
	id := "org.example:keys"
	f.mustCreate(id, `{"attributes":{"a":1},"features":{"f":{"properties":{"p":1}}}}`)
	f.events.take()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			thing := id
			if tc.action == "create" {
				thing = "org.example:keys-new"
			}
			wantError(t, f.send(tc.action, thing, tc.path, tc.value), 400, "json.key.invalid")
			noEvent(t, f)
		})
	}
	// Valid keys: 256 characters, Unicode above U+00FF, spaces, '*'.
	valid := `{"` + strings.Repeat("k", 256) + `":1,"日本":2,"with space":3,"*":4,"Ā":5,"a.b-c":6}`
	wantStatus(t, f.modify(id, "/attributes", valid), 204)
	jsonEqual(t, "valid keys", f.retrieve(id, "/attributes", "").Value, valid)
	if got := f.retrieve(id, "/", "_revision"); string(got.Value) != `{"_revision":2}` {
		t.Errorf("revision %s", got.Value)
	}
}

func TestDefinitions(t *testing.T) {
	cases := []struct {
		name, action, path, value, code, message string
	}{
		{"feature definition empty", "modify", "/features/f/definition", `[]`, "things:feature.definition.empty", "Feature Definition must not be empty!"},
		{"feature definition empty in feature", "modify", "/features/f", `{"definition":[]}`, "things:feature.definition.empty", ""},
		{"feature definition empty in create", "modify", "/", `{"features":{"g":{"definition":[]}}}`, "things:feature.definition.empty", ""},
		{"feature definition empty merged", "merge", "/features/f/definition", `[]`, "things:feature.definition.empty", ""},
		{"feature definition empty merged in feature", "merge", "/features/f", `{"definition":[]}`, "things:feature.definition.empty", ""},
		{"feature definition bad id", "modify", "/features/f/definition", `["org.example:F:1","nope"]`, "things:definition.identifier.invalid",
			"Definition identifier <nope> is invalid!"},
		{"feature definition two parts", "modify", "/features/f/definition", `["org.example:F"]`, "things:definition.identifier.invalid", ""},
		{"feature definition ftp", "modify", "/features/f/definition", `["ftp://example.org/f"]`, "things:definition.identifier.invalid", ""},
		{"feature definition number", "modify", "/features/f/definition", `[1]`, "things:definition.identifier.invalid", ""},
		{"thing definition", "modify", "/definition", `"nope"`, "things:definition.identifier.invalid", "Definition identifier <nope> is invalid!"},
		{"thing definition four parts", "modify", "/definition", `"a:b:c:d"`, "things:definition.identifier.invalid", ""},
		{"thing definition bad char", "modify", "/definition", `"a:b c:1"`, "things:definition.identifier.invalid", ""},
		{"thing definition no host", "modify", "/definition", `"http://"`, "things:definition.identifier.invalid", ""},
		{"thing definition number", "modify", "/", `{"definition":5}`, "things:definition.identifier.invalid", "Definition identifier <5> is invalid!"},
		{"thing definition merged", "merge", "/definition", `"nope"`, "things:definition.identifier.invalid", ""},
		{"thing definition in create", "create", "/", `{"definition":"nope"}`, "things:definition.identifier.invalid", ""},
	}
	f := newFixture(t)
	id := "org.example:defs"
	f.mustCreate(id, `{"definition":"org.example:T:1","features":{"f":{"definition":["org.example:F:1"]}}}`)
	f.events.take()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			thing := id
			if tc.action == "create" {
				thing = "org.example:defs-new"
			}
			e := wantError(t, f.send(tc.action, thing, tc.path, tc.value), 400, tc.code)
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message %q, want %q", e.Message, tc.message)
			}
			noEvent(t, f)
		})
	}
	for _, ok := range []struct{ path, value string }{
		{"/definition", `"org.eclipse.ditto:SomeModel:1.0.0"`},
		{"/definition", `"https://models.example.org/lamp-1.0.0.tm.jsonld"`},
		{"/definition", `"_a-b.c:-:0"`},
		{"/features/f/definition", `["org.example:F:2","http://example.org/f"]`},
	} {
		wantStatus(t, f.modify(id, ok.path, ok.value), 204)
		jsonEqual(t, ok.path, f.retrieve(id, ok.path, "").Value, ok.value)
	}
}

func TestPolicyID(t *testing.T) {
	f := newFixture(t)
	id := "org.example:pid"
	f.mustCreate(id, `{"policyId":"org.example:pol","attributes":{"a":1}}`)
	f.events.take()
	cases := []struct {
		name, action, path, value, code, message string
	}{
		// Ditto maps the value with JsonValue#asString: a runtime error, json.format.invalid.
		{"not a string", "modify", "/policyId", `5`, "json.format.invalid", ""},
		// Ditto reads the thing JSON with typed field definitions.
		{"not a string in thing", "modify", "/", `{"policyId":5}`, "json.invalid", "Value <5> for </policyId> is not of type <String>!"},
		{"object in created thing", "create", "/", `{"policyId":{"a":1}}`, "json.invalid", `Value <{"a":1}> for </policyId> is not of type <String>!`},
		{"attributes not an object", "modify", "/", `{"attributes":"x"}`, "json.invalid", `Value <"x"> for </attributes> is not of type <JsonObject>!`},
		{"features not an object", "modify", "/", `{"features":[1]}`, "json.invalid", `Value <[1]> for </features> is not of type <JsonObject>!`},
		{"invalid id", "modify", "/policyId", `"no colon"`, "policies:id.invalid", ""},
		{"invalid id in thing", "modify", "/", `{"policyId":"1x:y"}`, "policies:id.invalid", ""},
		{"delete", "delete", "/policyId", "", "protocoladapter:unknown.topicpath",
			"The topic 'org.example/pid/things/twin/commands/delete' is not supported in combination with the path '/policyId'"},
		{"merge null", "merge", "/policyId", `null`, "things:policyId.notdeletable", "The Policy ID of a Thing cannot be deleted."},
		{"merge null at root", "merge", "/", `{"policyId":null}`, "things:policyId.notdeletable", "The Policy ID of a Thing cannot be deleted."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			thing := id
			if tc.action == "create" {
				thing = "org.example:pid-new"
			}
			e := wantError(t, f.send(tc.action, thing, tc.path, tc.value), 400, tc.code)
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message %q\nwant    %q", e.Message, tc.message)
			}
			noEvent(t, f)
		})
	}
	jsonEqual(t, "policy id", f.retrieve(id, "/policyId", "").Value, `"org.example:pol"`)
	// A modify at / without policyId keeps it; /policyId is always 204, never created.
	wantStatus(t, f.modify(id, "/", `{"attributes":{"b":2}}`), 204)
	jsonEqual(t, "policy id kept", f.retrieve(id, "/policyId", "").Value, `"org.example:pol"`)
	f.events.take()
	resp := f.modify(id, "/policyId", `"org.example:other"`)
	wantStatus(t, resp, 204)
	if ev := onlyEvent(t, f); ev.Envelope.Topic != eventTopic(id, "modified") {
		t.Errorf("event %s", ev.Envelope.Topic)
	}
}

// A modify inside a missing feature is feature.notfound; a merge creates the
// feature on the way.
func TestMissingFeature(t *testing.T) {
	f := newFixture(t)
	id := "org.example:feat"
	f.mustCreate(id, `{"features":{"f":{}}}`)
	f.events.take()
	for _, path := range []string{"/features/nope/properties/p", "/features/nope/properties", "/features/nope/definition",
		"/features/nope/desiredProperties", "/features/nope/desiredProperties/p/q"} {
		value := `1`
		if strings.HasSuffix(path, "properties") || strings.HasSuffix(path, "Properties") {
			value = `{}`
		}
		if strings.HasSuffix(path, "definition") {
			value = `["a:b:c"]`
		}
		e := wantError(t, f.modify(id, path, value), 404, "things:feature.notfound")
		if want := "The Feature with ID 'nope' on the Thing with ID 'org.example:feat' could not be found or the requester had insufficient permissions to access it."; e.Message != want {
			t.Errorf("message %q", e.Message)
		}
	}
	noEvent(t, f)
	resp := f.merge(id, "/features/nope/properties/p", `1`)
	wantStatus(t, resp, 204)
	ev := onlyEvent(t, f)
	if ev.Envelope.Topic != eventTopic(id, "merged") || string(ev.Envelope.Value) != `1` || ev.Envelope.Path != "/features/nope/properties/p" {
		t.Errorf("event %s", mustJSON(ev.Envelope))
	}
	jsonEqual(t, "created feature", f.retrieve(id, "/features", "").Value, `{"f":{},"nope":{"properties":{"p":1}}}`)
	// A merge below a missing attribute object creates it too.
	wantStatus(t, f.merge(id, "/attributes/a/b", `{"c":1}`), 204)
	jsonEqual(t, "created attributes", f.retrieve(id, "/attributes", "").Value, `{"a":{"b":{"c":1}}}`)
}

// The thing size limit counts the compact JSON of the whole thing in UTF-16
// code units (Java's String#length): the limit itself is accepted, one more
// is things:thing.toolarge 413.
func TestThingSizeLimit(t *testing.T) {
	const limit = 200
	f := newFixture(t, withMaxThingBytes(limit))
	// sized returns a thing whose stored JSON (thingId added) is n units
	// long plus the UTF-16 length of extra.
	sized := func(id string, n int, extra string) string {
		t.Helper()
		empty := `{"attributes":{"s":""},"policyId":"` + id + `","thingId":"` + id + `"}`
		fill := n - len(empty)
		if fill < 0 {
			t.Fatalf("limit too small")
		}
		return `{"attributes":{"s":"` + extra + strings.Repeat("a", fill) + `"}}`
	}
	cases := []struct {
		name, id, extra string
		size            int // units without extra
		ok              bool
	}{
		{"at the limit", "org.example:s1", "", limit, true},
		{"one over", "org.example:s2", "", limit + 1, false},
		// U+1F600 is 4 bytes of UTF-8 but 2 UTF-16 units: at the limit in
		// UTF-16 although over it in bytes.
		{"astral at the limit", "org.example:s3", "😀", limit - 2, true},
		// 200 code points but 201 UTF-16 units.
		{"astral one over", "org.example:s4", "😀", limit - 1, false},
		// U+00E9 is 2 bytes of UTF-8 but one unit.
		{"latin-1 at the limit", "org.example:s5", "é", limit - 1, true},
		{"BMP at the limit", "org.example:s6", "日", limit - 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.modify(tc.id, "/", sized(tc.id, tc.size, tc.extra))
			if tc.ok {
				wantStatus(t, resp, 201)
				onlyEvent(t, f)
				return
			}
			e := wantError(t, resp, 413, "things:thing.toolarge")
			if want := "The size of '0.196' kB exceeds the maximal allowed Thing size of '0.195' kB."; e.Message != want {
				t.Errorf("message %q, want %q", e.Message, want)
			}
			noEvent(t, f)
			wantError(t, f.retrieve(tc.id, "/", ""), 404, "things:thing.notfound")
		})
	}
	// Growing a thing over the limit by a sub-resource modify or a merge is
	// refused too, and the thing stays as it was.
	thing := "org.example:s1" // exactly at the limit
	for _, c := range []struct{ action, path, value string }{
		{"modify", "/attributes/t", `1`},
		{"merge", "/attributes", `{"t":1}`},
		{"merge", "/", `{"definition":"a:b:c"}`},
		{"modify", "/features", `{}`},
	} {
		wantError(t, f.send(c.action, thing, c.path, c.value), 413, "things:thing.toolarge")
	}
	// Shrinking it is fine.
	wantStatus(t, f.modify(thing, "/attributes/s", `""`), 204)
	wantStatus(t, f.modify(thing, "/attributes/t", `1`), 201)
}

// The default limit is Ditto's 100 kB: 102400 UTF-16 units.
func TestDefaultThingSizeLimit(t *testing.T) {
	f := newFixture(t)
	sized := func(id string, n int) string {
		empty := `{"attributes":{"s":""},"policyId":"` + id + `","thingId":"` + id + `"}`
		return `{"attributes":{"s":"` + strings.Repeat("a", n-len(empty)) + `"}}`
	}
	wantStatus(t, f.create("org.example:big1", sized("org.example:big1", 102400)), 201)
	e := wantError(t, f.create("org.example:big2", sized("org.example:big2", 102401)), 413, "things:thing.toolarge")
	if want := "The size of '100.001' kB exceeds the maximal allowed Thing size of '100' kB."; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
}

// Fields a thing does not have are dropped, at the top level and in features.
func TestUnknownFieldsDropped(t *testing.T) {
	f := newFixture(t)
	id := "org.example:unknown"
	value := `{"thingId":"org.example:unknown","_revision":9,"_created":"x","_modified":"y","_namespace":"z","_policy":{"entries":{}},` +
		`"foo":{"bar":1},"attributes":{"_keep":1},"features":{"f":{"properties":{"p":1},"other":2,"definition":["a:b:c"]}}}`
	want := `{"thingId":"org.example:unknown","policyId":"org.example:unknown","attributes":{"_keep":1},"features":{"f":{"properties":{"p":1},"definition":["a:b:c"]}}}`
	resp := f.create(id, value)
	wantStatus(t, resp, 201)
	jsonEqual(t, "response", resp.Value, want)
	jsonEqual(t, "event", onlyEvent(t, f).Envelope.Value, want)
	jsonEqual(t, "stored", f.retrieve(id, "/", "").Value, want)
	jsonEqual(t, "revision", f.retrieve(id, "/", "_revision").Value, `{"_revision":1}`)
	// A merge cannot add them either.
	wantStatus(t, f.merge(id, "/", `{"foo":1,"features":{"f":{"junk":true}}}`), 204)
	jsonEqual(t, "after merge", f.retrieve(id, "/", "").Value, want)
}

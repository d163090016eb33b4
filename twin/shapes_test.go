package twin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// fullThing is a thing with every resource, used as the start of many cases.
const fullThing = `{"policyId":"org.example:pol","definition":"org.example:Lamp:1.0.0","attributes":{"a":1},` +
	`"features":{"f":{"definition":["org.example:F:1"],"properties":{"p":1},"desiredProperties":{"p":2}}}}`

// onlyEvent returns the single event published since the last take.
func onlyEvent(t *testing.T, f *fixture) twin.Event {
	t.Helper()
	evs := f.events.take()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1: %s", len(evs), mustJSON(evs))
	}
	return evs[0]
}

func noEvent(t *testing.T, f *fixture) {
	t.Helper()
	if evs := f.events.take(); len(evs) != 0 {
		t.Fatalf("unexpected events: %s", mustJSON(evs))
	}
}

// Modify and merge at / of a missing thing become a create (Ditto's
// ModifyToCreateThingTransformer): response topic action create, 201, the
// thing with thingId and a policyId, and a created event. The command's
// correlation-id and custom headers are echoed, the read-only precondition
// headers and the built-in requested-acks are not.
func TestWriteAtRootOfMissingThingCreates(t *testing.T) {
	cases := []struct {
		name, action, value string
		headers             []string
		want                string // value of the response and of the event
		respCT, eventCT     string
	}{
		{
			name: "modify without policyId", action: "modify",
			value:   `{"attributes":{"a":1},"unknown":"dropped","_revision":7}`,
			headers: []string{"if-none-match", "*"},
			want:    `{"thingId":"org.example:lamp","policyId":"org.example:lamp","attributes":{"a":1}}`,
			respCT:  "application/json", eventCT: "application/json",
		},
		{
			name: "modify with policyId and thingId", action: "modify",
			value: `{"thingId":"org.example:lamp","policyId":"org.example:pol","definition":"org.example:Lamp:1.0.0",` +
				`"features":{"f":{"properties":{"on":true},"extra":1}}}`,
			want: `{"thingId":"org.example:lamp","policyId":"org.example:pol","definition":"org.example:Lamp:1.0.0",` +
				`"features":{"f":{"properties":{"on":true}}}}`,
			respCT: "application/json", eventCT: "application/json",
		},
		{
			// Nulls are stripped recursively, null array elements too, and
			// objects inside arrays are cleaned (filterOutNullValues).
			name: "merge strips nulls", action: "merge",
			value: `{"policyId":"org.example:pol","definition":null,"attributes":{"a":1,"b":null,"n":{"c":null,"d":[1,null,{"x":null,"y":2},[null]]}},` +
				`"features":{"f":{"properties":{"x":null,"y":2},"desiredProperties":null},"g":null}}`,
			headers: []string{"if-none-match", "*"},
			want: `{"thingId":"org.example:lamp","policyId":"org.example:pol","attributes":{"a":1,"n":{"d":[1,{"y":2},[null]]}},` +
				`"features":{"f":{"properties":{"y":2}}}}`,
			// The response is Ditto's CreateThingResponse: JSON, not merge-patch.
			respCT: "application/json", eventCT: "application/json",
		},
		{
			name: "merge without policyId", action: "merge", value: `{"attributes":{"a":null}}`,
			want:   `{"thingId":"org.example:lamp","policyId":"org.example:lamp","attributes":{}}`,
			respCT: "application/json", eventCT: "application/json",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			headers := append([]string{"correlation-id", "cid-1", "x-app-trace", "abc", "response-required", "true",
				"requested-acks", `["twin-persisted"]`}, tc.headers...)
			resp := f.send(tc.action, "org.example:lamp", "/", tc.value, headers...)
			envelopeEqual(t, "response", resp, `{"topic":"org.example/lamp/things/twin/commands/create",`+
				`"headers":{"content-type":"`+tc.respCT+`","correlation-id":"cid-1","ditto-originator":"nginx:ditto",`+
				`"entity-revision":1,"etag":"\"rev:1\"","response-required":true,"x-app-trace":"abc"},`+
				`"path":"/","value":`+tc.want+`,"status":201}`)
			ev := onlyEvent(t, f)
			if ev.ThingID != "org.example:lamp" || ev.Namespace != "org.example" || ev.Revision != 1 {
				t.Errorf("event %s %s %d", ev.ThingID, ev.Namespace, ev.Revision)
			}
			envelopeEqual(t, "event", ev.Envelope, `{"topic":"org.example/lamp/things/twin/events/created",`+
				`"headers":{"content-type":"`+tc.eventCT+`","correlation-id":"cid-1","ditto-originator":"nginx:ditto",`+
				`"entity-revision":1,"response-required":true,"x-app-trace":"abc"},`+
				`"path":"/","value":`+tc.want+`,"revision":1,"timestamp":"2024-05-02T10:11:12.345Z"}`)
			// The stored thing is what the response showed.
			got := f.retrieve("org.example:lamp", "/", "")
			wantStatus(t, got, 200)
			jsonEqual(t, "retrieved", got.Value, tc.want)
		})
	}
}

func TestCreateThing(t *testing.T) {
	f := newFixture(t)
	resp := f.create("org.example:c", `{"attributes":{"a":1}}`, "correlation-id", "c1")
	envelopeEqual(t, "response", resp, `{"topic":"org.example/c/things/twin/commands/create",`+
		`"headers":{"content-type":"application/json","correlation-id":"c1","ditto-originator":"nginx:ditto","entity-revision":1,"etag":"\"rev:1\""},`+
		`"path":"/","value":{"thingId":"org.example:c","policyId":"org.example:c","attributes":{"a":1}},"status":201}`)
	if ev := onlyEvent(t, f); !strings.HasSuffix(ev.Envelope.Topic, "/events/created") {
		t.Errorf("event topic %s", ev.Envelope.Topic)
	}
	e := wantError(t, f.create("org.example:c", `{}`, "correlation-id", "c2"), 409, "things:thing.conflict")
	if e.Message != "The Thing with ID 'org.example:c' already exists" {
		t.Errorf("message %q", e.Message)
	}
	noEvent(t, f)
}

// Merge `{}` or `null` at / is things:merge.invalid, whether the thing exists or not.
func TestMergeRootEmptyOrNull(t *testing.T) {
	f := newFixture(t)
	f.mustCreate("org.example:exists", `{}`)
	f.events.take()
	for _, id := range []string{"org.example:exists", "org.example:missing"} {
		for _, value := range []string{`{}`, `null`} {
			t.Run(id+"/"+value, func(t *testing.T) {
				e := wantError(t, f.merge(id, "/", value), 400, "things:merge.invalid")
				if e.Message != "The provided json value can not be applied at this resource" {
					t.Errorf("message %q", e.Message)
				}
				noEvent(t, f)
			})
		}
	}
	wantError(t, f.retrieve("org.example:missing", "/", ""), 404, "things:thing.notfound")
}

// Merge answers 204 with no value and the merge-patch content type; its event
// is merged, with the patch (nulls kept) as value and the merge-patch type.
func TestMergeResponseAndEvent(t *testing.T) {
	cases := []struct {
		path, patch string
		etag        string // "rev" or "hash"
		after       string // the thing's attributes/features afterwards, retrieved at path
		afterPath   string
	}{
		{"/", `{"attributes":{"a":null,"b":{"c":1}},"unknown":1}`, "rev", `{"b":{"c":1}}`, "/attributes"},
		{"/attributes", `{"a":null,"b":[1,null]}`, "hash", `{"b":[1,null]}`, "/attributes"},
		{"/attributes/a", `{"x":1}`, "hash", `{"a":{"x":1}}`, "/attributes"},
		{"/attributes/new/deep", `2`, "hash", `{"a":1,"new":{"deep":2}}`, "/attributes"},
		{"/definition", `"org.example:Lamp:2.0.0"`, "rev", `"org.example:Lamp:2.0.0"`, "/definition"},
		{"/policyId", `"org.example:other"`, "rev", `"org.example:other"`, "/policyId"},
		{"/features/f/properties", `{"p":null,"q":true}`, "hash", `{"q":true}`, "/features/f/properties"},
		{"/features/g/properties/p", `1`, "hash", `{"properties":{"p":1}}`, "/features/g"},
	}
	for i, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			f := newFixture(t)
			id := fmt.Sprintf("org.example:merge-%d", i)
			f.mustCreate(id, fullThing)
			f.events.take()
			resp := f.merge(id, tc.path, tc.patch, "correlation-id", "m1", "x-custom", "yes")
			wantStatus(t, resp, 204)
			if resp.Value != nil {
				t.Errorf("merge response value %s, want none", resp.Value)
			}
			if resp.Topic != topicOf(id, "merge") || resp.Path != tc.path {
				t.Errorf("response topic %s path %s", resp.Topic, resp.Path)
			}
			etag := resp.Headers[protocol.HeaderETag]
			if tc.etag == "rev" && etag != `"rev:2"` || tc.etag == "hash" && !strings.HasPrefix(etag, `"hash:`) {
				t.Errorf("etag %s, want %s", etag, tc.etag)
			}
			delete(resp.Headers, protocol.HeaderETag)
			wantHeaders(t, "response", resp.Headers, map[string]string{"content-type": "application/merge-patch+json",
				"correlation-id": "m1", "x-custom": "yes", "ditto-originator": subject, "entity-revision": "2"})
			ev := onlyEvent(t, f)
			envelopeEqual(t, "event", ev.Envelope, `{"topic":"`+eventTopic(id, "merged")+`",`+
				`"headers":{"content-type":"application/merge-patch+json","correlation-id":"m1","ditto-originator":"nginx:ditto","entity-revision":2,"x-custom":"yes"},`+
				`"path":"`+tc.path+`","value":`+tc.patch+`,"revision":2,"timestamp":"2024-05-02T10:11:12.345Z"}`)
			got := f.retrieve(id, tc.afterPath, "")
			wantStatus(t, got, 200)
			jsonEqual(t, "after merge", got.Value, tc.after)
		})
	}
}

func wantHeaders(t *testing.T, what string, got protocol.Headers, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s headers %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s headers %v, want %v", what, got, want)
			return
		}
	}
}

// Modify below the thing: 201 with the value and a created event when the
// target was absent, 204 and a modified event when it was replaced; the 204
// at /attributes, /features and /features/<f> carries an explicit null.
func TestModifySubResources(t *testing.T) {
	cases := []struct {
		start, path, value string
		status             int
		respValue          string // "" none
		event              string
		eventValue         string // "" = value
	}{
		{fullThing, "/attributes", `{"b":2}`, 204, "null", "modified", ""},
		{fullThing, "/attributes/a", `5`, 204, "", "modified", ""},
		{fullThing, "/attributes/new", `{"x":[{"y":1}]}`, 201, `{"x":[{"y":1}]}`, "created", ""},
		{fullThing, "/attributes/deep/er", `1`, 201, `1`, "created", ""},
		{fullThing, "/definition", `"org.example:Lamp:2.0.0"`, 204, "", "modified", ""},
		{fullThing, "/definition", `"https://example.org/lamp.tm.jsonld"`, 204, "", "modified", ""},
		{fullThing, "/policyId", `"org.example:other"`, 204, "", "modified", ""},
		{fullThing, "/features", `{"g":{}}`, 204, "null", "modified", ""},
		{fullThing, "/features/f", `{"properties":{"q":1}}`, 204, "null", "modified", ""},
		{fullThing, "/features/f", `{"properties":{"q":1},"junk":2}`, 204, "null", "modified", `{"properties":{"q":1}}`},
		{fullThing, "/features/g", `{"properties":{"q":1},"junk":2}`, 201, `{"properties":{"q":1}}`, "created", `{"properties":{"q":1}}`},
		{fullThing, "/features/*", `{}`, 201, `{}`, "created", ""},
		{fullThing, "/features/f/definition", `["org.example:F:2","https://example.org/f"]`, 204, "", "modified", ""},
		{fullThing, "/features/f/properties", `{"q":1}`, 204, "", "modified", ""},
		{fullThing, "/features/f/properties/p", `2`, 204, "", "modified", ""},
		{fullThing, "/features/f/properties/q", `null`, 201, `null`, "created", ""},
		{fullThing, "/features/f/desiredProperties", `{}`, 204, "", "modified", ""},
		{fullThing, "/features/f/desiredProperties/q", `"x"`, 201, `"x"`, "created", ""},
		{`{}`, "/definition", `"org.example:Lamp:1.0.0"`, 201, `"org.example:Lamp:1.0.0"`, "created", ""},
		{`{}`, "/attributes", `{"a":1}`, 201, `{"a":1}`, "created", ""},
		{`{}`, "/attributes/a/b", `true`, 201, `true`, "created", ""},
		{`{}`, "/features", `{}`, 201, `{}`, "created", ""},
		{`{"features":{"f":{}}}`, "/features/f/definition", `["org.example:F:1"]`, 201, `["org.example:F:1"]`, "created", ""},
		{`{"features":{"f":{}}}`, "/features/f/properties", `{}`, 201, `{}`, "created", ""},
		{`{"features":{"f":{}}}`, "/features/f/properties/a/b", `1`, 201, `1`, "created", ""},
		{`{"features":{"f":{}}}`, "/features/f/desiredProperties/a", `1`, 201, `1`, "created", ""},
	}
	f := newFixture(t)
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d%s", i, tc.path), func(t *testing.T) {
			id := fmt.Sprintf("org.example:sub-%d", i)
			f.mustCreate(id, tc.start)
			f.events.take()
			resp := f.modify(id, tc.path, tc.value, "correlation-id", "c", "if-none-match", `"rev:999"`, "x-h", "1")
			wantStatus(t, resp, tc.status)
			if resp.Topic != topicOf(id, "modify") || resp.Path != tc.path {
				t.Errorf("response topic %s path %s", resp.Topic, resp.Path)
			}
			if tc.respValue == "" {
				if resp.Value != nil {
					t.Errorf("response value %s, want none", resp.Value)
				}
			} else {
				jsonEqual(t, "response value", resp.Value, tc.respValue)
			}
			etag := resp.Headers[protocol.HeaderETag]
			if !strings.HasPrefix(etag, `"hash:`) || !strings.HasSuffix(etag, `"`) {
				t.Errorf("etag %q, want a hash tag", etag)
			}
			// The tag is that of the stored value: a retrieve gives the same.
			if got := f.retrieve(id, tc.path, ""); got.Headers[protocol.HeaderETag] != etag {
				t.Errorf("retrieve etag %s, modify etag %s", got.Headers[protocol.HeaderETag], etag)
			}
			delete(resp.Headers, protocol.HeaderETag)
			wantHeaders(t, "response", resp.Headers, map[string]string{"content-type": "application/json",
				"correlation-id": "c", "x-h": "1", "ditto-originator": subject, "entity-revision": "2"})
			evValue := tc.value
			if tc.eventValue != "" {
				evValue = tc.eventValue
			}
			ev := onlyEvent(t, f)
			ns, name, _ := strings.Cut(id, ":")
			envelopeEqual(t, "event", ev.Envelope, `{"topic":"`+ns+"/"+name+`/things/twin/events/`+tc.event+`",`+
				`"headers":{"content-type":"application/json","correlation-id":"c","ditto-originator":"nginx:ditto","entity-revision":2,"x-h":"1"},`+
				`"path":"`+tc.path+`","value":`+evValue+`,"revision":2,"timestamp":"2024-05-02T10:11:12.345Z"}`)
		})
	}
}

// Modify at / of an existing thing: 204 with no value, a modified event with
// the whole resulting thing; a missing policyId keeps the current one.
func TestModifyExistingThing(t *testing.T) {
	f := newFixture(t)
	f.mustCreate("org.example:m", fullThing)
	f.events.take()
	resp := f.modify("org.example:m", "/", `{"attributes":{"z":0},"_policy":{"x":1}}`, "correlation-id", "c")
	envelopeEqual(t, "response", resp, `{"topic":"org.example/m/things/twin/commands/modify",`+
		`"headers":{"content-type":"application/json","correlation-id":"c","ditto-originator":"nginx:ditto","entity-revision":2,"etag":"\"rev:2\""},`+
		`"path":"/","status":204}`)
	want := `{"thingId":"org.example:m","policyId":"org.example:pol","attributes":{"z":0}}`
	ev := onlyEvent(t, f)
	envelopeEqual(t, "event", ev.Envelope, `{"topic":"org.example/m/things/twin/events/modified",`+
		`"headers":{"content-type":"application/json","correlation-id":"c","ditto-originator":"nginx:ditto","entity-revision":2},`+
		`"path":"/","value":`+want+`,"revision":2,"timestamp":"2024-05-02T10:11:12.345Z"}`)
	jsonEqual(t, "retrieved", f.retrieve("org.example:m", "/", "").Value, want)
}

// Deletes answer 204 with no value and no etag; the deleted event has no
// value and no content type.
func TestDeleteResponsesAndEvents(t *testing.T) {
	paths := []string{"/", "/definition", "/attributes", "/attributes/a", "/features", "/features/f",
		"/features/f/definition", "/features/f/properties", "/features/f/properties/p",
		"/features/f/desiredProperties", "/features/f/desiredProperties/p"}
	f := newFixture(t)
	for i, path := range paths {
		t.Run(path, func(t *testing.T) {
			id := fmt.Sprintf("org.example:del-%d", i)
			f.mustCreate(id, fullThing)
			f.events.take()
			resp := f.delete(id, path, "correlation-id", "d", "if-match", "*", "x-h", "1")
			ns, name, _ := strings.Cut(id, ":")
			envelopeEqual(t, "response", resp, `{"topic":"`+ns+"/"+name+`/things/twin/commands/delete",`+
				`"headers":{"content-type":"application/json","correlation-id":"d","ditto-originator":"nginx:ditto","entity-revision":2,"x-h":"1"},`+
				`"path":"`+path+`","status":204}`)
			ev := onlyEvent(t, f)
			envelopeEqual(t, "event", ev.Envelope, `{"topic":"`+ns+"/"+name+`/things/twin/events/deleted",`+
				`"headers":{"correlation-id":"d","ditto-originator":"nginx:ditto","entity-revision":2,"x-h":"1"},`+
				`"path":"`+path+`","revision":2,"timestamp":"2024-05-02T10:11:12.345Z"}`)
			if path == "/" {
				wantError(t, f.retrieve(id, "/", ""), 404, "things:thing.notfound")
				return
			}
			got := f.retrieve(id, path, "")
			if got.Status != 404 {
				t.Errorf("retrieve after delete: %s", mustJSON(got))
			}
		})
	}
}

// Absent resources answer with the 404 Ditto's strategies give: below a
// missing feature feature.notfound; a retrieve of an attribute or a (desired)
// property whose container is missing names the container, a delete the
// resource itself.
func TestNotFoundCodes(t *testing.T) {
	const (
		bare = "org.example:bare"
		full = "org.example:full"
	)
	f := newFixture(t)
	f.mustCreate(bare, `{}`)
	f.mustCreate(full, `{"attributes":{"a":1},"features":{"f":{"properties":{"p":1},"desiredProperties":{"d":1}},"e":{}}}`)
	cases := []struct {
		thing, path, retrieveCode, deleteCode, message string
	}{
		{bare, "/definition", "things:definition.notfound", "", ""},
		{bare, "/attributes", "things:attributes.notfound", "", ""},
		{bare, "/attributes/x", "things:attributes.notfound", "things:attribute.notfound", ""},
		{full, "/attributes/x/y", "things:attribute.notfound", "", "The attribute with key '/x/y' on the thing with ID 'org.example:full' " +
			"could not be found or the requester had insufficient permissions to access it."},
		{full, "/attributes/a/b", "things:attribute.notfound", "", ""},
		{bare, "/features", "things:features.notfound", "", ""},
		{bare, "/features/f", "things:feature.notfound", "", ""},
		{bare, "/features/f/properties/p", "things:feature.notfound", "", ""},
		{full, "/features/g", "things:feature.notfound", "", "The Feature with ID 'g' on the Thing with ID 'org.example:full' " +
			"could not be found or the requester had insufficient permissions to access it."},
		{full, "/features/g/definition", "things:feature.notfound", "", ""},
		{full, "/features/g/properties", "things:feature.notfound", "", ""},
		{full, "/features/g/properties/p", "things:feature.notfound", "", ""},
		{full, "/features/g/desiredProperties", "things:feature.notfound", "", ""},
		{full, "/features/g/desiredProperties/d", "things:feature.notfound", "", ""},
		{full, "/features/e/definition", "things:feature.definition.notfound", "", ""},
		{full, "/features/e/properties", "things:feature.properties.notfound", "", ""},
		{full, "/features/e/properties/p", "things:feature.properties.notfound", "things:feature.property.notfound", ""},
		{full, "/features/f/properties/q", "things:feature.property.notfound", "", "The Property with JSON Pointer '/q' of the Feature " +
			"with ID 'f' on the Thing with ID 'org.example:full' does not exist or the requester had insufficient permissions to access it."},
		{full, "/features/f/properties/p/q", "things:feature.property.notfound", "", ""},
		{full, "/features/e/desiredProperties", "things:feature.desiredProperties.notfound", "", ""},
		{full, "/features/e/desiredProperties/d", "things:feature.desiredProperties.notfound", "things:feature.desiredProperty.notfound", ""},
		{full, "/features/f/desiredProperties/x", "things:feature.desiredProperty.notfound", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.thing+tc.path, func(t *testing.T) {
			e := wantError(t, f.retrieve(tc.thing, tc.path, ""), 404, tc.retrieveCode)
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message %q\nwant    %q", e.Message, tc.message)
			}
			deleteCode := tc.deleteCode
			if deleteCode == "" {
				deleteCode = tc.retrieveCode
			}
			wantError(t, f.delete(tc.thing, tc.path), 404, deleteCode)
		})
	}
	// A write below the thing on a missing thing is thing.notfound.
	for _, action := range []string{"modify", "merge", "delete", "retrieve"} {
		value := ""
		if action == "modify" || action == "merge" {
			value = `1`
		}
		e := wantError(t, f.send(action, "org.example:nothing", "/attributes/a", value), 404, "things:thing.notfound")
		if e.Message != "The Thing with ID 'org.example:nothing' could not be found or requester had insufficient permissions to access it." {
			t.Errorf("%s message %q", action, e.Message)
		}
	}
	wantError(t, f.delete("org.example:nothing", "/"), 404, "things:thing.notfound")
	noEventsBut(t, f, 2)
}

// noEventsBut checks that exactly n events were published in all.
func noEventsBut(t *testing.T, f *fixture, n int) {
	t.Helper()
	if evs := f.events.take(); len(evs) != n {
		t.Errorf("%d events, want %d", len(evs), n)
	}
}

// An error envelope: topic <ns>/<name>/things/twin/errors, path /, JSON
// content type, the command's external headers (correlation-id, custom) but
// no read-only ones, no entity-revision.
func TestErrorEnvelopeShape(t *testing.T) {
	f := newFixture(t)
	resp := f.retrieve("org.example:none", "/", "", "correlation-id", "e1", "x-custom", "v", "if-match", `"rev:1"`,
		"if-none-match", `"rev:2"`, "if-equal", "update")
	envelopeEqual(t, "error", resp, `{"topic":"org.example/none/things/twin/errors",`+
		`"headers":{"content-type":"application/json","correlation-id":"e1","x-custom":"v"},"path":"/",`+
		`"value":{"status":404,"error":"things:thing.notfound",`+
		`"message":"The Thing with ID 'org.example:none' could not be found or requester had insufficient permissions to access it.",`+
		`"description":"Check if the ID of your requested Thing was correct and you have sufficient permissions."},"status":404}`)
	// An invalid condition is refused, and not echoed either.
	resp = f.modify("org.example:none", "/", `{}`, "correlation-id", "e2", "condition", "eq(attributes/a,")
	wantError(t, resp, 400, "things:condition.invalid")
	if _, ok := resp.Headers["condition"]; ok || resp.Headers["correlation-id"] != "e2" {
		t.Errorf("headers %v", resp.Headers)
	}
}

// A retrieve answers 200 with the value, an etag and entity-revision, and
// the command's external headers.
func TestRetrieveResponseShape(t *testing.T) {
	f := newFixture(t)
	f.mustCreate("org.example:r", fullThing)
	f.modify("org.example:r", "/attributes/a", `2`)
	resp := f.retrieve("org.example:r", "/", "", "correlation-id", "r1", "if-none-match", `"rev:1"`, "x-y", "z")
	envelopeEqual(t, "retrieve", resp, `{"topic":"org.example/r/things/twin/commands/retrieve",`+
		`"headers":{"content-type":"application/json","correlation-id":"r1","ditto-originator":"nginx:ditto","entity-revision":2,"etag":"\"rev:2\"","x-y":"z"},`+
		`"path":"/","value":{"thingId":"org.example:r","policyId":"org.example:pol","definition":"org.example:Lamp:1.0.0",`+
		`"attributes":{"a":2},"features":{"f":{"definition":["org.example:F:1"],"properties":{"p":1},"desiredProperties":{"p":2}}}},"status":200}`)
	for path, want := range map[string]string{
		"/policyId": `"org.example:pol"`, "/definition": `"org.example:Lamp:1.0.0"`, "/attributes/a": `2`,
		"/features/f/definition": `["org.example:F:1"]`, "/features/f/desiredProperties": `{"p":2}`,
	} {
		resp := f.retrieve("org.example:r", path, "")
		wantStatus(t, resp, 200)
		jsonEqual(t, path, resp.Value, want)
		if resp.Headers[protocol.HeaderEntityRevision] != "2" || !strings.HasPrefix(resp.Headers[protocol.HeaderETag], `"hash:`) {
			t.Errorf("%s headers %v", path, resp.Headers)
		}
	}
}

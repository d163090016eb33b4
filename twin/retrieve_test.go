package twin_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
)

const lampThing = `{"policyId":"org.example:pol","definition":"org.example:Lamp:1.0.0",` +
	`"attributes":{"location":{"latitude":44.67,"longitude":8.26},"serial":"X-1","complex":{"some":1,"serialNo":2,"other":3}},` +
	`"features":{"lamp":{"properties":{"on":true,"level":5},"desiredProperties":{"on":false}},` +
	`"socket":{"properties":{"on":false}},"sensor":{"definition":["org.example:S:1"]}}}`

func TestRetrieveFields(t *testing.T) {
	f := newFixture(t)
	id := "org.example:lamp"
	f.clock.set(time.Date(2024, 5, 2, 10, 11, 12, 345678_000, time.UTC))
	f.mustCreate(id, lampThing)
	f.clock.set(time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC))
	wantStatus(t, f.modify(id, "/attributes/serial", `"X-2"`), 204)
	cases := []struct {
		path, fields, want string
	}{
		{"/", "thingId,attributes/location", `{"thingId":"org.example:lamp","attributes":{"location":{"latitude":44.67,"longitude":8.26}}}`},
		{"/", "_revision,_created,_modified,_namespace",
			`{"_revision":2,"_created":"2024-05-02T10:11:12.345678Z","_modified":"2024-05-03T00:00:00Z","_namespace":"org.example"}`},
		{"/", "policyId,definition", `{"policyId":"org.example:pol","definition":"org.example:Lamp:1.0.0"}`},
		{"/", "thingId,unknown,attributes/nope,_metadata,_policy,features/none/properties", `{"thingId":"org.example:lamp"}`},
		{"/", "nothing", `{}`},
		{"/", "features/*/properties/on", `{"features":{"lamp":{"properties":{"on":true}},"socket":{"properties":{"on":false}}}}`},
		{"/", "features/*/definition", `{"features":{"sensor":{"definition":["org.example:S:1"]}}}`},
		{"/", "attributes/complex(some,serialNo)", `{"attributes":{"complex":{"some":1,"serialNo":2}}}`},
		{"/", "attributes/location/latitude,attributes/location", `{"attributes":{"location":{"latitude":44.67,"longitude":8.26}}}`},
		{"/", "attributes/serial,features/lamp/desiredProperties", `{"attributes":{"serial":"X-2"},"features":{"lamp":{"desiredProperties":{"on":false}}}}`},
		// On a sub-resource the selector is relative to it.
		{"/attributes", "location/latitude,serial", `{"location":{"latitude":44.67},"serial":"X-2"}`},
		{"/attributes", "attributes/serial", `{}`},
		{"/attributes/location", "longitude", `{"longitude":8.26}`},
		{"/features", "*/properties/on", `{"lamp":{"properties":{"on":true}},"socket":{"properties":{"on":false}}}`},
		{"/features/lamp", "properties/level", `{"properties":{"level":5}}`},
		{"/features/lamp/properties", "on", `{"on":true}`},
		{"/features/lamp/desiredProperties", "on,off", `{"on":false}`},
		{"/attributes/serial", "x", `"X-2"`},
	}
	for _, tc := range cases {
		t.Run(tc.path+"?"+tc.fields, func(t *testing.T) {
			resp := f.retrieve(id, tc.path, tc.fields)
			wantStatus(t, resp, 200)
			jsonEqual(t, "value", resp.Value, tc.want)
			if resp.Headers[protocol.HeaderEntityRevision] != "2" {
				t.Errorf("entity-revision %q", resp.Headers[protocol.HeaderEntityRevision])
			}
		})
	}
	// The special fields' JSON types: _revision a number, the others strings.
	resp := f.retrieve(id, "/", "_revision,_created,_modified,_namespace")
	var typed map[string]any
	if err := json.Unmarshal(resp.Value, &typed); err != nil {
		t.Fatal(err)
	}
	if _, ok := typed["_revision"].(float64); !ok {
		t.Errorf("_revision is %T", typed["_revision"])
	}
	for _, k := range []string{"_created", "_modified", "_namespace"} {
		if _, ok := typed[k].(string); !ok {
			t.Errorf("%s is %T", k, typed[k])
		}
	}
	// The default retrieve has none of them.
	jsonEqual(t, "default", f.retrieve(id, "/", "").Value,
		mustJSON(mergeInto(t, lampThing, map[string]any{"thingId": id, "attributes/serial": "X-2"})))
	// An empty namespace is "".
	f.mustCreate(":bare", `{}`)
	jsonEqual(t, "empty namespace", f.handle(protocol.Envelope{Topic: "/bare/things/twin/commands/retrieve", Path: "/",
		Fields: "_namespace,thingId"}).Value, `{"_namespace":"","thingId":":bare"}`)
	// A malformed selector is an error.
	wantError(t, f.retrieve(id, "/", "attributes(serial"), 400, "json.fieldselector.invalid")
}

// mergeInto decodes doc and sets the top-level or attributes/<k> fields of set.
func mergeInto(t *testing.T, doc string, set map[string]any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if k == "attributes/serial" {
			m["attributes"].(map[string]any)["serial"] = v
			continue
		}
		m[k] = v
	}
	return m
}

func retrieveMany(f *fixture, topic, value, fields string, h ...string) protocol.Envelope {
	f.t.Helper()
	return f.handle(protocol.Envelope{Topic: topic, Headers: hdrs(h...), Path: "/", Value: raw(value), Fields: fields})
}

func TestRetrieveMany(t *testing.T) {
	f := newFixture(t)
	f.mustCreate("org.example:a", `{"attributes":{"n":"a"}}`)
	f.mustCreate("org.example:b", `{"attributes":{"n":"b"}}`)
	f.mustCreate("other.ns:c", `{"attributes":{"n":"c"}}`)
	f.mustCreate("org.example:gone", `{}`)
	wantStatus(t, f.delete("org.example:gone", "/"), 204)
	wantStatus(t, f.modify("org.example:b", "/attributes/m", `1`), 201)
	f.events.take()

	const many = "_/_/things/twin/commands/retrieve"
	resp := retrieveMany(f, many, `{"thingIds":["org.example:b","org.example:missing","other.ns:c","org.example:gone","org.example:a","org.example:b"]}`, "",
		"correlation-id", "rm", "x-h", "v")
	envelopeEqual(t, "retrieve many", resp, `{"topic":"_/_/things/twin/commands/retrieve",`+
		`"headers":{"content-type":"application/json","correlation-id":"rm","ditto-originator":"nginx:ditto","x-h":"v"},"path":"/","value":[`+
		`{"thingId":"org.example:b","policyId":"org.example:b","attributes":{"n":"b","m":1}},`+
		`{"thingId":"other.ns:c","policyId":"other.ns:c","attributes":{"n":"c"}},`+
		`{"thingId":"org.example:a","policyId":"org.example:a","attributes":{"n":"a"}}],"status":200}`)

	resp = retrieveMany(f, "org.example/_/things/twin/commands/retrieve", `{"thingIds":["org.example:a","org.example:b"]}`,
		"thingId,_revision,attributes/m")
	wantStatus(t, resp, 200)
	if resp.Topic != "org.example/_/things/twin/commands/retrieve" {
		t.Errorf("topic %s", resp.Topic)
	}
	jsonEqual(t, "with fields", resp.Value, `[{"thingId":"org.example:a","_revision":1},{"thingId":"org.example:b","_revision":2,"attributes":{"m":1}}]`)

	jsonEqual(t, "none found", retrieveMany(f, many, `{"thingIds":["org.example:missing"]}`, "").Value, `[]`)

	for _, value := range []string{`{"thingIds":[]}`, `{}`, ``, `{"thingIds":null}`} {
		wantError(t, retrieveMany(f, many, value, "", "correlation-id", "x"), 400, "things:things.ids.missing")
	}
	for _, value := range []string{`{"thingIds":["org.example:a","not-an-id"]}`, `{"thingIds":["1ns:a"]}`, `{"thingIds":["ns:ü"]}`} {
		wantError(t, retrieveMany(f, many, value, ""), 400, "things:id.invalid")
	}
	for _, value := range []string{`[1]`, `{"thingIds":"org.example:a"}`, `{"thingIds":[1]}`} {
		wantError(t, retrieveMany(f, many, value, ""), 400, "json.format.invalid")
	}
	wantError(t, retrieveMany(f, many, `{"thingIds":["org.example:a"]}`, "attributes("), 400, "json.fieldselector.invalid")
	noEvent(t, f)
}

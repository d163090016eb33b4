package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// baseThing is the thing every command case starts from (policyId is set
// per thing). Cases that need a resource absent name it in `without`.
const baseThing = `{
 "definition": "org.example:model:1.0.0",
 "attributes": {"location": {"lat": 1.5, "lon": 2}, "serial": "A-1"},
 "features": {"lamp": {"definition": ["org.example:lamp:1.0.0"],
   "properties": {"on": true, "color": {"r": 1}},
   "desiredProperties": {"on": false, "level": 3}}}}`

// commandCase is one twin command at one path level, with what both doors
// must answer and what event an observer must receive.
type commandCase struct {
	name    string
	without []string // top-level keys or features/lamp sub-keys removed from baseThing first
	action  string   // create, modify, merge, retrieve, delete
	path    string
	value   string // JSON; "" for none
	status  int
	// httpStatus overrides status for the HTTP door, where a route may not exist.
	httpStatus int
	resp       string // expected response value ("" = none)
	event      string // expected event action ("" = none)
	evValue    string // expected event value ("" = none)
}

var commandCases = []commandCase{
	// thing
	{name: "create thing", without: []string{"*"}, action: "create", path: "/", value: `{"attributes":{"a":1}}`, status: 201,
		resp: `{"thingId":"$ID","policyId":"$ID","attributes":{"a":1}}`, event: "created", evValue: `{"thingId":"$ID","policyId":"$ID","attributes":{"a":1}}`},
	{name: "modify absent thing", without: []string{"*"}, action: "modify", path: "/", value: `{"attributes":{"a":1}}`, status: 201,
		resp: `{"thingId":"$ID","policyId":"$ID","attributes":{"a":1}}`, event: "created", evValue: `{"thingId":"$ID","policyId":"$ID","attributes":{"a":1}}`},
	{name: "modify thing", action: "modify", path: "/", value: `{"attributes":{"b":2}}`, status: 204,
		event: "modified", evValue: `{"thingId":"$ID","policyId":"$ID","attributes":{"b":2}}`},
	{name: "merge absent thing", without: []string{"*"}, action: "merge", path: "/", value: `{"attributes":{"a":1,"gone":null}}`, status: 201,
		resp: `{"thingId":"$ID","policyId":"$ID","attributes":{"a":1}}`, event: "created", evValue: `{"thingId":"$ID","policyId":"$ID","attributes":{"a":1}}`},
	{name: "merge thing", action: "merge", path: "/", value: `{"attributes":{"serial":null,"new":true}}`, status: 204,
		event: "merged", evValue: `{"attributes":{"serial":null,"new":true}}`},
	{name: "retrieve thing", action: "retrieve", path: "/", status: 200, resp: `$BASE`},
	{name: "delete thing", action: "delete", path: "/", status: 204, event: "deleted"},
	// policyId
	{name: "modify policyId", action: "modify", path: "/policyId", value: `"org.example:other-policy"`, status: 204,
		event: "modified", evValue: `"org.example:other-policy"`},
	{name: "merge policyId", action: "merge", path: "/policyId", value: `"org.example:other-policy"`, status: 204,
		event: "merged", evValue: `"org.example:other-policy"`},
	{name: "retrieve policyId", action: "retrieve", path: "/policyId", status: 200, resp: `"$ID"`},
	{name: "delete policyId", action: "delete", path: "/policyId", status: 400, httpStatus: 405},
	// definition
	{name: "modify absent definition", without: []string{"definition"}, action: "modify", path: "/definition", value: `"org.example:model:2.0.0"`, status: 201,
		resp: `"org.example:model:2.0.0"`, event: "created", evValue: `"org.example:model:2.0.0"`},
	{name: "modify definition", action: "modify", path: "/definition", value: `"org.example:model:2.0.0"`, status: 204,
		event: "modified", evValue: `"org.example:model:2.0.0"`},
	{name: "merge definition", action: "merge", path: "/definition", value: `"https://example.org/model.tm.jsonld"`, status: 204,
		event: "merged", evValue: `"https://example.org/model.tm.jsonld"`},
	{name: "retrieve definition", action: "retrieve", path: "/definition", status: 200, resp: `"org.example:model:1.0.0"`},
	{name: "retrieve absent definition", without: []string{"definition"}, action: "retrieve", path: "/definition", status: 404},
	{name: "delete definition", action: "delete", path: "/definition", status: 204, event: "deleted"},
	// attributes
	{name: "modify absent attributes", without: []string{"attributes"}, action: "modify", path: "/attributes", value: `{"x":1}`, status: 201,
		resp: `{"x":1}`, event: "created", evValue: `{"x":1}`},
	{name: "modify attributes", action: "modify", path: "/attributes", value: `{"x":1}`, status: 204, event: "modified", evValue: `{"x":1}`},
	{name: "merge attributes", action: "merge", path: "/attributes", value: `{"serial":"B-2","location":null}`, status: 204,
		event: "merged", evValue: `{"serial":"B-2","location":null}`},
	{name: "retrieve attributes", action: "retrieve", path: "/attributes", status: 200, resp: `{"location":{"lat":1.5,"lon":2},"serial":"A-1"}`},
	{name: "retrieve absent attributes", without: []string{"attributes"}, action: "retrieve", path: "/attributes", status: 404},
	{name: "delete attributes", action: "delete", path: "/attributes", status: 204, event: "deleted"},
	// attribute
	{name: "modify absent attribute", action: "modify", path: "/attributes/location/alt", value: `100`, status: 201,
		resp: `100`, event: "created", evValue: `100`},
	{name: "modify attribute", action: "modify", path: "/attributes/serial", value: `"B-2"`, status: 204, event: "modified", evValue: `"B-2"`},
	{name: "merge attribute", action: "merge", path: "/attributes/location", value: `{"lat":null,"alt":7}`, status: 204,
		event: "merged", evValue: `{"lat":null,"alt":7}`},
	{name: "retrieve attribute", action: "retrieve", path: "/attributes/location/lat", status: 200, resp: `1.5`},
	{name: "retrieve absent attribute", action: "retrieve", path: "/attributes/nope", status: 404},
	{name: "delete attribute", action: "delete", path: "/attributes/location/lon", status: 204, event: "deleted"},
	{name: "delete absent attribute", action: "delete", path: "/attributes/nope", status: 404},
	// features
	{name: "modify absent features", without: []string{"features"}, action: "modify", path: "/features", value: `{"f":{"properties":{"a":1}}}`, status: 201,
		resp: `{"f":{"properties":{"a":1}}}`, event: "created", evValue: `{"f":{"properties":{"a":1}}}`},
	{name: "modify features", action: "modify", path: "/features", value: `{"f":{}}`, status: 204, event: "modified", evValue: `{"f":{}}`},
	{name: "merge features", action: "merge", path: "/features", value: `{"lamp":{"properties":{"on":false}}}`, status: 204,
		event: "merged", evValue: `{"lamp":{"properties":{"on":false}}}`},
	{name: "retrieve features", action: "retrieve", path: "/features", status: 200,
		resp: `{"lamp":{"definition":["org.example:lamp:1.0.0"],"properties":{"on":true,"color":{"r":1}},"desiredProperties":{"on":false,"level":3}}}`},
	{name: "delete features", action: "delete", path: "/features", status: 204, event: "deleted"},
	// feature
	{name: "modify absent feature", action: "modify", path: "/features/fan", value: `{"properties":{"speed":3}}`, status: 201,
		resp: `{"properties":{"speed":3}}`, event: "created", evValue: `{"properties":{"speed":3}}`},
	{name: "modify feature", action: "modify", path: "/features/lamp", value: `{"properties":{"on":false}}`, status: 204,
		event: "modified", evValue: `{"properties":{"on":false}}`},
	{name: "merge feature", action: "merge", path: "/features/lamp", value: `{"properties":{"color":null}}`, status: 204,
		event: "merged", evValue: `{"properties":{"color":null}}`},
	{name: "retrieve feature", action: "retrieve", path: "/features/lamp/properties/color", status: 200, resp: `{"r":1}`},
	{name: "retrieve absent feature", action: "retrieve", path: "/features/fan", status: 404},
	{name: "delete feature", action: "delete", path: "/features/lamp", status: 204, event: "deleted"},
	// feature definition
	{name: "modify absent feature definition", without: []string{"lamp/definition"}, action: "modify", path: "/features/lamp/definition",
		value: `["org.example:lamp:2.0.0"]`, status: 201, resp: `["org.example:lamp:2.0.0"]`, event: "created", evValue: `["org.example:lamp:2.0.0"]`},
	{name: "modify feature definition", action: "modify", path: "/features/lamp/definition", value: `["org.example:lamp:2.0.0"]`, status: 204,
		event: "modified", evValue: `["org.example:lamp:2.0.0"]`},
	{name: "merge feature definition", action: "merge", path: "/features/lamp/definition", value: `["org.example:lamp:3.0.0"]`, status: 204,
		event: "merged", evValue: `["org.example:lamp:3.0.0"]`},
	{name: "retrieve feature definition", action: "retrieve", path: "/features/lamp/definition", status: 200, resp: `["org.example:lamp:1.0.0"]`},
	{name: "delete feature definition", action: "delete", path: "/features/lamp/definition", status: 204, event: "deleted"},
	{name: "modify definition of absent feature", action: "modify", path: "/features/fan/definition", value: `["org.example:fan:1.0.0"]`, status: 404},
	// properties
	{name: "modify absent properties", without: []string{"lamp/properties"}, action: "modify", path: "/features/lamp/properties", value: `{"on":true}`, status: 201,
		resp: `{"on":true}`, event: "created", evValue: `{"on":true}`},
	{name: "modify properties", action: "modify", path: "/features/lamp/properties", value: `{"on":false}`, status: 204, event: "modified", evValue: `{"on":false}`},
	{name: "merge properties", action: "merge", path: "/features/lamp/properties", value: `{"on":false,"color":{"g":2}}`, status: 204,
		event: "merged", evValue: `{"on":false,"color":{"g":2}}`},
	{name: "retrieve properties", action: "retrieve", path: "/features/lamp/properties", status: 200, resp: `{"on":true,"color":{"r":1}}`},
	{name: "delete properties", action: "delete", path: "/features/lamp/properties", status: 204, event: "deleted"},
	// property
	{name: "modify absent property", action: "modify", path: "/features/lamp/properties/brightness", value: `0.75`, status: 201,
		resp: `0.75`, event: "created", evValue: `0.75`},
	{name: "modify property", action: "modify", path: "/features/lamp/properties/on", value: `false`, status: 204, event: "modified", evValue: `false`},
	{name: "merge property", action: "merge", path: "/features/lamp/properties/color", value: `{"r":null,"b":9}`, status: 204,
		event: "merged", evValue: `{"r":null,"b":9}`},
	{name: "retrieve property", action: "retrieve", path: "/features/lamp/properties/on", status: 200, resp: `true`},
	{name: "retrieve absent property", action: "retrieve", path: "/features/lamp/properties/nope", status: 404},
	{name: "delete property", action: "delete", path: "/features/lamp/properties/color/r", status: 204, event: "deleted"},
	{name: "modify property of absent feature", action: "modify", path: "/features/fan/properties/speed", value: `1`, status: 404},
	// desiredProperties
	{name: "modify absent desiredProperties", without: []string{"lamp/desiredProperties"}, action: "modify", path: "/features/lamp/desiredProperties",
		value: `{"on":true}`, status: 201, resp: `{"on":true}`, event: "created", evValue: `{"on":true}`},
	{name: "modify desiredProperties", action: "modify", path: "/features/lamp/desiredProperties", value: `{"on":true}`, status: 204,
		event: "modified", evValue: `{"on":true}`},
	{name: "merge desiredProperties", action: "merge", path: "/features/lamp/desiredProperties", value: `{"level":null}`, status: 204,
		event: "merged", evValue: `{"level":null}`},
	{name: "retrieve desiredProperties", action: "retrieve", path: "/features/lamp/desiredProperties", status: 200, resp: `{"on":false,"level":3}`},
	{name: "delete desiredProperties", action: "delete", path: "/features/lamp/desiredProperties", status: 204, event: "deleted"},
	// desiredProperty
	{name: "modify absent desiredProperty", action: "modify", path: "/features/lamp/desiredProperties/color", value: `"red"`, status: 201,
		resp: `"red"`, event: "created", evValue: `"red"`},
	{name: "modify desiredProperty", action: "modify", path: "/features/lamp/desiredProperties/level", value: `5`, status: 204, event: "modified", evValue: `5`},
	{name: "merge desiredProperty", action: "merge", path: "/features/lamp/desiredProperties/level", value: `6`, status: 204, event: "merged", evValue: `6`},
	{name: "retrieve desiredProperty", action: "retrieve", path: "/features/lamp/desiredProperties/level", status: 200, resp: `3`},
	{name: "delete desiredProperty", action: "delete", path: "/features/lamp/desiredProperties/on", status: 204, event: "deleted"},
	{name: "delete absent desiredProperty", action: "delete", path: "/features/lamp/desiredProperties/nope", status: 404},
}

// seedThing returns the base thing for thingID with the keys of without removed.
func seedThing(t *testing.T, thingID string, without []string) string {
	t.Helper()
	var thing map[string]any
	if err := json.Unmarshal([]byte(baseThing), &thing); err != nil {
		t.Fatal(err)
	}
	thing["thingId"] = thingID
	// No policyId: the thing gets its implicit policy, whose id is the
	// thing's (naming a policy that does not exist yet fails, as in Ditto).
	lamp := thing["features"].(map[string]any)["lamp"].(map[string]any)
	for _, w := range without {
		if f, ok := strings.CutPrefix(w, "lamp/"); ok {
			delete(lamp, f)
		} else {
			delete(thing, w)
		}
	}
	b, _ := json.Marshal(thing)
	return string(b)
}

// httpMethods maps actions to HTTP methods (create is PUT on a new thing).
var httpMethods = map[string]string{"create": http.MethodPut, "modify": http.MethodPut, "merge": http.MethodPatch,
	"retrieve": http.MethodGet, "delete": http.MethodDelete}

// TestCommandsThroughBothDoors runs every case through the WebSocket door and
// the HTTP door against one real gateway, and checks the status, the value,
// the ETag/revision and the event a second session receives.
func TestCommandsThroughBothDoors(t *testing.T) {
	g := startGateway(t, "", nil)
	observer := g.dial(t)
	observer.startEvents(t, "namespaces=e2e")
	ws := g.dial(t)

	for i, tc := range commandCases {
		for _, door := range []string{"ws", "http"} {
			t.Run(door+"/"+tc.name, func(t *testing.T) {
				thingID := fmt.Sprintf("e2e:%s-%d", door, i)
				revision := int64(0)
				exists := !(len(tc.without) == 1 && tc.without[0] == "*")
				if exists {
					seed := seedThing(t, thingID, tc.without)
					if r := g.do(t, http.MethodPut, thingPath(thingID, "/"), seed, nil); r.status != http.StatusCreated {
						t.Fatalf("seeding: %d %s", r.status, r.body)
					}
					revision = 1
					observer.eventFor(t, thingID, revision)
				}
				subst := func(s string) string {
					base := seedThing(t, thingID, tc.without)
					// The implicit policy's id is the thing's.
					base = strings.Replace(base, `{`, `{"policyId":"`+thingID+`",`, 1)
					s = strings.ReplaceAll(s, "$BASE", base)
					return strings.ReplaceAll(s, "$ID", thingID)
				}

				var status int
				want := tc.status
				var value []byte
				var etag string
				switch door {
				case "ws":
					var headers map[string]any
					if tc.action == "merge" {
						headers = map[string]any{"content-type": "application/merge-patch+json"}
					}
					resp := ws.command(t, topicOf(thingID, tc.action), tc.path, tc.value, headers)
					status, value = resp.Status, resp.Value
					if tc.status >= 400 && resp.Topic != strings.Replace(thingID, ":", "/", 1)+"/things/twin/errors" {
						t.Errorf("error topic %q", resp.Topic)
					}
					if e, ok := resp.Headers["etag"].(string); ok {
						etag = e
					}
				case "http":
					headers := map[string]string{}
					if tc.action == "merge" {
						headers["Content-Type"] = "application/merge-patch+json"
					}
					r := g.do(t, httpMethods[tc.action], thingPath(thingID, tc.path), tc.value, headers)
					status, value, etag = r.status, r.body, r.header.Get("ETag")
					if tc.httpStatus != 0 {
						want = tc.httpStatus
					}
					if status == http.StatusCreated && r.header.Get("Location") == "" {
						t.Errorf("201 without Location")
					}
				}
				if status != want {
					t.Fatalf("status %d, want %d (value %s)", status, want, value)
				}
				switch {
				case want >= 400:
					var e struct {
						Status int    `json:"status"`
						Error  string `json:"error"`
					}
					if json.Unmarshal(value, &e) != nil || e.Status != want || e.Error == "" {
						t.Fatalf("error body %s", value)
					}
					return
				case tc.resp != "":
					jsonEqual(t, "response value", value, subst(tc.resp))
				case door == "ws" && tc.action == "modify" && tc.status == 204 &&
					(tc.path == "/attributes" || tc.path == "/features" || tc.path == "/features/lamp"):
					// Ditto answers these replacements with an explicit null.
					if string(value) != "null" {
						t.Fatalf("response value %s, want null", value)
					}
				case len(value) != 0:
					t.Fatalf("unexpected response value %s", value)
				}
				if tc.action != "delete" && etag == "" {
					t.Errorf("no ETag")
				}
				if wantRev := revision + boolInt(tc.event != ""); tc.path == "/" && tc.action != "delete" && etag != fmt.Sprintf(`"rev:%d"`, wantRev) {
					t.Errorf("ETag %s, want rev:%d", etag, wantRev)
				}
				if tc.event == "" {
					return
				}
				ev := observer.eventFor(t, thingID, revision+1)
				ns, name, _ := strings.Cut(thingID, ":")
				if want := ns + "/" + name + "/things/twin/events/" + tc.event; ev.Topic != want {
					t.Fatalf("event topic %s, want %s", ev.Topic, want)
				}
				if ev.Path != tc.path {
					t.Errorf("event path %s, want %s", ev.Path, tc.path)
				}
				if ev.Timestamp == "" {
					t.Errorf("event without timestamp")
				}
				if tc.evValue != "" {
					jsonEqual(t, "event value", ev.Value, subst(tc.evValue))
				} else if ev.Value != nil {
					t.Errorf("unexpected event value %s", ev.Value)
				}
			})
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

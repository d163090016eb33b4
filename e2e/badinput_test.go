package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadInputOverWebSocket sends malformed and invalid commands: each gets
// an error envelope with Ditto's exact code and status, the session stays
// open, and the next valid command succeeds.
func TestBadInputOverWebSocket(t *testing.T) {
	g := startGateway(t, "", nil)
	ws := g.dial(t)
	big := `{"attributes":{"blob":"` + strings.Repeat("x", 150*1024) + `"}}`
	huge := `{"topic":"e2e/huge/things/twin/commands/modify","headers":{},"path":"/","value":{"attributes":{"blob":"` +
		strings.Repeat("y", 300*1024) + `"}}}`
	cases := []struct {
		name   string
		frame  string
		code   string
		status int
	}{
		{"malformed JSON", `{"topic":`, "json.invalid", 400},
		{"not an object", `[1,2]`, "json.invalid", 400},
		{"missing topic", `{"headers":{},"path":"/"}`, "json.field.missing", 400},
		{"unknown criterion", `{"topic":"e2e/t/things/twin/commandz/modify","headers":{},"path":"/"}`, "protocoladapter:unknown.topicpath", 400},
		{"unknown group", `{"topic":"e2e/t/thongs/twin/commands/modify","headers":{},"path":"/"}`, "protocoladapter:unknown.topicpath", 400},
		{"unknown channel", `{"topic":"e2e/t/things/tween/commands/modify","headers":{},"path":"/"}`, "protocoladapter:unknown.topicpath", 400},
		{"unknown action", `{"topic":"e2e/t/things/twin/commands/explode","headers":{},"path":"/"}`, "protocoladapter:unknown.topicpath", 400},
		{"invalid thing id", `{"topic":"1bad/t/things/twin/commands/retrieve","headers":{},"path":"/"}`, "things:id.invalid", 400},
		{"invalid pointer", `{"topic":"e2e/t/things/twin/commands/retrieve","headers":{},"path":"/attributes//a"}`, "json.pointer.invalid", 400},
		{"unknown path", `{"topic":"e2e/t/things/twin/commands/retrieve","headers":{},"path":"/colour"}`, "protocoladapter:unknown.path", 400},
		{"invalid key in value", `{"topic":"e2e/t/things/twin/commands/modify","headers":{},"path":"/","value":{"attributes":{"a/b":1}}}`, "json.key.invalid", 400},
		{"merge without content type", `{"topic":"e2e/t/things/twin/commands/merge","headers":{},"path":"/","value":{}}`, "mediatype.unsupported", 415},
		{"delete policyId", `{"topic":"e2e/t/things/twin/commands/delete","headers":{},"path":"/policyId"}`, "protocoladapter:unknown.topicpath", 400},
		{"invalid feature definition", `{"topic":"e2e/t/things/twin/commands/modify","headers":{},"path":"/","value":{"features":{"f":{"definition":[]}}}}`, "things:feature.definition.empty", 400},
		{"value missing", `{"topic":"e2e/t/things/twin/commands/modify","headers":{},"path":"/"}`, "json.field.missing", 400},
		{"oversized thing", `{"topic":"e2e/t/things/twin/commands/modify","headers":{},"path":"/","value":` + big + `}`, "things:thing.toolarge", 413},
		{"oversized message", huge, "messages:payload.toolarge", 413},
		{"missing thing", `{"topic":"e2e/nothing/things/twin/commands/retrieve","headers":{},"path":"/"}`, "things:thing.notfound", 404},
		{"missing thing at sub path", `{"topic":"e2e/nothing/things/twin/commands/modify","headers":{},"path":"/attributes/a","value":1}`, "things:thing.notfound", 404},
		{"bad response-required", `{"topic":"e2e/t/things/twin/commands/retrieve","headers":{"response-required":"maybe"},"path":"/"}`, "header.invalid", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws.sendText(t, tc.frame)
			e := decodeEnvelope(t, ws.next(t))
			if e.Status != tc.status || e.errorCode() != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", e.Status, e.errorCode(), tc.status, tc.code, e.Raw)
			}
			if !strings.HasSuffix(e.Topic, "/errors") || e.Path != "/" {
				t.Errorf("error envelope topic %q path %q", e.Topic, e.Path)
			}
			// The session is still usable.
			resp := ws.command(t, topicOf("e2e:ok", "modify"), "/", `{"attributes":{"n":1}}`, nil)
			if resp.Status != 201 && resp.Status != 204 {
				t.Fatalf("next command after the bad one: %s", resp.Raw)
			}
		})
	}
}

// TestBadInputOverHTTP checks the HTTP door's error statuses and codes.
func TestBadInputOverHTTP(t *testing.T) {
	g := startGateway(t, "", nil)
	if r := g.do(t, http.MethodPut, thingPath("e2e:x", "/"), `{}`, nil); r.status != 201 {
		t.Fatalf("seed: %d %s", r.status, r.body)
	}
	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		code                     string
	}{
		{"malformed JSON", "PUT", thingPath("e2e:x", "/"), `{"attributes":`, nil, 400, "json.invalid"},
		{"wrong content type", "PUT", thingPath("e2e:x", "/attributes"), `{}`, map[string]string{"Content-Type": "text/plain"}, 415, "mediatype.unsupported"},
		{"merge without merge-patch type", "PATCH", thingPath("e2e:x", "/"), `{}`, nil, 415, "mediatype.unsupported"},
		{"invalid thing id", "GET", "/api/2/things/no-colon", "", nil, 400, "things:id.invalid"},
		{"thing id mismatch", "PUT", thingPath("e2e:x", "/"), `{"thingId":"e2e:y"}`, nil, 400, "things:id.notsettable"},
		{"unknown path", "GET", thingPath("e2e:x", "/colour"), "", nil, 400, "protocoladapter:unknown.path"},
		{"policyId not deletable", "DELETE", thingPath("e2e:x", "/policyId"), "", nil, 405, "gateway:method.notallowed"},
		{"missing attribute", "GET", thingPath("e2e:x", "/attributes/nope"), "", nil, 404, "things:attributes.notfound"},
		{"missing thing", "GET", thingPath("e2e:nothing", "/"), "", nil, 404, "things:thing.notfound"},
		{"oversized thing", "PUT", thingPath("e2e:x", "/attributes/blob"), `"` + strings.Repeat("z", 110*1024) + `"`, nil, 413, "things:thing.toolarge"},
		{"create existing", "POST", "/api/2/things", `{"thingId":"e2e:x"}`, nil, 400, "things:id.notsettable"},
		{"bad timeout", "GET", thingPath("e2e:x", "/") + "?timeout=banana", "", nil, 400, "timeout.invalid"},
		{"if-match fails", "PUT", thingPath("e2e:x", "/attributes"), `{}`, map[string]string{"If-Match": `"rev:99"`}, 412, "things:precondition.failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(t, tc.method, tc.path, tc.body, tc.headers)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			jsonField(t, r.body, "error", tc.code)
			jsonField(t, r.body, "status", float64(tc.status))
		})
	}
	// no credentials
	resp, err := http.Get(g.baseURL + thingPath("e2e:x", "/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", resp.StatusCode)
	}
}

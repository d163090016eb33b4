package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// ownerOnlyPolicy grants the test user everything.
const ownerOnlyPolicy = `{"entries":{"owner":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{
	"policy:/":{"grant":["READ","WRITE"],"revoke":[]},"thing:/":{"grant":["READ","WRITE"],"revoke":[]},
	"message:/":{"grant":["READ","WRITE"],"revoke":[]}}}}}`

// TestPolicyCommandsOverWebSocket: the policies group through a session, at
// several levels, with Ditto's statuses; other users see nothing of a policy
// they may not read; policy changes are not streamed as events.
func TestPolicyCommandsOverWebSocket(t *testing.T) {
	g := startPolicyGateway(t)
	owner := g.dial(t)
	watcher := g.dial(t)
	watcher.startEvents(t, "")
	const topic = "org.example/ws-policy/policies/commands/"

	r := owner.command(t, topic+"create", "/", ownerOnlyPolicy, nil)
	if r.Status != 201 || r.Topic != topic+"create" {
		t.Fatalf("create: %s", r.Raw)
	}
	jsonField(t, r.Value, "policyId", "org.example:ws-policy")
	r = owner.command(t, topic+"create", "/", ownerOnlyPolicy, nil)
	if r.Status != 409 || r.Topic != "org.example/ws-policy/policies/errors" || r.errorCode() != "policies:policy.conflict" {
		t.Fatalf("second create: %s", r.Raw)
	}
	r = owner.command(t, topic+"modify", "/entries/readers", `{"subjects":{"nginx:alice":{"type":"user"}},
		"resources":{"policy:/entries/readers":{"grant":["READ"],"revoke":[]}}}`, nil)
	if r.Status != 201 || r.Path != "/entries/readers" {
		t.Fatalf("modify entry: %s", r.Raw)
	}
	r = owner.command(t, topic+"modify", "/entries/readers/subjects/nginx:bob", `{"type":"user"}`, nil)
	if r.Status != 201 {
		t.Fatalf("modify subject: %s", r.Raw)
	}
	jsonEqual(t, "created subject", r.Value, `{"type":"user"}`)
	r = owner.command(t, topic+"retrieve", "/entries/readers/subjects", "", nil)
	if r.Status != 200 {
		t.Fatalf("retrieve subjects: %s", r.Raw)
	}
	jsonEqual(t, "subjects", r.Value, `{"nginx:alice":{"type":"user"},"nginx:bob":{"type":"user"}}`)
	r = owner.command(t, topic+"retrieve", "/entries/readers/resources/policy:/entries/readers", "", nil)
	if r.Status != 200 || r.Headers["etag"] == nil {
		t.Fatalf("retrieve resource: %s", r.Raw)
	}
	r = owner.command(t, topic+"delete", "/entries/readers/subjects/nginx:alice", "", nil)
	if r.Status != 204 || len(r.Value) != 0 {
		t.Fatalf("delete subject: %s", r.Raw)
	}
	r = owner.command(t, topic+"retrieve", "/", "", nil)
	if r.Status != 200 || r.Headers["etag"] != `"rev:4"` {
		t.Fatalf("retrieve: %s", r.Raw)
	}

	// bob reads his entry only; carol reads nothing.
	bobSession := g.dialAs(t, bob)
	r = bobSession.command(t, topic+"retrieve", "/", "", nil)
	if r.Status != 200 {
		t.Fatalf("bob's retrieve: %s", r.Raw)
	}
	jsonEqual(t, "bob's view", r.Value, `{"policyId":"org.example:ws-policy","entries":{"readers":{
		"subjects":{"nginx:bob":{"type":"user"}},"resources":{"policy:/entries/readers":{"grant":["READ"],"revoke":[]}},"importable":"implicit"}}}`)
	r = bobSession.command(t, topic+"modify", "/entries/readers/subjects/nginx:carol", `{"type":"user"}`, nil)
	if r.Status != 403 || r.errorCode() != "policies:subject.notmodifiable" {
		t.Fatalf("bob's write: %s", r.Raw)
	}
	r = g.dialAs(t, carol).command(t, topic+"retrieve", "/", "", nil)
	if r.Status != 404 || r.errorCode() != "policies:policy.notfound" {
		t.Fatalf("carol's retrieve: %s", r.Raw)
	}

	// The owner may not lock itself out without saying so.
	r = owner.command(t, topic+"delete", "/entries/owner", "", nil)
	if r.Status != 403 {
		t.Fatalf("self lockout: %s", r.Raw)
	}
	r = owner.command(t, topic+"delete", "/", "", nil)
	if r.Status != 204 {
		t.Fatalf("delete: %s", r.Raw)
	}
	watcher.noFrameWithin(t, 300*time.Millisecond)
}

// TestPolicyRoutesOverHTTP: /api/2/policies at several levels, a change of a
// thing's policy taking effect at once, and /api/2/checkPermissions.
func TestPolicyRoutesOverHTTP(t *testing.T) {
	g := startPolicyGateway(t)
	const policyPath = "/api/2/policies/org.example:http-policy"
	r := g.do(t, http.MethodPut, policyPath, ownerOnlyPolicy, nil)
	if r.status != http.StatusCreated || r.header.Get("ETag") != `"rev:1"` || r.header.Get("Location") != g.baseURL+policyPath {
		t.Fatalf("PUT policy: %d %v %s", r.status, r.header, r.body)
	}
	r = g.do(t, http.MethodGet, policyPath+"?fields=policyId,_revision", "", nil)
	if r.status != 200 {
		t.Fatalf("GET fields: %d %s", r.status, r.body)
	}
	jsonEqual(t, "fields", r.body, `{"policyId":"org.example:http-policy","_revision":1}`)
	if r = g.do(t, http.MethodGet, policyPath, "", map[string]string{"If-None-Match": `"rev:1"`}); r.status != http.StatusNotModified {
		t.Fatalf("GET If-None-Match: %d %s", r.status, r.body)
	}
	if r = g.do(t, http.MethodDelete, policyPath+"/entries", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE entries: %d %s", r.status, r.body)
	}

	// A thing under the policy: alice sees it as soon as she is granted READ.
	const thingID = "org.example:http-thing"
	if r = g.do(t, http.MethodPut, thingPath(thingID, "/"), `{"policyId":"org.example:http-policy","attributes":{"a":1}}`, nil); r.status != 201 {
		t.Fatalf("PUT thing: %d %s", r.status, r.body)
	}
	if r = g.doAs(t, alice, http.MethodGet, thingPath(thingID, "/"), "", nil); r.status != 404 {
		t.Fatalf("alice before the grant: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodPut, policyPath+"/entries/alice", `{"subjects":{"nginx:alice":{"type":"user"}},
		"resources":{"thing:/attributes":{"grant":["READ"],"revoke":[]}}}`, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("PUT alice's entry: %d %s", r.status, r.body)
	}
	r = g.doAs(t, alice, http.MethodGet, thingPath(thingID, "/"), "", nil)
	if r.status != 200 {
		t.Fatalf("alice after the grant: %d %s", r.status, r.body)
	}
	jsonEqual(t, "alice's thing", r.body, `{"thingId":"org.example:http-thing","attributes":{"a":1}}`)

	checks := `{"read":{"resource":"thing:/attributes/a","entityId":"org.example:http-thing","hasPermissions":["READ"]},
		"write":{"resource":"thing:/attributes/a","entityId":"org.example:http-thing","hasPermissions":["WRITE"]},
		"policy":{"resource":"policy:/","entityId":"org.example:http-policy","hasPermissions":["READ"]},
		"missing":{"resource":"thing:/","entityId":"org.example:missing","hasPermissions":["READ"]}}`
	r = g.doAs(t, alice, http.MethodPost, "/api/2/checkPermissions", checks, nil)
	if r.status != 200 {
		t.Fatalf("alice's checkPermissions: %d %s", r.status, r.body)
	}
	jsonEqual(t, "alice's permissions", r.body, `{"read":true,"write":false,"policy":false,"missing":false}`)
	r = g.do(t, http.MethodPost, "/api/2/checkPermissions", checks, nil)
	jsonEqual(t, "owner's permissions", r.body, `{"read":true,"write":true,"policy":true,"missing":false}`)

	// Deleting alice's subject takes her access away at once.
	if r = g.do(t, http.MethodDelete, policyPath+"/entries/alice/subjects/nginx:alice", "", nil); r.status != 204 {
		t.Fatalf("DELETE alice's subject: %d %s", r.status, r.body)
	}
	if r = g.doAs(t, alice, http.MethodGet, thingPath(thingID, "/"), "", nil); r.status != 404 {
		t.Fatalf("alice after the revocation: %d %s", r.status, r.body)
	}
	r = g.doAs(t, alice, http.MethodGet, policyPath, "", nil)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(r.body, &e); r.status != 404 || e.Error != "policies:policy.notfound" {
		t.Fatalf("alice GET policy: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodPost, policyPath+"/actions/activateTokenIntegration", "", nil)
	if r.status != 400 || !strings.Contains(string(r.body), "policies:action.failed") {
		t.Fatalf("token action: %d %s", r.status, r.body)
	}
}

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/twinway/twinway/server"
)

// Users of the policy tests: the thing's owner (the default test user),
// two readers with different grants and one without any.
const (
	alice = "alice"
	bob   = "bob"
	carol = "carol"
)

// startPolicyGateway starts a gateway with the owner and the three users.
func startPolicyGateway(t *testing.T) *gatewayUnderTest {
	t.Helper()
	return startGateway(t, "", func(c *server.Config) {
		c.Users = []server.User{{Name: testUser, Password: testPassword}, {Name: alice, Password: testPassword},
			{Name: bob, Password: testPassword}, {Name: carol, Password: testPassword}}
	})
}

// sharedThingPolicy gives the owner everything, alice READ on the whole
// thing but the secret attribute, and bob READ on the features only.
const sharedThingPolicy = `{
	"entries": {
		"owner": {"subjects": {"nginx:ditto": {"type": "user"}},
			"resources": {"thing:/": {"grant": ["READ", "WRITE"], "revoke": []}, "policy:/": {"grant": ["READ", "WRITE"], "revoke": []}}},
		"alice": {"subjects": {"nginx:alice": {"type": "user"}},
			"resources": {"thing:/": {"grant": ["READ"], "revoke": []}, "thing:/attributes/secret": {"grant": [], "revoke": ["READ"]}}},
		"bob": {"subjects": {"nginx:bob": {"type": "user"}},
			"resources": {"thing:/features": {"grant": ["READ"], "revoke": []}}}
	}}`

// TestPoliciesPruneRetrievesAndEvents: two users with different grants on one
// thing get differently pruned retrieves and events; a user without READ
// gets 404 and no events; revoking a grant stops the events of an open
// session.
func TestPoliciesPruneRetrievesAndEvents(t *testing.T) {
	g := startPolicyGateway(t)
	const id = "org.example:shared"
	r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"_policy":`+sharedThingPolicy+`,
		"attributes": {"public": 1, "secret": 2}, "features": {"lamp": {"properties": {"on": false}}}}`, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create with inline policy: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "policyId", id)

	// Retrieves.
	r = g.doAs(t, alice, http.MethodGet, thingPath(id, "/"), "", nil)
	if r.status != 200 {
		t.Fatalf("alice GET: %d %s", r.status, r.body)
	}
	jsonEqual(t, "alice's thing", r.body, `{"thingId":"org.example:shared","policyId":"org.example:shared",
		"attributes":{"public":1},"features":{"lamp":{"properties":{"on":false}}}}`)
	r = g.doAs(t, bob, http.MethodGet, thingPath(id, "/"), "", nil)
	jsonEqual(t, "bob's thing", r.body, `{"thingId":"org.example:shared","features":{"lamp":{"properties":{"on":false}}}}`)
	r = g.doAs(t, bob, http.MethodGet, thingPath(id, "/attributes"), "", nil)
	if r.status != 404 {
		t.Fatalf("bob GET attributes: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:attributes.notfound")
	r = g.doAs(t, alice, http.MethodGet, thingPath(id, "/attributes/secret"), "", nil)
	if r.status != 404 {
		t.Fatalf("alice GET the secret: %d %s", r.status, r.body)
	}
	r = g.doAs(t, carol, http.MethodGet, thingPath(id, "/"), "", nil)
	if r.status != 404 {
		t.Fatalf("carol GET: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:thing.notfound")
	r = g.doAs(t, alice, http.MethodGet, "/api/2/things?ids="+id+"&fields=attributes,_revision", "", nil)
	jsonEqual(t, "alice's list", r.body, `[{"attributes":{"public":1},"_revision":1}]`)
	r = g.doAs(t, carol, http.MethodGet, "/api/2/things?ids="+id, "", nil)
	jsonEqual(t, "carol's list", r.body, `[]`)

	// Writes need WRITE.
	r = g.doAs(t, alice, http.MethodPut, thingPath(id, "/attributes/public"), `5`, nil)
	if r.status != 403 {
		t.Fatalf("alice PUT: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:attribute.notmodifiable")

	// A condition on a field alice may not read fails as if unmet.
	r = g.doAs(t, alice, http.MethodGet, thingPath(id, "/attributes")+"?condition="+url.QueryEscape(`eq(attributes/secret,2)`), "", nil)
	if r.status != 412 {
		t.Fatalf("alice's condition on the secret: %d %s", r.status, r.body)
	}

	// Events.
	sessions := map[string]*wsClient{}
	for _, u := range []string{alice, bob, carol} {
		sessions[u] = g.dialAs(t, u)
		sessions[u].startEvents(t, "")
	}
	r = g.do(t, http.MethodPut, thingPath(id, "/attributes"), `{"public": 10, "secret": 20}`, nil)
	if r.status != 204 {
		t.Fatalf("owner PUT attributes: %d %s", r.status, r.body)
	}
	ev := sessions[alice].eventFor(t, id, 2)
	jsonEqual(t, "alice's attributes event", ev.Value, `{"public":10}`)
	r = g.do(t, http.MethodPut, thingPath(id, "/features/lamp/properties/on"), `true`, nil)
	if r.status != 204 {
		t.Fatalf("owner PUT property: %d %s", r.status, r.body)
	}
	ev = sessions[bob].nextEvent(t) // bob's first event: revision 2 was not his
	if ev.Revision != 3 || ev.Path != "/features/lamp/properties/on" || string(ev.Value) != "true" {
		t.Fatalf("bob's event: %s", ev.Raw)
	}
	sessions[alice].eventFor(t, id, 3)
	// A whole-thing event is pruned per reader, keeping the thing id.
	r = g.do(t, http.MethodPatch, thingPath(id, "/"), `{"attributes":{"secret":30},"features":{"lamp":{"properties":{"on":false}}}}`,
		map[string]string{"Content-Type": "application/merge-patch+json"})
	if r.status != 204 {
		t.Fatalf("owner PATCH: %d %s", r.status, r.body)
	}
	ev = sessions[alice].eventFor(t, id, 4)
	// alice may read attributes but not the secret inside: an empty object
	// (as Ditto's JSON view keeps a readable object whose members are not).
	jsonEqual(t, "alice's merged event", ev.Value, `{"attributes":{},"features":{"lamp":{"properties":{"on":false}}}}`)
	ev = sessions[bob].eventFor(t, id, 4)
	jsonEqual(t, "bob's merged event", ev.Value, `{"features":{"lamp":{"properties":{"on":false}}}}`)
	sessions[carol].noFrameWithin(t, 300*time.Millisecond)

	// Revoking alice's grant stops her events at once, without reconnecting.
	r = g.do(t, http.MethodDelete, "/api/2/policies/"+id+"/entries/alice", "", nil)
	if r.status != 204 {
		t.Fatalf("delete alice's entry: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodPut, thingPath(id, "/attributes/public"), `11`, nil)
	if r.status != 204 {
		t.Fatalf("owner PUT after revoke: %d %s", r.status, r.body)
	}
	sessions[alice].noFrameWithin(t, 300*time.Millisecond)
	r = g.doAs(t, alice, http.MethodGet, thingPath(id, "/"), "", nil)
	if r.status != 404 {
		t.Fatalf("alice GET after revoke: %d %s", r.status, r.body)
	}
}

// TestImplicitPolicy: a thing created without a policy gets one with its own
// id granting its creator everything; nobody else sees it; creating it again
// after deleting it fails while the policy is still there (as in Ditto), and
// works naming that policy.
func TestImplicitPolicy(t *testing.T) {
	g := startPolicyGateway(t)
	const id = "org.example:implicit"
	r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"attributes":{"a":1}}`, nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodGet, "/api/2/policies/"+id, "", nil)
	if r.status != 200 {
		t.Fatalf("the implicit policy: %d %s", r.status, r.body)
	}
	var p struct {
		Entries map[string]struct {
			Subjects  map[string]any `json:"subjects"`
			Resources map[string]any `json:"resources"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	def, ok := p.Entries["DEFAULT"]
	if !ok || def.Subjects["nginx:ditto"] == nil || len(def.Resources) != 3 {
		t.Fatalf("implicit policy: %s", r.body)
	}
	if r := g.doAs(t, alice, http.MethodGet, thingPath(id, "/"), "", nil); r.status != 404 {
		t.Fatalf("alice sees the thing: %d %s", r.status, r.body)
	}
	if r := g.doAs(t, alice, http.MethodDelete, thingPath(id, "/"), "", nil); r.status != 403 {
		t.Fatalf("alice deletes the thing: %d %s", r.status, r.body)
	}
	if r := g.do(t, http.MethodDelete, thingPath(id, "/"), "", nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodPut, thingPath(id, "/"), `{"attributes":{"a":2}}`, nil)
	if r.status != 400 {
		t.Fatalf("re-create with the policy left: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:thing.notcreatable")
	r = g.do(t, http.MethodPut, thingPath(id, "/"), `{"policyId":"`+id+`","attributes":{"a":2}}`, nil)
	if r.status != 201 {
		t.Fatalf("re-create naming the policy: %d %s", r.status, r.body)
	}
	// A thing naming a policy that does not exist is not created.
	r = g.do(t, http.MethodPut, thingPath("org.example:orphan", "/"), `{"policyId":"org.example:nope"}`, nil)
	if r.status != 400 {
		t.Fatalf("create with a missing policy: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:thing.notcreatable")
	// Copying a policy: alice may not read the implicit one, the owner may.
	r = g.doAs(t, alice, http.MethodPut, thingPath("org.example:copy-a", "/"), `{"_copyPolicyFrom":"`+id+`"}`, nil)
	if r.status != 404 {
		t.Fatalf("alice copies a policy she cannot read: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodPut, thingPath("org.example:copy-b", "/"), `{"_copyPolicyFrom":"{{ ref:things/`+id+`/policyId }}"}`, nil)
	if r.status != 201 {
		t.Fatalf("copy by reference: %d %s", r.status, r.body)
	}
	if r := g.do(t, http.MethodGet, "/api/2/policies/org.example:copy-b/entries/DEFAULT", "", nil); r.status != 200 {
		t.Fatalf("the copied policy: %d %s", r.status, r.body)
	}
}

// TestSearchHonoursPolicies: search results hold only things the caller may
// read, pruned, and a filter on a field the caller may not read matches
// nothing.
func TestSearchHonoursPolicies(t *testing.T) {
	g := startPolicyGateway(t)
	for _, id := range []string{"org.example:s1", "org.example:s2"} {
		r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"_policy":`+sharedThingPolicy+`,"attributes":{"public":1,"secret":2}}`, nil)
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", id, r.status, r.body)
		}
	}
	if r := g.do(t, http.MethodPut, thingPath("org.example:mine", "/"), `{"attributes":{"public":1,"secret":2}}`, nil); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r := g.doAs(t, alice, http.MethodGet, "/api/2/search/things?fields=thingId,attributes&filter="+url.QueryEscape(`eq(attributes/public,1)`), "", nil)
	jsonEqual(t, "alice's search", r.body, `{"items":[{"thingId":"org.example:s1","attributes":{"public":1}},
		{"thingId":"org.example:s2","attributes":{"public":1}}]}`)
	r = g.doAs(t, alice, http.MethodGet, "/api/2/search/things?filter="+url.QueryEscape(`eq(attributes/secret,2)`), "", nil)
	jsonEqual(t, "alice's search on the secret", r.body, `{"items":[]}`)
	r = g.doAs(t, alice, http.MethodGet, "/api/2/search/things/count", "", nil)
	if string(r.body) != "2" {
		t.Fatalf("alice's count: %s", r.body)
	}
	r = g.do(t, http.MethodGet, "/api/2/search/things/count", "", nil)
	if string(r.body) != "3" {
		t.Fatalf("owner's count: %s", r.body)
	}
	r = g.doAs(t, carol, http.MethodGet, "/api/2/search/things", "", nil)
	jsonEqual(t, "carol's search", r.body, `{"items":[]}`)
}

// TestMergeNeedsWriteOnEveryLeaf: a merge is allowed only where the caller
// may write every leaf it touches; an empty object is a leaf (it replaces
// what is there), so it cannot be used to overwrite what the caller may not
// write.
func TestMergeNeedsWriteOnEveryLeaf(t *testing.T) {
	g := startPolicyGateway(t)
	const id = "org.example:merge"
	r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"_policy":{"entries":{
		"owner":{"subjects":{"nginx:ditto":{"type":"user"}},"resources":{"thing:/":{"grant":["READ","WRITE"],"revoke":[]},
			"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}},
		"alice":{"subjects":{"nginx:alice":{"type":"user"}},"resources":{"thing:/":{"grant":["READ"],"revoke":[]},
			"thing:/attributes/public":{"grant":["WRITE"],"revoke":[]}}}}},
		"attributes":{"public":1,"secret":{"pin":2},"limit":3}}`, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	merge := func(path, body string) httpResult {
		return g.doAs(t, alice, http.MethodPatch, thingPath(id, path), body, map[string]string{"Content-Type": "application/merge-patch+json"})
	}
	for _, tc := range []struct{ path, body string }{
		{"/attributes", `{"secret":{}}`},
		{"/", `{"attributes":{"limit":{},"new":{}}}`},
		{"/attributes", `{}`},
		{"/attributes", `{"public":2,"limit":4}`},
	} {
		if r := merge(tc.path, tc.body); r.status != http.StatusForbidden {
			t.Errorf("PATCH %s %s: %d %s, want 403", tc.path, tc.body, r.status, r.body)
		}
	}
	if r := merge("/attributes", `{"public":{"nested":true}}`); r.status != http.StatusNoContent {
		t.Fatalf("PATCH of what alice may write: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodGet, thingPath(id, "/attributes"), "", nil)
	jsonEqual(t, "attributes after the merges", r.body, `{"public":{"nested":true},"secret":{"pin":2},"limit":3}`)
}

// TestSearchCursorRevealsNothing: whether a page carries a cursor does not
// depend on things the caller may not read (else a filter on a hidden value
// would answer yes/no questions about it), and a cursor is sealed.
func TestSearchCursorRevealsNothing(t *testing.T) {
	g := startPolicyGateway(t)
	if r := g.doAs(t, carol, http.MethodPut, thingPath("org.example:a-mine", "/"), `{"attributes":{"pin":1}}`, nil); r.status != 201 {
		t.Fatalf("carol's thing: %d %s", r.status, r.body)
	}
	if r := g.do(t, http.MethodPut, thingPath("org.example:secret", "/"), `{"attributes":{"pin":4321}}`, nil); r.status != 201 {
		t.Fatalf("the owner's thing: %d %s", r.status, r.body)
	}
	for _, n := range []int{4321, 4322} {
		filter := `or(eq(thingId,"org.example:a-mine"),and(eq(thingId,"org.example:secret"),ge(attributes/pin,` + strconv.Itoa(n) + `)))`
		r := g.doAs(t, carol, http.MethodGet, "/api/2/search/things?fields=thingId&option="+url.QueryEscape("sort(+thingId),size(1)")+
			"&filter="+url.QueryEscape(filter), "", nil)
		jsonEqual(t, "carol's page", r.body, `{"items":[{"thingId":"org.example:a-mine"}]}`)
	}
	// carol pages through her two things; the cursor names no thing or value,
	// and her last page has none, though the owner's thing sorts after it.
	if r := g.doAs(t, carol, http.MethodPut, thingPath("org.example:b-mine", "/"), `{"attributes":{"pin":2}}`, nil); r.status != 201 {
		t.Fatalf("carol's second thing: %d %s", r.status, r.body)
	}
	r := g.doAs(t, carol, http.MethodGet, "/api/2/search/things?fields=thingId&option="+url.QueryEscape("sort(+attributes/pin),size(1)"), "", nil)
	var page struct {
		Cursor string `json:"cursor"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || page.Cursor == "" {
		t.Fatalf("owner's first page: %s", r.body)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(page.Cursor); err != nil || bytes.Contains(raw, []byte("a-mine")) {
		t.Fatalf("cursor is not sealed: %q", raw)
	}
	r = g.doAs(t, carol, http.MethodGet, "/api/2/search/things?fields=thingId&option="+url.QueryEscape("sort(+attributes/pin),size(1),cursor("+page.Cursor+")"), "", nil)
	jsonEqual(t, "carol's second page", r.body, `{"items":[{"thingId":"org.example:b-mine"}]}`)
	r = g.do(t, http.MethodGet, "/api/2/search/things?option="+url.QueryEscape("cursor(AAAA)"), "", nil)
	if r.status != 400 {
		t.Fatalf("forged cursor: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "thing-search:search.option.invalid")
}

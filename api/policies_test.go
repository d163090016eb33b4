package api

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/metrics"
	"github.com/twinway/twinway/policies"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// usersAuth accepts Basic users whose password is their name: ditto is
// nginx:ditto, every other user google:<name>.
type usersAuth struct{}

func (usersAuth) Authenticate(r *http.Request) (auth.Context, error) {
	user, password, ok := r.BasicAuth()
	if !ok || user == "" || password != user {
		return auth.Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "The username or password is wrong.")
	}
	if user == "ditto" {
		return auth.Context{Subjects: []string{"nginx:ditto"}}, nil
	}
	return auth.Context{Subjects: []string{"google:" + user}}, nil
}

// as is the Authorization header of user.
func as(user string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+user))}
}

// startPolicyGateway is the HTTP door with the policy handler, on the real
// twin handler and SQLite store.
func startPolicyGateway(t *testing.T) *testGateway {
	t.Helper()
	store := openStore(t)
	pols, err := policies.New(policies.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	twins, err := twin.New(twin.Config{Store: store, Policies: pols})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, Config{Twins: twins, Auth: usersAuth{}, Metrics: metrics.New(), Policies: pols, ThingPolicies: twins})
}

const ownerPolicy = `{"entries":{"owner":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{` +
	`"policy:/":{"grant":["READ","WRITE"],"revoke":[]},"thing:/":{"grant":["READ","WRITE"],"revoke":[]},` +
	`"message:/":{"grant":["READ","WRITE"],"revoke":[]}}}}}`

const ownerEntryOut = `{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{` +
	`"policy:/":{"grant":["READ","WRITE"],"revoke":[]},"thing:/":{"grant":["READ","WRITE"],"revoke":[]},` +
	`"message:/":{"grant":["READ","WRITE"],"revoke":[]}},"importable":"implicit"}`

func TestPolicyLifecycle(t *testing.T) {
	g := startPolicyGateway(t)
	const path = "/api/2/policies/org.example:p1"
	created := `{"policyId":"org.example:p1","imports":{},"entries":{"owner":` + ownerEntryOut + `}}`

	r := g.do(t, http.MethodPut, path, ownerPolicy, nil).want(t, http.StatusCreated)
	r.wantJSON(t, created)
	if r.header.Get("ETag") != `"rev:1"` || r.header.Get("Location") != g.srv.URL+path {
		t.Errorf("ETag %q Location %q", r.header.Get("ETag"), r.header.Get("Location"))
	}
	r = g.do(t, http.MethodPut, path, ownerPolicy, nil).want(t, http.StatusNoContent)
	r.wantNoBody(t)
	if r.header.Get("ETag") != `"rev:2"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	r = g.do(t, http.MethodGet, path, "", nil).want(t, http.StatusOK)
	r.wantJSON(t, created)
	g.do(t, http.MethodGet, path, "", map[string]string{"If-None-Match": `"rev:2"`}).want(t, http.StatusNotModified).wantNoBody(t)
	g.do(t, http.MethodPut, path, ownerPolicy, map[string]string{"If-Match": `"rev:1"`}).
		wantError(t, http.StatusPreconditionFailed, protocol.CodePolicyPreconditionFailed)
	g.do(t, http.MethodGet, path+"?fields=policyId,_revision", "", nil).want(t, http.StatusOK).
		wantJSON(t, `{"policyId":"org.example:p1","_revision":2}`)
	g.do(t, http.MethodGet, path+"?policy-view=original", "", nil).want(t, http.StatusOK).wantJSON(t, created)
	r = g.do(t, http.MethodGet, path+"?policy-view=resolved", "", nil).want(t, http.StatusOK)
	if r.header.Get("ETag") != "" {
		t.Errorf("resolved view ETag %q", r.header.Get("ETag"))
	}
	g.do(t, http.MethodGet, path+"?policy-view=merged", "", nil).wantError(t, http.StatusBadRequest, protocol.CodePolicyViewInvalid)

	// Every level.
	g.do(t, http.MethodGet, path+"/entries", "", nil).want(t, http.StatusOK).wantJSON(t, `{"owner":`+ownerEntryOut+`}`)
	g.do(t, http.MethodGet, path+"/entries/owner", "", nil).want(t, http.StatusOK).wantJSON(t, ownerEntryOut)
	g.do(t, http.MethodGet, path+"/entries/owner/subjects/nginx:ditto", "", nil).want(t, http.StatusOK).wantJSON(t, `{"type":"generated"}`)
	g.do(t, http.MethodGet, path+"/entries/owner/resources/thing:/", "", nil).want(t, http.StatusOK).
		wantJSON(t, `{"grant":["READ","WRITE"],"revoke":[]}`)
	g.do(t, http.MethodGet, path+"/entries/owner/resources/thing:", "", nil).want(t, http.StatusOK)
	g.do(t, http.MethodGet, path+"/imports", "", nil).want(t, http.StatusOK).wantJSON(t, `{}`)

	subject := path + "/entries/readers/subjects/google%3Aalice"
	g.do(t, http.MethodPut, subject, `{"type":"user"}`, nil).wantError(t, http.StatusNotFound, protocol.CodePolicyEntryNotFound)
	r = g.do(t, http.MethodPut, path+"/entries/readers", `{"subjects":{},"resources":{"thing:/attributes":{"grant":["READ"],"revoke":[]}}}`, nil).
		want(t, http.StatusCreated)
	if r.header.Get("Location") != g.srv.URL+path+"/entries/readers" || r.header.Get("ETag") == "" {
		t.Errorf("Location %q ETag %q", r.header.Get("Location"), r.header.Get("ETag"))
	}
	g.do(t, http.MethodPut, subject, `{"type":"user"}`, nil).want(t, http.StatusCreated).wantJSON(t, `{"type":"user"}`)
	g.do(t, http.MethodGet, path+"/entries/readers/subjects", "", nil).want(t, http.StatusOK).wantJSON(t, `{"google:alice":{"type":"user"}}`)
	g.do(t, http.MethodPut, path+"/entries/readers/resources/thing:/features/lamp", `{"grant":["READ"],"revoke":[]}`, nil).
		want(t, http.StatusCreated)
	g.do(t, http.MethodPut, path+"/entries/readers/namespaces", `["org.example"]`, nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodGet, path+"/entries/readers/namespaces", "", nil).want(t, http.StatusOK).wantJSON(t, `["org.example"]`)
	g.do(t, http.MethodPut, path+"/entries/readers/importable", `"never"`, nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodPut, path+"/entries/readers/allowedAdditions", `["subjects"]`, nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodDelete, path+"/entries/readers/allowedAdditions", "", nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodPut, path+"/entries/readers/references", `[{"entry":"owner"}]`, nil).want(t, http.StatusCreated)
	g.do(t, http.MethodDelete, path+"/entries/readers/references", "", nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodPut, path+"/imports/org.example:other", `{}`, nil).want(t, http.StatusCreated).wantJSON(t, `{}`)
	g.do(t, http.MethodPut, path+"/imports/org.example:other/entries", `["a"]`, nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodGet, path+"/imports/org.example:other/entries", "", nil).want(t, http.StatusOK).wantJSON(t, `["a"]`)
	g.do(t, http.MethodDelete, path+"/imports", "", nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodDelete, subject, "", nil).want(t, http.StatusNoContent).wantNoBody(t)
	g.do(t, http.MethodDelete, subject, "", nil).wantError(t, http.StatusNotFound, protocol.CodePolicySubjectNotFound)

	// What another subject may not read does not exist for it.
	g.do(t, http.MethodGet, path, "", as("bob")).wantError(t, http.StatusNotFound, protocol.CodePolicyNotFound)
	g.do(t, http.MethodPut, path+"/entries/owner", ownerEntryOut, as("bob")).wantError(t, http.StatusForbidden, protocol.CodePolicyEntryNotModifiable)
	g.do(t, http.MethodPut, path+"/entries/readers/subjects/google:bob", `{"type":"user"}`, nil).want(t, http.StatusCreated)
	g.do(t, http.MethodPut, path+"/entries/readers/resources/policy:/entries/readers", `{"grant":["READ"],"revoke":[]}`, nil).
		want(t, http.StatusCreated)
	r = g.do(t, http.MethodGet, path, "", as("bob")).want(t, http.StatusOK)
	if body := string(r.body); strings.Contains(body, "owner") || !strings.Contains(body, `"policyId"`) || !strings.Contains(body, "readers") {
		t.Errorf("bob's view %s", body)
	}
	g.do(t, http.MethodPut, path+"/entries/owner", ownerEntryOut, as("bob")).
		wantError(t, http.StatusForbidden, protocol.CodePolicyEntryNotModifiable)

	// Asynchronous, then gone.
	g.do(t, http.MethodPut, path, ownerPolicy, map[string]string{"response-required": "false"}).want(t, http.StatusAccepted).wantNoBody(t)
	g.do(t, http.MethodDelete, path, "", nil).want(t, http.StatusNoContent).wantNoBody(t)
	g.do(t, http.MethodGet, path, "", nil).wantError(t, http.StatusNotFound, protocol.CodePolicyNotFound)
}

func TestPolicyRouteErrors(t *testing.T) {
	g := startPolicyGateway(t)
	const path = "/api/2/policies/org.example:p1"
	g.do(t, http.MethodPut, path, ownerPolicy, nil).want(t, http.StatusCreated)
	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		code                     string
		allow                    string
	}{
		{"delete of all entries", http.MethodDelete, path + "/entries", "", nil, 405, protocol.CodeMethodNotAllowed, "GET, PUT"},
		{"post on a policy", http.MethodPost, path, "{}", nil, 405, protocol.CodeMethodNotAllowed, "GET, PUT, DELETE"},
		{"patch on a policy", http.MethodPatch, path, "{}", nil, 405, protocol.CodeMethodNotAllowed, "GET, PUT, DELETE"},
		{"delete of namespaces", http.MethodDelete, path + "/entries/owner/namespaces", "", nil, 405, protocol.CodeMethodNotAllowed, "GET, PUT"},
		{"get on policies", http.MethodGet, "/api/2/policies", "", nil, 405, protocol.CodeMethodNotAllowed, "POST"},
		{"unknown level", http.MethodGet, path + "/foo", "", nil, 404, protocol.CodeNotFound, ""},
		{"below an entry field", http.MethodGet, path + "/entries/owner/namespaces/x", "", nil, 404, protocol.CodeNotFound, ""},
		{"below an import field", http.MethodGet, path + "/imports/org.example:x/entries/y", "", nil, 404, protocol.CodeNotFound, ""},
		{"token action", http.MethodPost, path + "/actions/activateTokenIntegration", "", nil, 400, protocol.CodePolicyActionFailed, ""},
		{"entry token action", http.MethodPost, path + "/entries/owner/actions/deactivateTokenIntegration", "", nil, 400, protocol.CodePolicyActionFailed, ""},
		{"get on an action", http.MethodGet, path + "/actions/activateTokenIntegration", "", nil, 405, protocol.CodeMethodNotAllowed, "POST"},
		{"unknown action", http.MethodPost, path + "/actions/frobnicate", "", nil, 404, protocol.CodeNotFound, ""},
		{"invalid id", http.MethodGet, "/api/2/policies/no-namespace-separator", "", nil, 400, protocol.CodePolicyIDInvalid, ""},
		{"policyId differs", http.MethodPut, path, `{"policyId":"org.example:p2","entries":{}}`, nil, 400, protocol.CodePolicyIDNotSettable, ""},
		{"not JSON", http.MethodPut, path, `{"entries":`, nil, 400, protocol.CodeJSONInvalid, ""},
		{"not an object", http.MethodPut, path, `[]`, nil, 400, protocol.CodeJSONInvalid, ""},
		{"text body", http.MethodPut, path, `{}`, map[string]string{"Content-Type": "text/plain"}, 415, protocol.CodeMediaType, ""},
		{"imported label", http.MethodGet, path + "/entries/imported-x", "", nil, 400, protocol.CodePolicyLabelInvalid, ""},
		{"lockout", http.MethodDelete, path + "/entries/owner/subjects/nginx:ditto", "", nil, 403, protocol.CodePolicyEntryModificationInvalid, ""},
		{"bad lockout value", http.MethodDelete, path + "/entries/owner?allow-policy-lockout=perhaps", "", nil, 400, protocol.CodeHeaderInvalid, ""},
		{"missing policy", http.MethodGet, "/api/2/policies/org.example:nope/entries", "", nil, 404, protocol.CodePolicyNotFound, ""},
		{"creation without WRITE", http.MethodPut, "/api/2/policies/org.example:p2",
			`{"entries":{"a":{"subjects":{"google:a":{"type":"user"}},"resources":{"policy:/":{"grant":["WRITE"],"revoke":[]}}}}}`,
			nil, 403, protocol.CodePolicyNotCreatable, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := g.do(t, c.method, c.path, c.body, c.headers)
			r.wantError(t, c.status, c.code)
			if c.allow != "" && r.header.Get("Allow") != c.allow {
				t.Errorf("Allow %q, want %q", r.header.Get("Allow"), c.allow)
			}
		})
	}
	// The lockout guard gives way to allow-policy-lockout, as a query
	// parameter too.
	g.do(t, http.MethodPut, path+"/entries/admin", `{"subjects":{"google:admin":{"type":"user"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}}`, nil).
		want(t, http.StatusCreated)
	g.do(t, http.MethodDelete, path+"/entries/owner", "", nil).wantError(t, http.StatusForbidden, protocol.CodePolicyEntryModificationInvalid)
	g.do(t, http.MethodDelete, path+"/entries/owner?allow-policy-lockout=true", "", nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodGet, path, "", nil).wantError(t, http.StatusNotFound, protocol.CodePolicyNotFound)
	g.do(t, http.MethodGet, path, "", as("admin")).want(t, http.StatusOK)
}

func TestCreatePolicyWithGeneratedID(t *testing.T) {
	g := startPolicyGateway(t)
	r := g.do(t, http.MethodPost, "/api/2/policies", ownerPolicy, nil).want(t, http.StatusCreated)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, g.srv.URL+"/api/2/policies/:") {
		t.Fatalf("Location %q", loc)
	}
	id := strings.TrimPrefix(loc, g.srv.URL+"/api/2/policies/")
	if !strings.Contains(string(r.body), `"policyId":"`+id+`"`) {
		t.Errorf("body %s, id %s", r.body, id)
	}
	g.do(t, http.MethodGet, "/api/2/policies/"+id+"/entries/owner", "", nil).want(t, http.StatusOK).wantJSON(t, ownerEntryOut)
	r = g.do(t, http.MethodPost, "/api/2/policies/", `{"policyId":"org.example:x","entries":{}}`, nil)
	r.wantError(t, http.StatusBadRequest, protocol.CodePolicyIDNotSettable)
	if !strings.Contains(string(r.body), "method POST") {
		t.Errorf("body %s", r.body)
	}
	g.do(t, http.MethodPost, "/api/2/policies", `[]`, nil).wantError(t, http.StatusBadRequest, protocol.CodeJSONInvalid)
}

// TestPolicyRoutesOff: without a policy handler the routes are Ditto's 404.
func TestPolicyRoutesOff(t *testing.T) {
	g := startGateway(t, Config{})
	g.do(t, http.MethodGet, "/api/2/policies/org.example:p1", "", nil).wantError(t, http.StatusNotFound, protocol.CodeNotFound)
	g.do(t, http.MethodPost, "/api/2/checkPermissions", `{}`, nil).wantError(t, http.StatusNotFound, protocol.CodeNotFound)
}

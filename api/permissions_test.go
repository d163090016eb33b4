package api

import (
	"net/http"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func TestCheckPermissions(t *testing.T) {
	g := startPolicyGateway(t)
	const policy = `{"entries":{` +
		`"owner":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]},` +
		`"thing:/":{"grant":["READ","WRITE"],"revoke":[]},"message:/":{"grant":["READ","WRITE"],"revoke":[]}}},` +
		`"bob":{"subjects":{"google:bob":{"type":"user"}},"resources":{"thing:/attributes":{"grant":["READ"],"revoke":[]},` +
		`"thing:/features":{"grant":["READ"],"revoke":[]},"thing:/features/secret":{"grant":[],"revoke":["READ"]},` +
		`"message:/inbox/messages/toggle":{"grant":["WRITE"],"revoke":[]}}}}}`
	g.do(t, http.MethodPut, "/api/2/policies/org.example:p1", policy, nil).want(t, http.StatusCreated)
	g.do(t, http.MethodPut, "/api/2/things/org.example:t1", `{"policyId":"org.example:p1"}`, nil).want(t, http.StatusCreated)

	const checks = `{
		"readAttributes": {"resource":"thing:/attributes/location","entityId":"org.example:t1","hasPermissions":["READ"]},
		"readThing":      {"resource":"thing:/","entityId":"org.example:t1","hasPermissions":["READ"]},
		"readFeatures":   {"resource":"thing:/features","entityId":"org.example:t1","hasPermissions":["READ"]},
		"toggle":         {"resource":"message:/inbox/messages/toggle","entityId":"org.example:t1","hasPermissions":["WRITE"]},
		"readWrite":      {"resource":"thing:/attributes","entityId":"org.example:t1","hasPermissions":["READ","WRITE"]},
		"editPolicy":     {"resource":"policy:/","entityId":"org.example:p1","hasPermissions":["WRITE"]},
		"readOwnEntry":   {"resource":"policy:/entries/bob","entityId":"org.example:p1","hasPermissions":["READ"]},
		"unknownThing":   {"resource":"thing:/","entityId":"org.example:nope","hasPermissions":["READ"]},
		"unknownPolicy":  {"resource":"policy:/","entityId":"org.example:nope","hasPermissions":["READ"]},
		"oddPermission":  {"resource":"thing:/","entityId":"org.example:t1","hasPermissions":["ADMINISTRATE"]},
		"notACheck": 42
	}`
	r := g.do(t, http.MethodPost, "/api/2/checkPermissions", checks, nil).want(t, http.StatusOK)
	r.wantJSON(t, `{"readAttributes":true,"readThing":true,"readFeatures":true,"toggle":true,"readWrite":true,"editPolicy":true,`+
		`"readOwnEntry":true,"unknownThing":false,"unknownPolicy":false,"oddPermission":false}`)
	if r.header.Get("Correlation-Id") == "" {
		t.Error("no correlation-id")
	}
	// Unrestricted: bob's READ on the features is revoked below them.
	r = g.do(t, http.MethodPost, "/api/2/checkPermissions", checks, as("bob")).want(t, http.StatusOK)
	r.wantJSON(t, `{"readAttributes":true,"readThing":false,"readFeatures":false,"toggle":true,"readWrite":false,"editPolicy":false,`+
		`"readOwnEntry":false,"unknownThing":false,"unknownPolicy":false,"oddPermission":false}`)
	// The answer keeps the order of the request.
	r = g.do(t, http.MethodPost, "/api/2/checkPermissions",
		`{"z":{"resource":"thing:/","entityId":"org.example:t1","hasPermissions":["READ"]},"a":{"resource":"thing:/","entityId":"org.example:t1","hasPermissions":["WRITE"]}}`,
		nil).want(t, http.StatusOK)
	if string(r.body) != `{"z":true,"a":true}` {
		t.Errorf("body %s", r.body)
	}
	// Checks may also come wrapped, as Ditto's CheckPermissions JSON has them.
	g.do(t, http.MethodPost, "/api/2/checkPermissions",
		`{"permissionChecks":{"x":{"resource":"thing:/","entityId":"org.example:t1","hasPermissions":["READ"]}}}`, nil).
		want(t, http.StatusOK).wantJSON(t, `{"x":true}`)
	g.do(t, http.MethodPost, "/api/2/checkPermissions", `{}`, nil).want(t, http.StatusOK).wantJSON(t, `{}`)
}

func TestCheckPermissionsErrors(t *testing.T) {
	g := startPolicyGateway(t)
	cases := []struct {
		name, method, body string
		status             int
		code               string
	}{
		{"get", http.MethodGet, "", 405, protocol.CodeMethodNotAllowed},
		{"not an object", http.MethodPost, `[1]`, 400, protocol.CodeJSONInvalid},
		{"not JSON", http.MethodPost, `{"a":`, 400, protocol.CodeJSONInvalid},
		{"no resource", http.MethodPost, `{"a":{"entityId":"org.example:t1","hasPermissions":["READ"]}}`, 400, protocol.CodeJSONFieldMissing},
		{"no entity", http.MethodPost, `{"a":{"resource":"thing:/","hasPermissions":["READ"]}}`, 400, protocol.CodeJSONFieldMissing},
		{"no permissions", http.MethodPost, `{"a":{"resource":"thing:/","entityId":"org.example:t1"}}`, 400, protocol.CodeJSONFieldMissing},
		{"resource not a string", http.MethodPost, `{"a":{"resource":1,"entityId":"org.example:t1","hasPermissions":["READ"]}}`, 400, protocol.CodeJSONInvalid},
		{"permissions not an array", http.MethodPost, `{"a":{"resource":"thing:/","entityId":"org.example:t1","hasPermissions":"READ"}}`, 400, protocol.CodeJSONInvalid},
		{"resource without type", http.MethodPost, `{"a":{"resource":"/attributes","entityId":"org.example:t1","hasPermissions":["READ"]}}`, 400, protocol.CodeJSONInvalid},
		{"unsupported type", http.MethodPost, `{"a":{"resource":"connection:/","entityId":"org.example:t1","hasPermissions":["READ"]}}`, 400, protocol.CodeJSONInvalid},
		{"invalid thing id", http.MethodPost, `{"a":{"resource":"thing:/","entityId":"nonamespace","hasPermissions":["READ"]}}`, 400, protocol.CodeThingIDInvalid},
		{"invalid policy id", http.MethodPost, `{"a":{"resource":"policy:/","entityId":"nonamespace","hasPermissions":["READ"]}}`, 400, protocol.CodePolicyIDInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g.do(t, c.method, "/api/2/checkPermissions", c.body, nil).wantError(t, c.status, c.code)
		})
	}
}

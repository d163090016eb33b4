package policies_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/policies"
	"github.com/twinway/twinway/protocol"
)

const ownerEntry = `{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{` +
	`"policy:/":{"grant":["READ","WRITE"],"revoke":[]},"thing:/":{"grant":["READ","WRITE"],"revoke":[]}},"importable":"implicit"}`

// step is one command of a sequence on one policy and what it answers.
type step struct {
	action, path, value string
	headers             map[string]string
	status              int
	code                string // error code, for an error
	want                string // expected value ("" : none checked; "-": no value)
}

func runSteps(t *testing.T, h *policies.Handler, id string, steps []step) {
	t.Helper()
	for i, s := range steps {
		resp := send(t, h, caller, id, s.action, s.path, s.value, s.headers)
		name := fmt.Sprintf("step %d: %s %s", i, s.action, s.path)
		if resp.Status != s.status {
			t.Fatalf("%s: status %d, want %d: %s", name, resp.Status, s.status, short(resp.Value))
		}
		if s.code != "" {
			if e := errorOf(t, resp); e.Code != s.code {
				t.Fatalf("%s: error %s (%s), want %s", name, e.Code, e.Message, s.code)
			}
			continue
		}
		if resp.Headers[protocol.HeaderCorrelationID] != "c-1" {
			t.Errorf("%s: correlation-id %q", name, resp.Headers[protocol.HeaderCorrelationID])
		}
		switch s.want {
		case "":
		case "-":
			if resp.Value != nil {
				t.Errorf("%s: unexpected value %s", name, resp.Value)
			}
		default:
			t.Run(name, func(t *testing.T) { jsonEqual(t, resp.Value, s.want) })
		}
	}
}

// TestLevels runs every action at every level of a policy, in Ditto's
// statuses and values.
func TestLevels(t *testing.T) {
	h := newHandler(t, nil, nil)
	created := `{"policyId":"org.example:p1","imports":{},"entries":{"owner":` + ownerEntry + `}}`
	reader := `{"subjects":{"google:alice":{"type":"user"}},"resources":{"thing:/attributes":{"grant":["READ"],"revoke":[]}}}`
	readerOut := `{"subjects":{"google:alice":{"type":"user"}},"resources":{"thing:/attributes":{"grant":["READ"],"revoke":[]}},"importable":"implicit"}`
	runSteps(t, h, policyID, []step{
		{action: "create", path: "/", value: ownerPolicy, status: 201, want: created},
		{action: "create", path: "/", value: ownerPolicy, status: 409, code: protocol.CodePolicyConflict},
		{action: "retrieve", path: "/", status: 200, want: created},
		{action: "retrieve", path: "/entries", status: 200, want: `{"owner":` + ownerEntry + `}`},
		{action: "retrieve", path: "/entries/owner", status: 200, want: ownerEntry},
		{action: "retrieve", path: "/entries/owner/subjects", status: 200, want: `{"nginx:ditto":{"type":"generated"}}`},
		{action: "retrieve", path: "/entries/owner/subjects/nginx:ditto", status: 200, want: `{"type":"generated"}`},
		{action: "retrieve", path: "/entries/owner/resources", status: 200,
			want: `{"policy:/":{"grant":["READ","WRITE"],"revoke":[]},"thing:/":{"grant":["READ","WRITE"],"revoke":[]}}`},
		{action: "retrieve", path: "/entries/owner/resources/thing:/", status: 200, want: `{"grant":["READ","WRITE"],"revoke":[]}`},
		{action: "retrieve", path: "/entries/owner/namespaces", status: 404, code: protocol.CodePolicyEntryNotFound},
		{action: "retrieve", path: "/entries/owner/importable", status: 200, want: `"implicit"`},
		{action: "retrieve", path: "/entries/owner/allowedAdditions", status: 200, want: `[]`},
		{action: "retrieve", path: "/entries/owner/references", status: 200, want: `[]`},
		{action: "retrieve", path: "/imports", status: 200, want: `{}`},
		{action: "retrieve", path: "/imports/org.example:other", status: 404, code: protocol.CodePolicyImportNotFound},
		{action: "retrieve", path: "/entries/nope", status: 404, code: protocol.CodePolicyEntryNotFound},
		{action: "retrieve", path: "/entries/nope/subjects", status: 404, code: protocol.CodePolicyEntryNotFound},
		{action: "retrieve", path: "/entries/owner/subjects/google:x", status: 404, code: protocol.CodePolicySubjectNotFound},
		{action: "retrieve", path: "/entries/owner/resources/message:/", status: 404, code: protocol.CodePolicyResourceNotFound},

		// An entry and everything below it.
		{action: "modify", path: "/entries/reader", value: reader, status: 201, want: readerOut},
		{action: "modify", path: "/entries/reader", value: reader, status: 204, want: "-"},
		{action: "modify", path: "/entries/reader/subjects/google:bob", value: `{"type":"user"}`, status: 201, want: `{"type":"user"}`},
		{action: "modify", path: "/entries/reader/subjects/google:bob", value: `{"type":"admin"}`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries/reader/subjects", status: 200, want: `{"google:alice":{"type":"user"},"google:bob":{"type":"admin"}}`},
		{action: "modify", path: "/entries/reader/subjects", value: `{"google:carol":{"type":"user"}}`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries/reader/subjects", status: 200, want: `{"google:carol":{"type":"user"}}`},
		{action: "modify", path: "/entries/reader/resources/thing:/features/lamp", value: `{"grant":["READ"],"revoke":["WRITE"]}`,
			status: 201, want: `{"grant":["READ"],"revoke":["WRITE"]}`},
		{action: "modify", path: "/entries/reader/resources/thing:/features/lamp", value: `{"grant":["READ"],"revoke":[]}`, status: 204, want: "-"},
		{action: "modify", path: "/entries/reader/resources", value: `{"thing:/":{"grant":["READ"],"revoke":[]}}`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries/reader/resources", status: 200, want: `{"thing:/":{"grant":["READ"],"revoke":[]}}`},
		{action: "modify", path: "/entries/reader/namespaces", value: `["org.example","org.example.*"]`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries/reader/namespaces", status: 200, want: `["org.example","org.example.*"]`},
		{action: "modify", path: "/entries/reader/importable", value: `"explicit"`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries/reader/importable", status: 200, want: `"explicit"`},
		{action: "modify", path: "/entries/reader/importable", value: `"sometimes"`, status: 400, code: protocol.CodePolicyEntryInvalid},
		{action: "modify", path: "/entries/reader/allowedAdditions", value: `["subjects"]`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries/reader/allowedAdditions", status: 200, want: `["subjects"]`},
		{action: "delete", path: "/entries/reader/allowedAdditions", status: 204, want: "-"},
		{action: "delete", path: "/entries/reader/allowedAdditions", status: 204, want: "-"},
		{action: "modify", path: "/entries/reader/references", value: `[{"entry":"owner"}]`, status: 201, want: `[{"entry":"owner"}]`},
		{action: "modify", path: "/entries/reader/references", value: `[{"entry":"owner"}]`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries/reader/references", status: 200, want: `[{"entry":"owner"}]`},
		{action: "delete", path: "/entries/owner", status: 409, code: protocol.CodePolicyEntryReferenceConflict},
		{action: "modify", path: "/entries/owner/importable", value: `"never"`, status: 409, code: protocol.CodePolicyEntryReferenceConflict},
		{action: "delete", path: "/entries/reader/references", status: 204, want: "-"},
		{action: "modify", path: "/entries/reader/references", value: `[{"entry":"nope"}]`, status: 400, code: protocol.CodePolicyEntryInvalid},

		// Imports, stored without resolution.
		{action: "modify", path: "/imports", value: `{"org.example:other":{"entries":["x"]}}`, status: 204, want: "-"},
		{action: "modify", path: "/imports/org.example:third", value: `{}`, status: 201, want: `{}`},
		{action: "modify", path: "/imports/org.example:third", value: `{"entries":["a"]}`, status: 204, want: "-"},
		{action: "retrieve", path: "/imports", status: 200, want: `{"org.example:other":{"entries":["x"]},"org.example:third":{"entries":["a"]}}`},
		{action: "modify", path: "/imports/org.example:third/entries", value: `["b"]`, status: 204, want: "-"},
		{action: "retrieve", path: "/imports/org.example:third/entries", status: 200, want: `["b"]`},
		{action: "modify", path: "/imports/org.example:third/transitiveImports", value: `["org.example:fourth"]`, status: 204, want: "-"},
		{action: "retrieve", path: "/imports/org.example:third/transitiveImports", status: 200, want: `["org.example:fourth"]`},
		{action: "retrieve", path: "/imports/org.example:third", status: 200, want: `{"entries":["b"],"transitiveImports":["org.example:fourth"]}`},
		{action: "modify", path: "/imports/org.example:p1", value: `{}`, status: 400, code: protocol.CodePolicyImportInvalid},
		{action: "modify", path: "/entries/reader/references", value: `[{"import":"org.example:third","entry":"b"}]`, status: 201},
		{action: "delete", path: "/imports/org.example:third", status: 409, code: protocol.CodePolicyImportReferenceConflict},
		{action: "delete", path: "/imports", status: 409, code: protocol.CodePolicyImportReferenceConflict},
		{action: "modify", path: "/imports/org.example:third/entries", value: `["c"]`, status: 409, code: protocol.CodePolicyImportReferenceConflict},
		{action: "delete", path: "/entries/reader/references", status: 204},
		{action: "delete", path: "/imports/org.example:third", status: 204, want: "-"},
		{action: "delete", path: "/imports/org.example:third", status: 404, code: protocol.CodePolicyImportNotFound},
		{action: "delete", path: "/imports", status: 204, want: "-"},
		{action: "retrieve", path: "/imports", status: 200, want: `{}`},

		// Deletes below an entry.
		{action: "delete", path: "/entries/reader/subjects/google:carol", status: 204, want: "-"},
		{action: "delete", path: "/entries/reader/subjects/google:carol", status: 404, code: protocol.CodePolicySubjectNotFound},
		{action: "delete", path: "/entries/reader/resources/thing:/", status: 204, want: "-"},
		{action: "delete", path: "/entries/reader/resources/thing:/", status: 404, code: protocol.CodePolicyResourceNotFound},
		{action: "delete", path: "/entries/reader", status: 204, want: "-"},
		{action: "delete", path: "/entries/reader", status: 404, code: protocol.CodePolicyEntryNotFound},
		{action: "modify", path: "/entries/reader/subjects/google:x", value: `{"type":"user"}`, status: 404, code: protocol.CodePolicyEntryNotFound},

		// The whole entries, the whole policy.
		{action: "modify", path: "/entries", value: `{"owner":` + ownerEntry + `,"other":` + reader + `}`, status: 204, want: "-"},
		{action: "retrieve", path: "/entries", status: 200, want: `{"owner":` + ownerEntry + `,"other":` + readerOut + `}`},
		{action: "modify", path: "/", value: ownerPolicy, status: 204, want: "-"},
		{action: "retrieve", path: "/", status: 200, want: created},
		{action: "delete", path: "/", status: 204, want: "-"},
		{action: "retrieve", path: "/", status: 404, code: protocol.CodePolicyNotFound},
		{action: "delete", path: "/", status: 404, code: protocol.CodePolicyNotFound},
		{action: "modify", path: "/entries/owner", value: ownerEntry, status: 404, code: protocol.CodePolicyNotFound},
		// A modify of a missing policy creates it.
		{action: "modify", path: "/", value: ownerPolicy, status: 201, want: created},
	})

	// The revision counts on through the deletion.
	resp := send(t, h, caller, policyID, "retrieve", "/", "", nil)
	if rev := resp.Headers[protocol.HeaderEntityRevision]; rev == "" || rev == "1" {
		t.Errorf("entity-revision after re-creation %q", rev)
	}
	if etag := resp.Headers[protocol.HeaderETag]; etag != `"rev:`+resp.Headers[protocol.HeaderEntityRevision]+`"` {
		t.Errorf("etag %q, revision %q", etag, resp.Headers[protocol.HeaderEntityRevision])
	}
}

// TestModifyCreatesWithCreateAction: a modify that creates is answered as a
// creation (the command Ditto turns it into).
func TestModifyCreatesWithCreateAction(t *testing.T) {
	h := newHandler(t, nil, nil)
	resp := send(t, h, caller, policyID, "modify", "/", ownerPolicy, nil)
	wantStatus(t, resp, 201, "")
	if resp.Topic != "org.example/p1/policies/commands/create" || resp.Path != "/" {
		t.Errorf("topic %q path %q", resp.Topic, resp.Path)
	}
	if resp.Headers[protocol.HeaderETag] != `"rev:1"` || resp.Headers[protocol.HeaderEntityRevision] != "1" {
		t.Errorf("headers %v", resp.Headers)
	}
	resp = send(t, h, caller, policyID, "modify", "/", ownerPolicy, nil)
	wantStatus(t, resp, 204, "")
	if resp.Topic != "org.example/p1/policies/commands/modify" || resp.Headers[protocol.HeaderETag] != `"rev:2"` {
		t.Errorf("topic %q headers %v", resp.Topic, resp.Headers)
	}
}

// TestErrors covers the refusals that do not depend on the policy's state.
func TestErrors(t *testing.T) {
	h := newHandler(t, nil, nil)
	create(t, h, policyID, ownerPolicy)
	cases := []struct {
		name, topic, path, value string
		headers                  map[string]string
		status                   int
		code                     string
	}{
		{"unknown path", "org.example/p1/policies/commands/retrieve", "/foo", "", nil, 400, protocol.CodeUnknownPath},
		{"unknown entry field", "org.example/p1/policies/commands/retrieve", "/entries/owner/foo", "", nil, 400, protocol.CodeUnknownPath},
		{"below an import field", "org.example/p1/policies/commands/retrieve", "/imports/org.example:x/entries/a", "", nil, 400, protocol.CodeUnknownPath},
		{"delete of all entries", "org.example/p1/policies/commands/delete", "/entries", "", nil, 400, protocol.CodeUnknownTopicPath},
		{"delete of subjects", "org.example/p1/policies/commands/delete", "/entries/owner/subjects", "", nil, 400, protocol.CodeUnknownTopicPath},
		{"create below the root", "org.example/p1/policies/commands/create", "/entries/x", ownerEntry, nil, 400, protocol.CodeUnknownTopicPath},
		{"merge", "org.example/p1/policies/commands/merge", "/", ownerPolicy, nil, 400, protocol.CodeUnknownTopicPath},
		{"events", "org.example/p1/policies/events/modified", "/", ownerPolicy, nil, 400, protocol.CodeSignalUnsupported},
		{"things group", "org.example/p1/things/twin/commands/retrieve", "/", "", nil, 400, protocol.CodeSignalUnsupported},
		{"bad topic", "org.example/p1/policies/commands/frobnicate", "/", "", nil, 400, protocol.CodeUnknownTopicPath},
		{"invalid id", "1bad/p1/policies/commands/retrieve", "/", "", nil, 400, protocol.CodePolicyIDInvalid},
		{"imported label", "org.example/p1/policies/commands/retrieve", "/entries/imported-x", "", nil, 400, protocol.CodePolicyLabelInvalid},
		{"subject without issuer", "org.example/p1/policies/commands/retrieve", "/entries/owner/subjects/nobody", "", nil, 400, protocol.CodePolicySubjectIDInvalid},
		{"resource without type", "org.example/p1/policies/commands/retrieve", "/entries/owner/resources/features", "", nil, 400, protocol.CodeJSONInvalid},
		{"invalid import id", "org.example/p1/policies/commands/retrieve", "/imports/no id", "", nil, 400, protocol.CodePolicyIDInvalid},
		{"policyId differs", "org.example/p1/policies/commands/modify", "/", `{"policyId":"org.example:p2","entries":{}}`, nil, 400, protocol.CodePolicyIDNotSettable},
		{"no value", "org.example/p1/policies/commands/modify", "/entries/owner", "", nil, 400, protocol.CodeJSONFieldMissing},
		{"null value", "org.example/p1/policies/commands/modify", "/entries/owner", "null", nil, 400, protocol.CodeJSONInvalid},
		{"entry not an object", "org.example/p1/policies/commands/modify", "/entries/owner", "[]", nil, 400, protocol.CodeJSONInvalid},
		{"subject without type", "org.example/p1/policies/commands/modify", "/entries/owner/subjects/google:x", "{}", nil, 400, protocol.CodeJSONFieldMissing},
		{"resource without revoke", "org.example/p1/policies/commands/modify", "/entries/owner/resources/thing:/x", `{"grant":[]}`, nil, 400, protocol.CodeJSONFieldMissing},
		{"namespaces not an array", "org.example/p1/policies/commands/modify", "/entries/owner/namespaces", `"org.example"`, nil, 400, protocol.CodeJSONInvalid},
		{"expired subject", "org.example/p1/policies/commands/modify", "/entries/owner/subjects/google:x", `{"type":"user","expiry":"2020-01-01T00:00:00Z"}`, nil, 400, protocol.CodePolicySubjectExpiryInvalid},
		{"no writer left", "org.example/p1/policies/commands/modify", "/entries/owner/resources/policy:/", `{"grant":["READ"],"revoke":[]}`, nil, 403, protocol.CodePolicyEntryModificationInvalid},
		{"no writer in entries", "org.example/p1/policies/commands/modify", "/entries", `{}`, nil, 403, protocol.CodePolicyModificationInvalid},
		{"historical read", "org.example/p1/policies/commands/retrieve", "/", "", map[string]string{"at-historical-revision": "1"}, 400, protocol.CodeHeaderUnsupported},
		{"policy view", "org.example/p1/policies/commands/retrieve", "/", "", map[string]string{"policy-view": "merged"}, 400, protocol.CodePolicyViewInvalid},
		{"unquoted etag", "org.example/p1/policies/commands/retrieve", "/", "", map[string]string{"if-match": "rev:1"}, 400, protocol.CodeHeaderInvalid},
		{"lockout header", "org.example/p1/policies/commands/delete", "/", "", map[string]string{"allow-policy-lockout": "maybe"}, 400, protocol.CodeHeaderInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := protocol.Envelope{Topic: c.topic, Path: c.path, Headers: protocol.Headers{"correlation-id": "c-1"}}
			for k, v := range c.headers {
				env.Headers[k] = v
			}
			if c.value != "" {
				env.Value = json.RawMessage(c.value)
			}
			resp := h.Handle(context.Background(), caller, env)
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Value)
			}
			if e := errorOf(t, resp); e.Code != c.code || e.Message == "" {
				t.Fatalf("error %+v, want %s", e, c.code)
			}
			if resp.Headers[protocol.HeaderCorrelationID] != "c-1" {
				t.Errorf("correlation-id %q", resp.Headers[protocol.HeaderCorrelationID])
			}
		})
	}
	// Nothing above changed the policy.
	resp := send(t, h, caller, policyID, "retrieve", "/", "", nil)
	if resp.Headers[protocol.HeaderEntityRevision] != "1" {
		t.Errorf("revision %q after refused commands", resp.Headers[protocol.HeaderEntityRevision])
	}
}

// TestDittoMessages compares error texts with Ditto's generated protocol
// examples (protocol/examples/policies/generated/exceptions).
func TestDittoMessages(t *testing.T) {
	h := newHandler(t, nil, nil)
	const id = "org.eclipse.ditto:the_policy_id"
	cases := []struct {
		action, path, value      string
		status                   int
		code, message, describes string
	}{
		{"retrieve", "/", "", 404, protocol.CodePolicyNotFound,
			"The Policy with ID 'org.eclipse.ditto:the_policy_id' could not be found or requester had insufficient permissions to access it.",
			"Check if the ID of your requested Policy was correct and you have sufficient permissions."},
		{"create", "/", ownerPolicy, 201, "", "", ""},
		{"create", "/", ownerPolicy, 409, protocol.CodePolicyConflict,
			"The Policy with ID 'org.eclipse.ditto:the_policy_id' already exists", "Choose another Policy ID"},
		{"retrieve", "/entries/the_label", "", 404, protocol.CodePolicyEntryNotFound,
			"The PolicyEntry with Label 'the_label' on the Policy with ID 'org.eclipse.ditto:the_policy_id' could not be found or requester had insufficient permissions to access it.",
			"Check if the ID of the Policy and the Label of your requested PolicyEntry was correct and you have sufficient permissions."},
		{"retrieve", "/entries/owner/subjects/google:the_subjectid", "", 404, protocol.CodePolicySubjectNotFound,
			"The Subject with ID 'google:the_subjectid' of the PolicyEntry with Label 'owner' on the Policy with ID 'org.eclipse.ditto:the_policy_id' could not be found or requester had insufficient permissions to access it.",
			"Check if the ID of the Policy, the Label of the PolicyEntry and ID of your requested Subject was correct and you have sufficient permissions."},
		{"modify", "/entries/owner", `{"subjects":{},"resources":{}}`, 403, protocol.CodePolicyEntryModificationInvalid,
			"The PolicyEntry with Label 'owner' on the Policy with ID 'org.eclipse.ditto:the_policy_id' could not be modified as the resulting Policy would be invalid.", ""},
		{"retrieve", "/entries/owner/subjects/invalid subject", "", 400, protocol.CodePolicySubjectIDInvalid,
			"Subject ID 'invalid subject' is not valid!", "It must contain an issuer as prefix separated by a colon ':' from the actual subject"},
	}
	for _, c := range cases {
		resp := send(t, h, caller, id, c.action, c.path, c.value, nil)
		if resp.Status != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.action, c.path, resp.Status, c.status, short(resp.Value))
		}
		if c.code == "" {
			continue
		}
		e := errorOf(t, resp)
		if e.Code != c.code || e.Message != c.message || (c.describes != "" && e.Description != c.describes) {
			t.Errorf("%s %s: error\n got %+v\nwant %s %q %q", c.action, c.path, e, c.code, c.message, c.describes)
		}
		if resp.Topic != "org.eclipse.ditto/the_policy_id/policies/errors" {
			t.Errorf("error topic %q", resp.Topic)
		}
	}
}

// TestDittoExampleShapes sends Ditto's generated example commands (with an
// entry added that keeps the caller a writer) and compares the responses'
// topic, path, status and value with Ditto's example responses.
func TestDittoExampleShapes(t *testing.T) {
	h := newHandler(t, nil, nil)
	const id = "org.eclipse.ditto:the_policy_id"
	const topic = "org.eclipse.ditto/the_policy_id/policies/commands/"
	const label = `{"subjects":{"google:the_subjectid":{"type":"yourSubjectTypeDescription"}},` +
		`"resources":{"thing:/the_resource_path":{"grant":["READ","WRITE"],"revoke":[]}},"namespaces":["com.acme","com.acme.*"]}`
	const labelOut = `{"subjects":{"google:the_subjectid":{"type":"yourSubjectTypeDescription"}},` +
		`"resources":{"thing:/the_resource_path":{"grant":["READ","WRITE"],"revoke":[]}},"namespaces":["com.acme","com.acme.*"],"importable":"implicit"}`
	policyValue := `{"policyId":"org.eclipse.ditto:the_policy_id","entries":{"admin":` + ownerEntry + `,"the_label":` + label + `}}`
	policyOut := `{"policyId":"org.eclipse.ditto:the_policy_id","imports":{},"entries":{"admin":` + ownerEntry + `,"the_label":` + labelOut + `}}`
	cases := []struct {
		action, path, value string
		status              int
		want                string
	}{
		{"create", "/", policyValue, 201, policyOut},
		{"retrieve", "/", "", 200, policyOut},
		{"retrieve", "/entries/the_label", "", 200, labelOut},
		{"retrieve", "/entries/the_label/subjects", "", 200, `{"google:the_subjectid":{"type":"yourSubjectTypeDescription"}}`},
		{"retrieve", "/entries/the_label/subjects/google:the_subjectid", "", 200, `{"type":"yourSubjectTypeDescription"}`},
		{"retrieve", "/entries/the_label/resources", "", 200, `{"thing:/the_resource_path":{"grant":["READ","WRITE"],"revoke":[]}}`},
		{"retrieve", "/entries/the_label/resources/thing:/the_resource_path", "", 200, `{"grant":["READ","WRITE"],"revoke":[]}`},
		{"modify", "/entries/the_label/subjects/google:the_subjectid", `{"type":"yourSubjectTypeDescription"}`, 204, ""},
		{"modify", "/entries/the_label/resources/thing:/the_resource_path", `{"grant":["READ","WRITE"],"revoke":[]}`, 204, ""},
		{"modify", "/entries/the_label/subjects", `{"google:the_subjectid":{"__schemaVersion":2,"type":"yourSubjectTypeDescription"}}`, 204, ""},
		{"modify", "/entries/the_label/resources", `{"thing:/the_resource_path":{"__schemaVersion":2,"grant":["READ","WRITE"],"revoke":[]}}`, 204, ""},
		{"modify", "/imports", `{"org.eclipse.ditto:policy1":{},"org.eclipse.ditto:policy2":{"entries":["IMPORTED_ENTRY"]}}`, 204, ""},
		{"modify", "/imports/org.eclipse.ditto:imported-policy", `{"entries":["IMPORTED_ENTRY"]}`, 201, `{"entries":["IMPORTED_ENTRY"]}`},
		{"retrieve", "/imports/org.eclipse.ditto:imported-policy", "", 200, `{"entries":["IMPORTED_ENTRY"]}`},
		{"delete", "/imports/org.eclipse.ditto:imported-policy", "", 204, ""},
		{"delete", "/entries/the_label/subjects/google:the_subjectid", "", 204, ""},
		{"delete", "/entries/the_label/resources/thing:/the_resource_path", "", 204, ""},
		{"delete", "/entries/the_label", "", 204, ""},
		{"modify", "/entries/the_label", label, 201, labelOut},
		{"delete", "/", "", 204, ""},
	}
	for _, c := range cases {
		resp := send(t, h, caller, id, c.action, c.path, c.value, nil)
		if resp.Status != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.action, c.path, resp.Status, c.status, short(resp.Value))
		}
		if resp.Topic != topic+c.action || resp.Path != c.path {
			t.Errorf("%s %s: topic %q path %q", c.action, c.path, resp.Topic, resp.Path)
		}
		if c.want == "" {
			if resp.Value != nil {
				t.Errorf("%s %s: value %s", c.action, c.path, resp.Value)
			}
			continue
		}
		jsonEqual(t, resp.Value, c.want)
	}
}

// TestFields: fields on the whole policy, special fields included.
func TestFields(t *testing.T) {
	h := newHandler(t, nil, nil)
	create(t, h, policyID, ownerPolicy)
	send(t, h, caller, policyID, "modify", "/entries/owner/subjects/google:x", `{"type":"user"}`, nil)
	cases := []struct{ fields, want string }{
		{"policyId,_revision", `{"policyId":"org.example:p1","_revision":2}`},
		{"_namespace,_created,_modified", `{"_namespace":"org.example","_created":"2024-05-02T10:11:12.345Z","_modified":"2024-05-02T10:11:12.345Z"}`},
		{"entries/owner/subjects", `{"entries":{"owner":{"subjects":{"nginx:ditto":{"type":"generated"},"google:x":{"type":"user"}}}}}`},
		{"nothing", `{}`},
	}
	for _, c := range cases {
		env := protocol.Envelope{Topic: "org.example/p1/policies/commands/retrieve", Path: "/", Fields: c.fields, Headers: protocol.Headers{}}
		resp := h.Handle(context.Background(), caller, env)
		wantStatus(t, resp, 200, "")
		jsonEqual(t, resp.Value, c.want)
		if resp.Headers[protocol.HeaderETag] != `"rev:2"` {
			t.Errorf("fields %s: etag %q", c.fields, resp.Headers[protocol.HeaderETag])
		}
	}
	env := protocol.Envelope{Topic: "org.example/p1/policies/commands/retrieve", Path: "/", Fields: "entries(", Headers: protocol.Headers{}}
	wantStatus(t, h.Handle(context.Background(), caller, env), 400, protocol.CodeFieldSelectorInv)
}

// TestSizeLimit: a write that makes the policy larger than 100 kB is
// policies:policy.toolarge.
func TestSizeLimit(t *testing.T) {
	h := newHandler(t, nil, nil)
	create(t, h, policyID, ownerPolicy)
	var b strings.Builder
	b.WriteString(`{"subjects":{`)
	for i := 0; i < 3000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"google:subject-number-%05d":{"type":"user"}`, i)
	}
	b.WriteString(`},"resources":{"thing:/":{"grant":["READ"],"revoke":[]}}}`)
	resp := send(t, h, caller, policyID, "modify", "/entries/big", b.String(), nil)
	wantStatus(t, resp, http.StatusRequestEntityTooLarge, protocol.CodePolicyTooLarge)
	small := `{"subjects":{"google:a":{"type":"user"}},"resources":{"thing:/":{"grant":["READ"],"revoke":[]}}}`
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/small", small, nil), 201, "")
	// A whole policy that is too large is refused as well.
	resp = send(t, h, caller, "org.example:big", "create", "/",
		`{"entries":{"owner":`+ownerEntry+`,"big":`+b.String()+`}}`, nil)
	wantStatus(t, resp, http.StatusRequestEntityTooLarge, protocol.CodePolicyTooLarge)
}

// TestNewAndConfig checks the constructor's validation.
func TestNewAndConfig(t *testing.T) {
	if _, err := policies.New(policies.Config{}); err == nil {
		t.Error("New without a store succeeded")
	}
	if _, err := policies.New(policies.Config{Store: openStore(t), CacheTTL: -1}); err == nil {
		t.Error("New with a negative TTL succeeded")
	}
	h, err := policies.New(policies.Config{Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	resp := h.Handle(context.Background(), auth.Context{}, protocol.Envelope{Topic: "not a topic", Headers: protocol.Headers{}})
	wantStatus(t, resp, 400, "")
	if errorOf(t, resp).Code != protocol.CodeUnknownTopicPath {
		t.Errorf("error %s", resp.Value)
	}
}

// TestPaths: trailing slashes, subject ids with slashes (Ditto takes the
// rest of the path), resource keys in their normal form, policy-view.
func TestPaths(t *testing.T) {
	h := newHandler(t, nil, nil)
	create(t, h, policyID, ownerPolicy)
	runSteps(t, h, policyID, []step{
		{action: "retrieve", path: "/entries/owner/subjects/", status: 200, want: `{"nginx:ditto":{"type":"generated"}}`},
		{action: "retrieve", path: "entries/owner", status: 200, want: ownerEntry},
		{action: "modify", path: "/entries/owner/subjects/google:team/alice", value: `{"type":"user"}`, status: 201, want: `{"type":"user"}`},
		{action: "retrieve", path: "/entries/owner/subjects/google:team/alice", status: 200, want: `{"type":"user"}`},
		{action: "retrieve", path: "/entries/owner/subjects", status: 200,
			want: `{"nginx:ditto":{"type":"generated"},"google:team/alice":{"type":"user"}}`},
		{action: "delete", path: "/entries/owner/subjects/google:team/alice", status: 204, want: "-"},
		{action: "retrieve", path: "/entries/owner/resources/thing:", status: 200, want: `{"grant":["READ","WRITE"],"revoke":[]}`},
		{action: "retrieve", path: "/entries//owner", status: 400, code: protocol.CodeJSONPointerInvalid},
		{action: "retrieve", path: "/", headers: map[string]string{"policy-view": "resolved"}, status: 200},
		{action: "modify", path: "/imports/org.example:other", value: `{}`, status: 201},
		{action: "retrieve", path: "/", headers: map[string]string{"policy-view": "resolved"}, status: 400, code: protocol.CodeHeaderUnsupported},
		{action: "retrieve", path: "/", headers: map[string]string{"policy-view": "Original"}, status: 200},
	})
	resp := send(t, h, caller, policyID, "retrieve", "/entries/owner/resources/thing:/", "", nil)
	if resp.Path != "/entries/owner/resources/thing:/" {
		t.Errorf("path %q", resp.Path)
	}
}

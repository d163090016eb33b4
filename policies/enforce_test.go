package policies_test

import (
	"strings"
	"testing"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
)

var (
	bob      = auth.Context{Subjects: []string{"google:bob"}}
	stranger = auth.Context{Subjects: []string{"google:mallory"}}
	admin    = auth.Context{Subjects: []string{"google:admin"}}
)

// sharedPolicy: the owner may do everything; bob may read and write the
// entry "team" only; the owner's WRITE is revoked on the entry "locked".
const sharedPolicy = `{"entries":{` +
	`"owner":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}},` +
	`"team":{"subjects":{"google:bob":{"type":"user"}},"resources":{"policy:/entries/team":{"grant":["READ","WRITE"],"revoke":[]}}},` +
	`"locked":{"subjects":{"google:admin":{"type":"user"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}},` +
	`"revoker":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{"policy:/entries/locked":{"grant":[],"revoke":["WRITE"]}}}}}`

// TestEnforcement: reads need READ on policy:<path> or below and are pruned
// to it; writes need unrestricted WRITE on policy:<path>.
func TestEnforcement(t *testing.T) {
	h := newHandler(t, nil, nil)
	// The owner could not create it: its WRITE is not unrestricted.
	wantStatus(t, send(t, h, caller, policyID, "create", "/", sharedPolicy, nil), 403, protocol.CodePolicyNotCreatable)
	wantStatus(t, send(t, h, admin, policyID, "create", "/", sharedPolicy, nil), 201, "")

	// Bob sees the policy id and his own entry, nothing else.
	resp := send(t, h, bob, policyID, "retrieve", "/", "", nil)
	wantStatus(t, resp, 200, "")
	jsonEqual(t, resp.Value, `{"policyId":"org.example:p1","entries":{"team":{"subjects":{"google:bob":{"type":"user"}},`+
		`"resources":{"policy:/entries/team":{"grant":["READ","WRITE"],"revoke":[]}},"importable":"implicit"}}}`)
	resp = send(t, h, bob, policyID, "retrieve", "/entries", "", nil)
	wantStatus(t, resp, 200, "")
	if v := string(resp.Value); len(v) == 0 || strings.Contains(v, "owner") || !strings.Contains(v, "team") {
		t.Errorf("entries seen by bob: %s", v)
	}
	wantStatus(t, send(t, h, bob, policyID, "retrieve", "/entries/team/subjects", "", nil), 200, "")
	// Fields are selected, then pruned.
	env := protocol.Envelope{Topic: "org.example/p1/policies/commands/retrieve", Path: "/", Fields: "policyId,_revision,entries", Headers: protocol.Headers{}}
	resp = h.Handle(t.Context(), bob, env)
	wantStatus(t, resp, 200, "")
	if v := string(resp.Value); strings.Contains(v, "_revision") || strings.Contains(v, "owner") || !strings.Contains(v, "policyId") {
		t.Errorf("fields seen by bob: %s", v)
	}

	// What bob may not read does not exist for him.
	wantStatus(t, send(t, h, bob, policyID, "retrieve", "/entries/owner", "", nil), 404, protocol.CodePolicyEntryNotFound)
	wantStatus(t, send(t, h, bob, policyID, "retrieve", "/entries/owner/subjects", "", nil), 404, protocol.CodePolicySubjectsNotFound)
	wantStatus(t, send(t, h, bob, policyID, "retrieve", "/imports", "", nil), 404, protocol.CodePolicyImportsNotFound)
	wantStatus(t, send(t, h, stranger, policyID, "retrieve", "/", "", nil), 404, protocol.CodePolicyNotFound)
	wantStatus(t, send(t, h, stranger, policyID, "retrieve", "/entries", "", nil), 404, protocol.CodePolicyNotFound)
	wantStatus(t, send(t, h, auth.Context{}, policyID, "retrieve", "/", "", nil), 404, protocol.CodePolicyNotFound)

	// Bob writes his entry, not the others, not the policy.
	wantStatus(t, send(t, h, bob, policyID, "modify", "/entries/team/subjects/google:carol", `{"type":"user"}`, nil), 201, "")
	wantStatus(t, send(t, h, bob, policyID, "modify", "/entries/owner/subjects/google:carol", `{"type":"user"}`, nil),
		403, protocol.CodePolicySubjectNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/entries/owner", ownerEntry, nil), 403, protocol.CodePolicyEntryNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/entries/owner/resources", `{}`, nil), 403, protocol.CodePolicyResourcesNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/entries/owner/resources/thing:/", `{"grant":[],"revoke":[]}`, nil),
		403, protocol.CodePolicyResourceNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/entries/owner/subjects", `{}`, nil), 403, protocol.CodePolicySubjectsNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/entries", `{}`, nil), 403, protocol.CodePolicyNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/", sharedPolicy, nil), 403, protocol.CodePolicyNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "delete", "/", "", nil), 403, protocol.CodePolicyNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/imports", `{}`, nil), 403, protocol.CodePolicyImportsNotModifiable)
	wantStatus(t, send(t, h, bob, policyID, "modify", "/imports/org.example:x", `{}`, nil), 403, protocol.CodePolicyImportNotModifiable)
	wantStatus(t, send(t, h, stranger, policyID, "delete", "/entries/team", "", nil), 403, protocol.CodePolicyEntryNotModifiable)

	// WRITE must be unrestricted: the owner's is revoked below the entry
	// "locked", so the owner may not replace the whole policy or the entries.
	wantStatus(t, send(t, h, caller, policyID, "modify", "/", sharedPolicy, nil), 403, protocol.CodePolicyNotModifiable)
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/locked/subjects/google:eve", `{"type":"user"}`, nil),
		403, protocol.CodePolicySubjectNotModifiable)
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/team/subjects/google:dave", `{"type":"user"}`, nil), 201, "")
	// The admin may.
	wantStatus(t, send(t, h, admin, policyID, "modify", "/", sharedPolicy, nil), 204, "")
	// Reads are partial: the owner still reads the whole policy.
	wantStatus(t, send(t, h, caller, policyID, "retrieve", "/entries/locked", "", nil), 200, "")
}

// TestLockoutGuard: the writer keeps WRITE on policy:/ unless it says
// allow-policy-lockout; every policy keeps a permanent writer; a creator
// must be a writer of the new policy (Ditto's policy.notcreatable).
func TestLockoutGuard(t *testing.T) {
	h := newHandler(t, nil, nil)
	const twoOwners = `{"entries":{` +
		`"owner":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}},` +
		`"admin":{"subjects":{"google:admin":{"type":"user"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}}}}`
	create(t, h, policyID, twoOwners)
	readOnly := `{"grant":["READ"],"revoke":[]}`
	lockout := map[string]string{"allow-policy-lockout": "true"}

	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/owner/resources/policy:/", readOnly, nil),
		403, protocol.CodePolicyEntryModificationInvalid)
	wantStatus(t, send(t, h, caller, policyID, "delete", "/entries/owner", "", nil), 403, protocol.CodePolicyEntryModificationInvalid)
	wantStatus(t, send(t, h, caller, policyID, "delete", "/entries/owner/subjects/nginx:ditto", "", nil),
		403, protocol.CodePolicyEntryModificationInvalid)
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries",
		`{"admin":{"subjects":{"google:admin":{"type":"user"}},"resources":{"policy:/":{"grant":["WRITE"],"revoke":[]}}}}`, nil),
		403, protocol.CodePolicyModificationInvalid)
	resp := send(t, h, caller, policyID, "modify", "/entries/owner/resources/policy:/", readOnly, nil)
	if e := errorOf(t, resp); !strings.Contains(e.Description, "allow-policy-lockout") {
		t.Errorf("lockout description %q", e.Description)
	}

	// Allowed, the owner hands the policy over to the admin.
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/owner/resources/policy:/", readOnly, lockout), 204, "")
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/owner", ownerEntry, nil), 403, protocol.CodePolicyEntryNotModifiable)

	// A writer who never held WRITE on policy:/ cannot lose it.
	wantStatus(t, send(t, h, admin, "org.example:p2", "create", "/", sharedPolicy, nil), 201, "")
	wantStatus(t, send(t, h, bob, "org.example:p2", "modify", "/entries/team/resources/policy:/entries/team", readOnly, nil), 204, "")

	// No permanent writer at all is refused even with the header.
	wantStatus(t, send(t, h, admin, policyID, "delete", "/entries/admin", "", lockout), 403, protocol.CodePolicyEntryModificationInvalid)
	wantStatus(t, send(t, h, admin, policyID, "modify", "/entries/admin/subjects/google:admin",
		`{"type":"user","expiry":"2099-01-01T00:00:00Z"}`, lockout), 403, protocol.CodePolicyEntryModificationInvalid)

	// Creation: the creator must be a writer of the new policy.
	foreign := `{"entries":{"admin":{"subjects":{"google:admin":{"type":"user"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}}}}`
	wantStatus(t, send(t, h, caller, "org.example:p3", "create", "/", foreign, nil), 403, protocol.CodePolicyNotCreatable)
	wantStatus(t, send(t, h, caller, "org.example:p3", "modify", "/", foreign, nil), 403, protocol.CodePolicyNotCreatable)
	wantStatus(t, send(t, h, caller, "org.example:p3", "create", "/", foreign, lockout), 201, "")
	noWriter := `{"entries":{"r":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{"policy:/":{"grant":["READ"],"revoke":[]}}}}}`
	wantStatus(t, send(t, h, caller, "org.example:p4", "create", "/", noWriter, lockout), 403, protocol.CodePolicyModificationInvalid)
	// A conflicting creation is a conflict only for who could create it.
	wantStatus(t, send(t, h, caller, "org.example:p3", "create", "/", ownerPolicy, nil), 409, protocol.CodePolicyConflict)
}

// TestPreconditions: ETags of the whole policy ("rev:N") and of its parts,
// If-Match and If-None-Match on reads and writes.
func TestPreconditions(t *testing.T) {
	h := newHandler(t, nil, nil)
	resp := send(t, h, caller, policyID, "create", "/", ownerPolicy, map[string]string{"if-none-match": "*"})
	wantStatus(t, resp, 201, "")
	if resp.Headers[protocol.HeaderETag] != `"rev:1"` {
		t.Fatalf("etag %q", resp.Headers[protocol.HeaderETag])
	}
	wantStatus(t, send(t, h, caller, policyID, "modify", "/", ownerPolicy, map[string]string{"if-none-match": "*"}),
		412, protocol.CodePolicyPreconditionFailed)
	resp = send(t, h, caller, policyID, "modify", "/", ownerPolicy, map[string]string{"if-match": `"rev:1"`})
	wantStatus(t, resp, 204, "")
	if resp.Headers[protocol.HeaderETag] != `"rev:2"` {
		t.Fatalf("etag %q", resp.Headers[protocol.HeaderETag])
	}
	resp = send(t, h, caller, policyID, "modify", "/", ownerPolicy, map[string]string{"if-match": `"rev:1"`})
	wantStatus(t, resp, 412, protocol.CodePolicyPreconditionFailed)
	if resp.Headers[protocol.HeaderETag] != `"rev:2"` {
		t.Errorf("412 carries etag %q", resp.Headers[protocol.HeaderETag])
	}
	if e := errorOf(t, resp); e.Message != `The comparison of precondition header 'if-match' for the requested Policy resource evaluated to false. Header value: '"rev:1"', actual entity-tag: '"rev:2"'.` {
		t.Errorf("message %q", e.Message)
	}
	wantStatus(t, send(t, h, caller, policyID, "retrieve", "/", "", map[string]string{"if-none-match": `"rev:2"`}),
		304, protocol.CodePolicyPreconditionNotModified)
	wantStatus(t, send(t, h, caller, policyID, "retrieve", "/", "", map[string]string{"if-none-match": `W/"rev:2"`}), 200, "")
	wantStatus(t, send(t, h, caller, policyID, "retrieve", "/", "", map[string]string{"if-match": `"rev:1"`}),
		412, protocol.CodePolicyPreconditionFailed)

	// Parts have their own tags, which change with them.
	resp = send(t, h, caller, policyID, "retrieve", "/entries/owner", "", nil)
	entryTag := resp.Headers[protocol.HeaderETag]
	if !strings.Contains(entryTag, `"hash:`) {
		t.Fatalf("entry etag %q", entryTag)
	}
	wantStatus(t, send(t, h, caller, policyID, "retrieve", "/entries/owner", "", map[string]string{"if-none-match": entryTag}),
		304, protocol.CodePolicyPreconditionNotModified)
	resp = send(t, h, caller, policyID, "modify", "/entries/owner/subjects/google:x", `{"type":"user"}`, nil)
	subjectTag := resp.Headers[protocol.HeaderETag]
	if subjectTag == "" {
		t.Error("no etag on a created subject")
	}
	if got := send(t, h, caller, policyID, "retrieve", "/entries/owner/subjects/google:x", "", nil).Headers[protocol.HeaderETag]; got != subjectTag {
		t.Errorf("retrieved subject etag %q, written %q", got, subjectTag)
	}
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/owner", ownerEntry, map[string]string{"if-match": entryTag}),
		412, protocol.CodePolicyPreconditionFailed)
	// A subject to create must not exist yet.
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/owner/subjects/google:x", `{"type":"user"}`,
		map[string]string{"if-none-match": "*"}), 412, protocol.CodePolicyPreconditionFailed)
	wantStatus(t, send(t, h, caller, policyID, "modify", "/entries/owner/subjects/google:y", `{"type":"user"}`,
		map[string]string{"if-match": "*"}), 412, protocol.CodePolicyPreconditionFailed)
	// Reads and deletes of nothing go on to their 404.
	wantStatus(t, send(t, h, caller, policyID, "retrieve", "/entries/nope", "", map[string]string{"if-match": "*"}),
		404, protocol.CodePolicyEntryNotFound)
	wantStatus(t, send(t, h, caller, policyID, "delete", "/entries/nope", "", map[string]string{"if-match": "*"}),
		404, protocol.CodePolicyEntryNotFound)
	// A delete answers without a tag.
	resp = send(t, h, caller, policyID, "delete", "/entries/owner/subjects/google:x", "", map[string]string{"if-match": subjectTag})
	wantStatus(t, resp, 204, "")
	if _, ok := resp.Headers[protocol.HeaderETag]; ok {
		t.Errorf("delete etag %q", resp.Headers[protocol.HeaderETag])
	}
}

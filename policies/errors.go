package policies

import (
	"fmt"

	"github.com/twinway/twinway/protocol"
)

// The errors of the policies group, worded as Ditto's policy command
// exceptions (policies model, signals/commands/exceptions) word them.

func policyNotFound(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyNotFound,
		"The Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", id)
}

func policyConflict(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyConflict, "The Policy with ID '%s' already exists", id)
}

func policyNotCreatable(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyNotCreatable,
		"The Policy with ID '%s' could not be created as the requester had insufficient permissions.", id)
}

func policyNotModifiable(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyNotModifiable,
		"The Policy with ID '%s' could not be modified as the requester had insufficient permissions.", id)
}

func policyUnavailable(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyUnavailable, "The Policy with ID '%s' is not available, please try again later.", id)
}

func entryNotFound(id, label string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyEntryNotFound,
		"The PolicyEntry with Label '%s' on the Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", label, id)
}

func entryNotModifiable(id, label string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyEntryNotModifiable,
		"The PolicyEntry with Label '%s' on the Policy with ID '%s' could not be modified as the requester had insufficient permissions.", label, id)
}

func subjectNotFound(id, label, subject string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicySubjectNotFound,
		"The Subject with ID '%s' of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", subject, label, id)
}

func subjectNotModifiable(id, label, subject string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicySubjectNotModifiable,
		"The Subject with ID '%s' of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be modified as the requester had insufficient permissions.", subject, label, id)
}

func subjectsNotFound(id, label string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicySubjectsNotFound,
		"The Subjects of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", label, id)
}

func subjectsNotModifiable(id, label string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicySubjectsNotModifiable,
		"The Subjects of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be modified as the requester had insufficient permissions.", label, id)
}

func resourceNotFound(id, label, key string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyResourceNotFound,
		"The Resource '%s' of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", key, label, id)
}

func resourceNotModifiable(id, label, key string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyResourceNotModifiable,
		"The Resource '%s' of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be modified as the requester had insufficient permissions.", key, label, id)
}

func resourcesNotFound(id, label string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyResourcesNotFound,
		"The Resources of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", label, id)
}

func resourcesNotModifiable(id, label string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyResourcesNotModifiable,
		"The Resources of the PolicyEntry with Label '%s' on the Policy with ID '%s' could not be modified as the requester had insufficient permissions.", label, id)
}

func importNotFound(id, imported string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyImportNotFound,
		"The Policy import '%s' of Policy '%s' could not be found or requester had insufficient permissions to access it.", imported, id)
}

func importNotModifiable(id, imported string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyImportNotModifiable,
		"The Import of the Policy with ID '%s' in Policy with ID '%s' could not be modified as the requester had insufficient permissions.", imported, id)
}

func importsNotFound(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyImportsNotFound,
		"The imports of the Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", id)
}

func importsNotModifiable(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyImportsNotModifiable,
		"The Imports of the Policy with ID '%s' could not be modified as the requester had insufficient permissions.", id)
}

// policyInvalid is PolicyModificationInvalidException: the policy after a
// write would be invalid; description says why.
func policyInvalid(id, description string) *protocol.Error {
	e := protocol.Errorf(protocol.CodePolicyModificationInvalid,
		"The Policy with ID '%s' could not be modified as the resulting Policy would be invalid.", id)
	if description != "" {
		e = e.WithDescription(description)
	}
	return e
}

// entryInvalid is PolicyEntryModificationInvalidException, the same refusal
// for a write of one entry or below.
func entryInvalid(id, label, description string) *protocol.Error {
	e := protocol.Errorf(protocol.CodePolicyEntryModificationInvalid,
		"The PolicyEntry with Label '%s' on the Policy with ID '%s' could not be modified as the resulting Policy would be invalid.", label, id)
	if description != "" {
		e = e.WithDescription(description)
	}
	return e
}

// referencesInvalid is the entry.invalid Ditto answers for entry references
// that do not hold together (validateReferencesIntegrity).
func referencesInvalid(id, label, description string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyEntryInvalid,
		"The references of PolicyEntry '%s' on Policy '%s' are invalid.", label, id).WithDescription(description)
}

func entryReferenceConflict(id, referenced, from string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyEntryReferenceConflict,
		"The entry '%s' of Policy '%s' cannot be removed because a local reference from entry '%s' still points to it.", referenced, id, from)
}

func importReferenceConflict(id, imported string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyImportReferenceConflict,
		"The import '%s' of Policy '%s' cannot be removed because entry references still point to it.", imported, id)
}

func importsReferenceConflict(id string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyImportReferenceConflict,
		"The imports of Policy '%s' cannot be removed because entry references still point to them.", id)
}

// lockedOut refuses a write that would take WRITE on policy:/ from its own
// writer (SPEC.md §11.5); allow-policy-lockout lifts it.
func lockedOut(res resource) *protocol.Error {
	const why = "The requester would no longer have 'WRITE' permission on resource 'policy:/' after this modification. " +
		"Set the header 'allow-policy-lockout' to 'true' to perform it anyway."
	if res.entryLevel() {
		return entryInvalid(res.policyID, res.label, why)
	}
	return policyInvalid(res.policyID, why)
}

func preconditionFailed(header, value, actual string) *protocol.Error {
	if actual == "" {
		actual = "null"
	}
	return protocol.Errorf(protocol.CodePolicyPreconditionFailed,
		"The comparison of precondition header '%s' for the requested Policy resource evaluated to false. Header value: '%s', actual entity-tag: '%s'.",
		header, value, actual)
}

func preconditionNotModified(expected, actual string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyPreconditionNotModified,
		"The comparison of precondition header 'if-none-match' for the requested Policy resource evaluated to false. Expected: '%s' not to match actual: '%s'.",
		expected, actual)
}

func viewInvalid(v string) *protocol.Error {
	return protocol.Errorf(protocol.CodePolicyViewInvalid,
		"The 'policy-view' parameter has an invalid value: '%s'. Valid values: 'original', 'resolved'.", v)
}

func unknownPath(path string) *protocol.Error {
	return protocol.Errorf(protocol.CodeUnknownPath, "The path '%s' does not correspond to any known command, response or event.", path)
}

func unknownTopicPath(topic, path string) *protocol.Error {
	return protocol.Errorf(protocol.CodeUnknownTopicPath, "The topic '%s' is not supported in combination with the path '%s'", topic, path)
}

// errWithETag makes a precondition error carry the resource's current etag,
// as Ditto's do.
func errWithETag(e *protocol.Error, etag string) *protocol.Error {
	if etag != "" {
		e.Headers = protocol.Headers{protocol.HeaderETag: etag}
	}
	return e
}

// storeError wraps a store failure for the non-protocol methods
// (Enforcer, Policy, Delete), keeping twin's sentinel for callers.
func storeError(id string, err error) error {
	return fmt.Errorf("policies: policy %s: %w", id, err)
}

package policies

import (
	"strings"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// level is a path level of the policies group: Ditto's PolicyResource.
type level int

const (
	levelPolicy level = iota
	levelEntries
	levelEntry
	levelSubjects
	levelSubject
	levelResources
	levelResource
	levelNamespaces
	levelImportable
	levelAllowedAdditions
	levelReferences
	levelImports
	levelImport
	levelImportEntries
	levelImportTransitive
)

// actions are the command actions Ditto's protocol maps at each level
// (PolicyModifyCommandMappingStrategies, PolicyQueryCommandMappingStrategies);
// any other combination is an unknown topic path.
var actions = map[level]string{
	levelPolicy:           "create retrieve modify delete",
	levelEntries:          "retrieve modify",
	levelEntry:            "retrieve modify delete",
	levelSubjects:         "retrieve modify",
	levelSubject:          "retrieve modify delete",
	levelResources:        "retrieve modify",
	levelResource:         "retrieve modify delete",
	levelNamespaces:       "retrieve modify",
	levelImportable:       "retrieve modify",
	levelAllowedAdditions: "retrieve modify delete",
	levelReferences:       "retrieve modify delete",
	levelImports:          "retrieve modify delete",
	levelImport:           "retrieve modify delete",
	levelImportEntries:    "retrieve modify",
	levelImportTransitive: "retrieve modify",
}

// entryFields are the levels below an entry that name one of its fields.
var entryFields = map[string]level{
	"namespaces":       levelNamespaces,
	"importable":       levelImportable,
	"allowedAdditions": levelAllowedAdditions,
	"references":       levelReferences,
}

// resource is the addressed part of a policy.
type resource struct {
	policyID string
	level    level
	label    string             // entry levels
	subject  string             // levelSubject
	key      policy.ResourceKey // levelResource
	imported string             // import levels
	// ptr is the resource's path in the policy, as the resource
	// "policy:<ptr>" that enforcement checks and pruning starts from.
	ptr protocol.Pointer
}

// parseResource parses a command path of policy policyID. A path that names
// no level is protocoladapter:unknown.path; labels, subject ids, resource
// keys and imported policy ids are validated as Ditto's model does.
func parseResource(policyID, raw string) (resource, error) {
	res := resource{policyID: policyID}
	trimmed := strings.TrimPrefix(raw, "/")
	segs := strings.Split(trimmed, "/")
	if n := len(segs); n > 1 && segs[n-1] == "" { // one trailing slash, as ParsePointer allows
		segs = segs[:n-1]
	}
	// A subject id is not a JSON pointer (Ditto skips its validation and
	// takes the rest of the path, slashes included): only the path before
	// it is checked as one.
	var subject string
	isSubject := len(segs) > 3 && segs[0] == "entries" && segs[2] == "subjects"
	if isSubject {
		subject = strings.Join(segs[3:], "/")
		trimmed = strings.Join(segs[:3], "/")
	}
	ptr, err := protocol.ParsePointer(trimmed)
	if err != nil {
		return res, err
	}
	res.ptr = ptr
	bad := func() (resource, error) { return res, unknownPath(raw) }
	if len(ptr) == 0 {
		res.level = levelPolicy
		return res, nil
	}
	switch ptr[0] {
	case "entries":
		return parseEntryResource(res, ptr, subject, isSubject, bad)
	case "imports":
		if len(ptr) == 1 {
			res.level = levelImports
			return res, nil
		}
		res.imported = ptr[1]
		if err := protocol.ValidatePolicyID(res.imported); err != nil {
			return res, err
		}
		switch {
		case len(ptr) == 2:
			res.level = levelImport
		case len(ptr) == 3 && ptr[2] == "entries":
			res.level = levelImportEntries
		case len(ptr) == 3 && ptr[2] == "transitiveImports":
			res.level = levelImportTransitive
		default:
			return bad()
		}
		return res, nil
	}
	return bad()
}

func parseEntryResource(res resource, ptr protocol.Pointer, subject string, isSubject bool,
	bad func() (resource, error)) (resource, error) {
	if len(ptr) == 1 {
		res.level = levelEntries
		return res, nil
	}
	res.label = ptr[1]
	if err := policy.ParseLabel(res.label); err != nil {
		return res, err
	}
	if len(ptr) == 2 {
		res.level = levelEntry
		return res, nil
	}
	switch field := ptr[2]; {
	case isSubject:
		if err := policy.ValidateSubjectID(subject); err != nil {
			return res, err
		}
		res.level, res.subject = levelSubject, subject
		res.ptr = append(res.ptr, strings.Split(subject, "/")...)
	case field == "subjects" && len(ptr) == 3:
		res.level = levelSubjects
	case field == "resources" && len(ptr) == 3:
		res.level = levelResources
	case field == "resources":
		key, err := policy.ParseResourceKey(strings.Join(ptr[3:], "/"))
		if err != nil {
			return res, err
		}
		res.level, res.key = levelResource, key
		res.ptr = append(ptr[:3:3], key.Type()+":")
		res.ptr = append(res.ptr, key.Path()...)
	case len(ptr) == 3:
		l, ok := entryFields[field]
		if !ok {
			return bad()
		}
		res.level = l
	default:
		return bad()
	}
	return res, nil
}

// path is the resource's path in responses, in its normal form.
func (r resource) path() string {
	switch r.level {
	case levelSubject:
		return "/entries/" + r.label + "/subjects/" + r.subject
	case levelResource:
		return "/entries/" + r.label + "/resources/" + string(r.key)
	}
	return r.ptr.String()
}

// allows tells whether Ditto's protocol has the command action at r's level.
func (r resource) allows(action string) bool {
	for _, a := range strings.Fields(actions[r.level]) {
		if a == action {
			return true
		}
	}
	return false
}

// entryLevel tells whether r is an entry or below, whose invalid writes are
// policies:entry.modificationinvalid rather than policy.modificationinvalid.
func (r resource) entryLevel() bool { return r.label != "" }

// notFound is the 404 for a missing or unreadable r, as Ditto's
// PolicyCommandToAccessExceptionRegistry and strategies give it.
func (r resource) notFound() *protocol.Error {
	switch r.level {
	case levelEntry, levelNamespaces, levelImportable, levelAllowedAdditions, levelReferences:
		return entryNotFound(r.policyID, r.label)
	case levelSubjects:
		return subjectsNotFound(r.policyID, r.label)
	case levelSubject:
		return subjectNotFound(r.policyID, r.label, r.subject)
	case levelResources:
		return resourcesNotFound(r.policyID, r.label)
	case levelResource:
		return resourceNotFound(r.policyID, r.label, string(r.key))
	case levelImports:
		return importsNotFound(r.policyID)
	case levelImport, levelImportEntries, levelImportTransitive:
		return importNotFound(r.policyID, r.imported)
	}
	return policyNotFound(r.policyID)
}

// notModifiable is the 403 for a write of r without WRITE
// (PolicyCommandToModifyExceptionRegistry).
func (r resource) notModifiable() *protocol.Error {
	switch r.level {
	case levelEntry, levelNamespaces, levelImportable, levelAllowedAdditions, levelReferences:
		return entryNotModifiable(r.policyID, r.label)
	case levelSubjects:
		return subjectsNotModifiable(r.policyID, r.label)
	case levelSubject:
		return subjectNotModifiable(r.policyID, r.label, r.subject)
	case levelResources:
		return resourcesNotModifiable(r.policyID, r.label)
	case levelResource:
		return resourceNotModifiable(r.policyID, r.label, string(r.key))
	case levelImports:
		return importsNotModifiable(r.policyID)
	case levelImport, levelImportEntries, levelImportTransitive:
		return importNotModifiable(r.policyID, r.imported)
	}
	return policyNotModifiable(r.policyID)
}

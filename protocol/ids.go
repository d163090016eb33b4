package protocol

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxEntityIDLength is the longest namespaced entity id Ditto accepts.
const MaxEntityIDLength = 256

// Ditto's NAMESPACE_REGEX and ENTITY_NAME_REGEX (RegexPatterns.java, SPEC.md
// §2.1); \w is ASCII-only there, as it is in RE2.
var (
	namespacePattern = regexp.MustCompile(`^(|[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*)$`)
	namePattern      = regexp.MustCompile(`^[^\x00-\x1F\x7F-\xFF/]+$`)
)

// SplitEntityID splits "<namespace>:<name>" at its first colon and reports
// whether id is a valid namespaced entity id.
func SplitEntityID(id string) (namespace, name string, ok bool) {
	namespace, name, found := strings.Cut(id, ":")
	if !found || utf8.RuneCountInString(id) > MaxEntityIDLength || !utf8.ValidString(id) {
		return "", "", false
	}
	return namespace, name, ValidNamespace(namespace) && namePattern.MatchString(name)
}

// ValidNamespace reports whether ns is a valid namespace (the empty one included).
func ValidNamespace(ns string) bool { return namespacePattern.MatchString(ns) }

// ValidateThingID returns things:id.invalid for an id that is not a valid
// namespaced entity id.
func ValidateThingID(id string) *Error {
	if _, _, ok := SplitEntityID(id); !ok {
		return Errorf(CodeThingIDInvalid, "Thing ID '%s' is not valid!", id)
	}
	return nil
}

// ValidatePolicyID returns policies:id.invalid for an invalid policy id.
func ValidatePolicyID(id string) *Error {
	if _, _, ok := SplitEntityID(id); !ok {
		return Errorf(CodePolicyIDInvalid, "Policy ID '%s' is not valid!", id)
	}
	return nil
}

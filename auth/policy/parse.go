package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twinway/twinway/protocol"
)

// Limits of Ditto (ditto-limits.conf, PoliciesModelFactory).
const (
	// MaxPolicySize is the longest policy JSON (in UTF-16 code units, as
	// Ditto counts a Java string): 100k.
	MaxPolicySize = 100 * 1024
	// MaxImports is the most imports a policy may have.
	MaxImports = 10
	// maxIDLength is the longest label, subject id or resource key.
	maxIDLength = 256
)

// Parse parses a policy JSON as Ditto's gateway and model do, with Ditto's
// error codes. id is the policy id of the request (URL or topic); a policyId
// in the body must then equal it (policies:id.notsettable). With id "" the
// body's policyId is used, if any. _revision, _created and _modified are read
// when present (as Ditto's model does); callers that accept a client's body
// set them themselves.
func Parse(id string, data []byte) (*Policy, error) {
	if id != "" {
		if err := protocol.ValidatePolicyID(id); err != nil {
			return nil, err
		}
	}
	fields, err := objectFields(data, "")
	if err != nil {
		return nil, err
	}
	if id != "" {
		if raw, ok := lookup(fields, "policyId"); ok && !isNull(raw) {
			var s string
			if json.Unmarshal(raw, &s) != nil || s != id {
				return nil, protocol.Errorf(protocol.CodePolicyIDNotSettable,
					"The Policy ID in the request body is not equal to the Policy ID in the request URL.")
			}
		}
	}
	p := &Policy{ID: id}
	for _, f := range fields {
		if isNull(f.value) {
			continue
		}
		switch f.key {
		case "policyId":
			s, err := stringField(f.value, "/policyId")
			if err != nil {
				return nil, err
			}
			if err := protocol.ValidatePolicyID(s); err != nil {
				return nil, err
			}
			p.ID = s
		case "_revision":
			n, err := strconv.ParseInt(string(f.value), 10, 64)
			if err != nil {
				return nil, typeError(f.value, "/_revision", "long")
			}
			p.Revision = n
		case "_created", "_modified":
			s, err := stringField(f.value, "/"+f.key)
			if err != nil {
				return nil, err
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, protocol.Errorf(protocol.CodeJSONInvalid, "The JSON object's field '/_modified' is not in ISO-8601 format as expected")
			}
			if f.key == "_created" {
				p.Created = t
			} else {
				p.Modified = t
			}
		}
	}
	if raw, ok := lookup(fields, "imports"); ok && !isNull(raw) {
		if p.Imports, err = parseImports(raw); err != nil {
			return nil, err
		}
	}
	if err := parseMembers(fields, "entries", ParseEntry, p.SetEntry); err != nil {
		return nil, err
	}
	if p.Entries == nil {
		p.Entries = map[string]Entry{}
	}
	if len(p.Imports) > MaxImports {
		return nil, protocol.Errorf(protocol.CodePolicyImportsTooLarge,
			"The Imports of the Policy with ID '%s' could not be modified as they exceed the allowed number of '%d'.", p.ID, MaxImports)
	}
	if err := checkImports(p.ID, p.Imports); err != nil {
		return nil, err
	}
	if err := CheckSize(p); err != nil {
		return nil, err
	}
	return p, nil
}

// CheckSize returns policies:policy.toolarge (413) when p's JSON exceeds
// MaxPolicySize.
func CheckSize(p *Policy) error {
	n := utf16Len(p.JSON())
	if n > MaxPolicySize {
		return protocol.Errorf(protocol.CodePolicyTooLarge,
			"The size of '%s' kB exceeds the maximal allowed Policy size of '%s' kB.", formatKB(n), formatKB(MaxPolicySize))
	}
	return nil
}

// ParseLabel validates an entry label (Ditto's Label.of): it must not start
// with "imported" or "nsimported" (policies:label.invalid), must not be
// empty, longer than 256 or contain slashes or control characters
// (policies:entry.invalid).
func ParseLabel(label string) error {
	if label != "" && (strings.HasPrefix(label, "imported") || strings.HasPrefix(label, "nsimported")) {
		return protocol.Errorf(protocol.CodePolicyLabelInvalid, "Label '%s' is not valid!", label)
	}
	if reason := checkChars(label, true); reason != "" {
		return protocol.Errorf(protocol.CodePolicyEntryInvalid, "The Policy Label %s is invalid", label).WithDescription(reason)
	}
	return nil
}

// ParseEntry parses the JSON object of the entry with label.
func ParseEntry(label string, data []byte) (Entry, error) {
	var e Entry
	if err := ParseLabel(label); err != nil {
		return e, err
	}
	fields, err := objectFields(data, "")
	if err != nil {
		return e, err
	}
	if err := parseMembers(fields, "subjects", ParseSubject, e.SetSubject); err != nil {
		return e, err
	}
	if e.Subjects == nil {
		e.Subjects = map[string]Subject{}
	}
	if raw, ok := lookup(fields, "resources"); ok && !isNull(raw) {
		if kind(raw) != '{' {
			return e, typeError(raw, "/resources", "JsonObject")
		}
		resources, err := objectFields(raw, "/resources")
		if err != nil {
			return e, err
		}
		for _, f := range resources {
			k, err := ParseResourceKey(f.key)
			if err != nil {
				return e, err
			}
			perms, err := ParsePermissions(k, f.value)
			if err != nil {
				return e, err
			}
			if _, dup := e.Resources[k]; dup {
				return e, protocol.Errorf(protocol.CodePolicyEntryInvalid, "There is more than one Resource with the path <%s>!", k.Path())
			}
			e.SetResource(k, perms)
		}
	}
	if e.Resources == nil {
		e.Resources = map[ResourceKey]Permissions{}
	}
	if raw, ok := lookup(fields, "namespaces"); ok && !isNull(raw) {
		if e.Namespaces, err = parseNamespaces(raw); err != nil {
			return e, err
		}
	}
	e.Importable = ImportImplicit
	if raw, ok := lookup(fields, "importable"); ok && !isNull(raw) {
		s, err := stringField(raw, "/importable")
		if err != nil {
			return e, err
		}
		if s != ImportImplicit && s != ImportExplicit && s != ImportNever {
			return e, protocol.Errorf(protocol.CodePolicyEntryInvalid, "The Policy Entry is invalid.").WithDescription(
				fmt.Sprintf("The value '%s' of field '/importable' is not valid. Valid values are: [implicit, explicit, never]", s))
		}
		e.Importable = s
	}
	if raw, ok := lookup(fields, "allowedAdditions"); ok && !isNull(raw) {
		if e.AllowedAdditions, err = parseAllowedAdditions(raw); err != nil {
			return e, err
		}
	}
	if raw, ok := lookup(fields, "references"); ok && !isNull(raw) {
		if err := checkReferences(raw); err != nil {
			return e, err
		}
		e.References = json.RawMessage(compact(raw))
	}
	return e, nil
}

// parseMembers parses each member of the object fields[name] (which may be
// missing or null) with parse and keeps it with set, in document order,
// stopping at the first error. Each member must be an object itself. A
// policy's entries and an entry's subjects are read this way, with Ditto's
// errors; an entry's resources are not (a resource that is not an object
// has an error of its own, from ParsePermissions).
func parseMembers[V any](fields []field, name string, parse func(key string, data []byte) (V, error), set func(key string, v V)) error {
	raw, ok := lookup(fields, name)
	if !ok || isNull(raw) {
		return nil
	}
	if kind(raw) != '{' {
		return typeError(raw, "/"+name, "JsonObject")
	}
	members, err := objectFields(raw, "/"+name)
	if err != nil {
		return err
	}
	for _, f := range members {
		if kind(f.value) != '{' {
			return protocol.Errorf(protocol.CodeJSONInvalid, "<%s> is not a JSON object!", compact(f.value))
		}
		v, err := parse(f.key, f.value)
		if err != nil {
			return err
		}
		set(f.key, v)
	}
	return nil
}

// ParseSubject parses the JSON object of the subject with id: "type" is
// required, "expiry" an ISO-8601 instant, "announcement" is kept as given.
func ParseSubject(id string, data []byte) (Subject, error) {
	var s Subject
	fields, err := objectFields(data, "")
	if err != nil {
		return s, err
	}
	raw, ok := lookup(fields, "type")
	if !ok || isNull(raw) {
		return s, protocol.Errorf(protocol.CodeJSONFieldMissing, "The 'type' for the 'subject' is missing.")
	}
	if s.Type, err = stringField(raw, "/type"); err != nil {
		return s, err
	}
	if s.Type == "" {
		return s, protocol.Errorf(protocol.CodeJSONInvalid, "The 'type' for the 'subject' must not be empty.")
	}
	if raw, ok := lookup(fields, "expiry"); ok && !isNull(raw) {
		str, err := stringField(raw, "/expiry")
		if err != nil {
			return s, err
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return s, protocol.Errorf(protocol.CodePolicySubjectExpiryInvalid, "Subject expiry timestamp '%s' is not valid.", str)
		}
		t = t.UTC()
		s.Expiry = &t
	}
	if raw, ok := lookup(fields, "announcement"); ok && !isNull(raw) {
		if kind(raw) != '{' {
			return s, typeError(raw, "/announcement", "JsonObject")
		}
		s.Announcement = json.RawMessage(compact(raw))
	}
	return s, ValidateSubjectID(id)
}

// ValidateSubjectID checks a subject id "<issuer>:<subject>" as Ditto's
// SubjectId does (policies:subjectid.invalid): a colon after the issuer (the
// one of "://" in an URL-like issuer does not count), a non-empty subject, at
// most 256 characters and no control characters. Ids with placeholders
// ("{{ … }}") need no issuer.
func ValidateSubjectID(id string) error {
	invalid := func(desc string) error {
		e := protocol.Errorf(protocol.CodePolicySubjectIDInvalid, "Subject ID '%s' is not valid!", id)
		if desc != "" {
			e = e.WithDescription(desc)
		}
		return e
	}
	if !hasPlaceholder(id) {
		from := 0
		if i := strings.Index(id, "://"); i >= 0 {
			from = i + 3
		}
		i := strings.IndexByte(id[from:], ':')
		if i < 0 {
			return invalid("")
		}
		if id[from+i+1:] == "" {
			return invalid("The subject must not be empty.")
		}
	} else if id == "" {
		return invalid("")
	}
	if reason := checkChars(id, false); reason != "" {
		return invalid(reason)
	}
	return nil
}

func hasPlaceholder(s string) bool {
	i := strings.Index(s, "{{")
	return i >= 0 && strings.Contains(s[i+2:], "}}")
}

// ParseResourceKey parses "<type>:<path>" into its normal form. Control
// characters or more than 256 characters are policies:entry.invalid, a key
// without type json.invalid, a bad path json.pointer.invalid.
func ParseResourceKey(s string) (ResourceKey, error) {
	if reason := checkChars(s, false); reason != "" {
		return "", protocol.Errorf(protocol.CodePolicyEntryInvalid, "The Policy Resource %s is invalid", s).WithDescription(reason)
	}
	typ, path, ok := strings.Cut(s, ":")
	if !ok || typ == "" {
		return "", protocol.Errorf(protocol.CodeJSONInvalid, "The provided string was not in the expected format 'type:path'")
	}
	ptr, err := protocol.ParsePointer(path)
	if err != nil {
		return "", err
	}
	return NewResourceKey(typ, ptr), nil
}

// ParsePermissions parses {"grant":[…],"revoke":[…]} of resource k. Both are
// required; elements that are not strings are skipped, duplicates dropped.
func ParsePermissions(k ResourceKey, data []byte) (Permissions, error) {
	var perms Permissions
	if kind(data) != '{' {
		return perms, protocol.Errorf(protocol.CodeJSONInvalid,
			"The JSON object for the 'permissions' (grant/revoke) of the 'resource' '%s' is missing or not an object.", k)
	}
	fields, err := objectFields(data, "")
	if err != nil {
		return perms, err
	}
	list := func(name string) ([]string, error) {
		raw, ok := lookup(fields, name)
		if !ok || isNull(raw) {
			return nil, protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </%s> field!", name)
		}
		if kind(raw) != '[' {
			return nil, typeError(raw, "/"+name, "JsonArray")
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", compact(raw))
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			var s string
			if kind(it) == '"' && json.Unmarshal(it, &s) == nil && !contains(out, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	if perms.Grant, err = list("grant"); err != nil {
		return perms, err
	}
	if perms.Revoke, err = list("revoke"); err != nil {
		return perms, err
	}
	return perms, nil
}

func parseNamespaces(raw json.RawMessage) ([]string, error) {
	if kind(raw) != '[' {
		return nil, typeError(raw, "/namespaces", "JsonArray")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", compact(raw))
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if kind(it) != '"' || json.Unmarshal(it, &s) != nil {
			return nil, entryInvalid(fmt.Sprintf("The 'namespaces' array must only contain string values, but contained: %s.", compact(it)))
		}
		if !validNamespacePattern(s) {
			return nil, entryInvalid(fmt.Sprintf("The value '%s' is not a valid namespace pattern. "+
				"Valid patterns are namespaces like 'com.acme' or wildcard patterns like 'com.acme.*'.", s))
		}
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func validNamespacePattern(s string) bool {
	if s == "" {
		return false
	}
	if prefix, ok := strings.CutSuffix(s, ".*"); ok {
		return prefix != "" && protocol.ValidNamespace(prefix)
	}
	return protocol.ValidNamespace(s)
}

var allowedAdditions = []string{"subjects", "resources", "namespaces"}

func parseAllowedAdditions(raw json.RawMessage) ([]string, error) {
	if kind(raw) != '[' {
		return nil, typeError(raw, "/allowedAdditions", "JsonArray")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", compact(raw))
	}
	out := []string{}
	for i, it := range items {
		var s string
		if kind(it) != '"' || json.Unmarshal(it, &s) != nil {
			return nil, entryInvalid(fmt.Sprintf("The 'allowedAdditions' array contains a non-string element at index %d: %s. "+
				"Every element must be a string from [subjects, resources, namespaces].", i, compact(it)))
		}
		if !contains(allowedAdditions, s) {
			return nil, entryInvalid(fmt.Sprintf("The value '%s' is not a valid allowedAddition. "+
				"Valid values are: [subjects, resources, namespaces].", s))
		}
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkReferences checks the entry references as far as Ditto's model does
// without resolving them: objects with an "entry" label and an optional
// non-empty "import" policy id.
func checkReferences(raw json.RawMessage) error {
	if kind(raw) != '[' {
		return typeError(raw, "/references", "JsonArray")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", compact(raw))
	}
	for i, it := range items {
		if kind(it) != '{' {
			return entryInvalid(fmt.Sprintf("The 'references' array contains a non-object element at index %d: %s. "+
				"Every element must be a JSON object with at least an 'entry' field.", i, compact(it)))
		}
		fields, err := objectFields(it, "")
		if err != nil {
			return err
		}
		rawEntry, ok := lookup(fields, "entry")
		if !ok || isNull(rawEntry) {
			return protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </entry> field!")
		}
		label, err := stringField(rawEntry, "/entry")
		if err != nil {
			return err
		}
		if err := ParseLabel(label); err != nil {
			return err
		}
		if rawImport, ok := lookup(fields, "import"); ok {
			var s string
			if kind(rawImport) != '"' || json.Unmarshal(rawImport, &s) != nil || s == "" {
				return protocol.Errorf(protocol.CodeJSONInvalid,
					"The 'import' field of an entry reference must be a non-empty string. Received: %s.", compact(rawImport))
			}
			if err := protocol.ValidatePolicyID(s); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseImports(raw json.RawMessage) ([]Import, error) {
	if kind(raw) != '{' {
		return nil, typeError(raw, "/imports", "JsonObject")
	}
	fields, err := objectFields(raw, "/imports")
	if err != nil {
		return nil, err
	}
	out := make([]Import, 0, len(fields))
	for _, f := range fields {
		if err := protocol.ValidatePolicyID(f.key); err != nil {
			return nil, err
		}
		if kind(f.value) != '{' {
			return nil, protocol.Errorf(protocol.CodeJSONInvalid,
				"The value of the policy import of the 'imported policy' with ID '%s' is missing or not an object.", f.key)
		}
		imp, err := objectFields(f.value, "")
		if err != nil {
			return nil, err
		}
		if raw, ok := lookup(imp, "entries"); ok && !isNull(raw) {
			if kind(raw) != '[' {
				return nil, typeError(raw, "/entries", "JsonArray")
			}
			var labels []json.RawMessage
			_ = json.Unmarshal(raw, &labels)
			for _, l := range labels {
				var s string
				if kind(l) == '"' && json.Unmarshal(l, &s) == nil {
					if err := ParseLabel(s); err != nil {
						return nil, err
					}
				}
			}
		}
		if raw, ok := lookup(imp, "transitiveImports"); ok && !isNull(raw) {
			if kind(raw) != '[' {
				return nil, typeError(raw, "/transitiveImports", "JsonArray")
			}
			var ids []json.RawMessage
			_ = json.Unmarshal(raw, &ids)
			for _, it := range ids {
				var s string
				if kind(it) != '"' || json.Unmarshal(it, &s) != nil {
					return nil, protocol.Errorf(protocol.CodePolicyImportInvalid,
						"The 'transitiveImports' array contains a non-string element: %s", compact(it)).WithDescription(
						"Every element in 'transitiveImports' must be a string representing a valid policy ID.")
				}
				if err := protocol.ValidatePolicyID(s); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, Import{PolicyID: f.key, Value: json.RawMessage(compact(f.value))})
	}
	return out, nil
}

// checkImports: a policy must not import itself, directly or as a
// transitive import (PolicyImportsValidator).
func checkImports(id string, imports []Import) error {
	for _, imp := range imports {
		if imp.PolicyID == id {
			return protocol.Errorf(protocol.CodePolicyImportInvalid, "The Policy Import is invalid.")
		}
	}
	for _, imp := range imports {
		var v struct {
			TransitiveImports []string `json:"transitiveImports"`
		}
		_ = json.Unmarshal(imp.Value, &v)
		if contains(v.TransitiveImports, id) {
			return protocol.Errorf(protocol.CodePolicyImportInvalid,
				"The policy import contains a transitive resolution of the policy itself.").WithDescription(
				fmt.Sprintf("The 'transitiveImports' array must not contain the importing policy's own ID '%s'.", id))
		}
	}
	return nil
}

// checkChars is Ditto's NoControlCharacters(NoSlashes)Validator: non-empty,
// at most 256 characters, none of \x00-\x1F \x7F-\xFF (and no '/').
func checkChars(s string, noSlashes bool) string {
	if utf16Len([]byte(s)) > maxIDLength {
		return fmt.Sprintf("Not allowed to exceed length of %d.", maxIDLength)
	}
	bad := s == "" || !utf8.ValidString(s)
	for _, r := range s {
		if r <= 0x1F || (r >= 0x7F && r <= 0xFF) || (noSlashes && r == '/') {
			bad = true
			break
		}
	}
	if !bad {
		return ""
	}
	if noSlashes {
		return "Neither slashes nor any control characters are allowed."
	}
	return "No control characters are allowed."
}

func entryInvalid(desc string) error {
	return protocol.Errorf(protocol.CodePolicyEntryInvalid, "The Policy Entry is invalid.").WithDescription(desc)
}

package policies

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// value is the parsed value of a modify command; which field is set depends
// on the level.
type value struct {
	policy  *policy.Policy // levelPolicy; the entries or imports of levelEntries, levelImports, levelImport
	entry   policy.Entry   // entry levels: the entry, or an entry holding the field written
	subject policy.Subject
	perms   policy.Permissions
	list    json.RawMessage // levelImportEntries, levelImportTransitive
}

// parseValue parses the value of a modify or create of r with Ditto's
// model rules and error codes, before anything is loaded: a malformed
// command is refused whether or not the policy exists, as Ditto's protocol
// adapter refuses it.
func parseValue(r resource, raw json.RawMessage) (value, error) {
	var v value
	if raw == nil {
		return v, protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </value> field!")
	}
	if !json.Valid(raw) {
		return v, protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", preview(raw))
	}
	if kindOf(raw) == 'n' {
		return v, protocol.Errorf(protocol.CodeJSONInvalid, "The value at path '%s' must not be null.", r.path())
	}
	var err error
	switch r.level {
	case levelPolicy:
		if v.policy, err = policy.Parse(r.policyID, raw); err != nil {
			return v, err
		}
		// The special fields are the store's to set, never the client's.
		v.policy.Revision, v.policy.Created, v.policy.Modified = 0, time.Time{}, time.Time{}
	case levelEntries:
		v.policy, err = wrapped(r, "entries", raw)
	case levelImports:
		v.policy, err = wrapped(r, "imports", raw)
	case levelImport:
		wrapper := append(append(append([]byte(`{`), quote(r.imported)...), ':'), raw...)
		v.policy, err = wrapped(r, "imports", append(wrapper, '}'))
	case levelImportEntries, levelImportTransitive:
		name := "entries"
		if r.level == levelImportTransitive {
			name = "transitiveImports"
		}
		if kindOf(raw) != '[' {
			return v, protocol.Errorf(protocol.CodeJSONInvalid, "Value <%s> for </%s> is not of type <JsonArray>!", preview(raw), name)
		}
		// Checked as the field of an import of its own.
		imp := append(append([]byte(`{"`+name+`":`), raw...), '}')
		wrapper := append(append(append([]byte(`{`), quote(r.imported)...), ':'), imp...)
		if _, err = wrapped(r, "imports", append(wrapper, '}')); err == nil {
			v.list = compactJSON(raw)
		}
	case levelEntry:
		v.entry, err = policy.ParseEntry(r.label, raw)
	case levelSubjects, levelResources, levelNamespaces, levelImportable, levelAllowedAdditions, levelReferences:
		v.entry, err = policy.ParseEntry(r.label, wrap(entryField(r.level), raw))
	case levelSubject:
		v.subject, err = policy.ParseSubject(r.subject, raw)
	case levelResource:
		v.perms, err = policy.ParsePermissions(r.key, raw)
	}
	return v, err
}

// wrapped parses raw as the field name of a policy r.policyID.
func wrapped(r resource, name string, raw json.RawMessage) (*policy.Policy, error) {
	if kindOf(raw) != '{' {
		return nil, protocol.Errorf(protocol.CodeJSONInvalid, "Value <%s> for </%s> is not of type <JsonObject>!", preview(raw), name)
	}
	return policy.Parse(r.policyID, wrap(name, raw))
}

// entryField is the entry field a level below an entry writes.
func entryField(l level) string {
	switch l {
	case levelSubjects:
		return "subjects"
	case levelResources:
		return "resources"
	case levelNamespaces:
		return "namespaces"
	case levelImportable:
		return "importable"
	case levelAllowedAdditions:
		return "allowedAdditions"
	}
	return "references"
}

// wrap is {"name": raw}.
func wrap(name string, raw json.RawMessage) []byte {
	b := make([]byte, 0, len(raw)+len(name)+5)
	b = append(b, '{')
	b = append(b, quote(name)...)
	b = append(b, ':')
	b = append(b, raw...)
	return append(b, '}')
}

func kindOf(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func compactJSON(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// preview shortens raw for an error message.
func preview(raw []byte) string {
	const max = 100
	s := string(bytes.TrimSpace(raw))
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

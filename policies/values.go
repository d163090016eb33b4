package policies

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"strconv"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// The JSON of each level, written from the model in its own order (entries,
// subjects and resources as they were set), as Ditto's responses keep it.

// lookup returns the JSON of r in p, or the not-found error Ditto gives for
// the part that is missing (a missing entry is entry.notfound at every level
// below it, a missing import import.notfound).
func lookup(p *policy.Policy, r resource) (json.RawMessage, *protocol.Error) {
	switch r.level {
	case levelPolicy:
		return p.JSON(), nil
	case levelEntries:
		return p.EntriesJSON(), nil
	case levelImports:
		return importsJSON(p.Imports), nil
	case levelImport, levelImportEntries, levelImportTransitive:
		i := importIndex(p, r.imported)
		if i < 0 {
			return nil, importNotFound(r.policyID, r.imported)
		}
		v := importValue(p.Imports[i])
		switch r.level {
		case levelImportEntries:
			return importList(v, "entries"), nil
		case levelImportTransitive:
			return importList(v, "transitiveImports"), nil
		}
		return v, nil
	}
	e, ok := p.Entries[r.label]
	if !ok {
		return nil, entryNotFound(r.policyID, r.label)
	}
	switch r.level {
	case levelSubjects:
		return e.SubjectsJSON(), nil
	case levelSubject:
		s, ok := e.Subjects[r.subject]
		if !ok {
			return nil, r.notFound()
		}
		return s.JSON(), nil
	case levelResources:
		return e.ResourcesJSON(), nil
	case levelResource:
		perms, ok := e.Resources[r.key]
		if !ok {
			return nil, r.notFound()
		}
		return perms.JSON(), nil
	case levelNamespaces:
		// Ditto answers entry.notfound for an entry without namespaces
		// (RetrievePolicyEntryNamespacesStrategy).
		if e.Namespaces == nil {
			return nil, r.notFound()
		}
		return stringsJSON(e.Namespaces), nil
	case levelImportable:
		imp := e.Importable
		if imp == "" {
			imp = policy.ImportImplicit
		}
		return quote(imp), nil
	case levelAllowedAdditions:
		return stringsJSON(e.AllowedAdditions), nil
	case levelReferences:
		if len(e.References) == 0 {
			return json.RawMessage("[]"), nil
		}
		return e.References, nil
	}
	return e.JSON(), nil
}

func importsJSON(imports []policy.Import) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, imp := range imports {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(quote(imp.PolicyID))
		b.WriteByte(':')
		b.Write(importValue(imp))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func importValue(imp policy.Import) json.RawMessage {
	if len(imp.Value) == 0 {
		return json.RawMessage("{}")
	}
	return imp.Value
}

// importList is the array field name of an import's value ([] when absent).
func importList(v json.RawMessage, name string) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(v, &fields) != nil || fields[name] == nil || bytes.Equal(fields[name], []byte("null")) {
		return json.RawMessage("[]")
	}
	return fields[name]
}

func importIndex(p *policy.Policy, id string) int {
	for i, imp := range p.Imports {
		if imp.PolicyID == id {
			return i
		}
	}
	return -1
}

func stringsJSON(list []string) json.RawMessage {
	if list == nil {
		list = []string{}
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(quote(s))
	}
	b.WriteByte(']')
	return b.Bytes()
}

// quote is s as a JSON string, HTML characters left as they are.
func quote(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// revisionETag is the entity tag of a whole policy.
func revisionETag(rev int64) string { return `"rev:` + strconv.FormatInt(rev, 10) + `"` }

// hashETag is the entity tag of a part of a policy: a hash of its JSON in
// normal form (keys sorted), so that equal values have equal tags.
func hashETag(v json.RawMessage) string {
	tree, err := protocol.DecodeValue(v)
	if err == nil {
		v = protocol.EncodeValue(tree)
	}
	h := fnv.New64a()
	h.Write(v)
	return `"hash:` + strconv.FormatUint(h.Sum64(), 16) + `"`
}

// etagOf is the current entity tag of r in p ("" when r does not exist).
func etagOf(p *policy.Policy, r resource) string {
	if p == nil {
		return ""
	}
	if r.level == levelPolicy {
		return revisionETag(p.Revision)
	}
	v, err := lookup(p, r)
	if err != nil {
		return ""
	}
	return hashETag(v)
}

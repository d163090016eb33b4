package policy

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/twinway/twinway/protocol"
)

// JSON is the policy as Ditto writes it (ImmutablePolicy.toJson): policyId,
// imports (always, {} when none), entries in label order; every entry has
// subjects, resources, namespaces (when set) and importable (always).
func (p *Policy) JSON() []byte {
	var b bytes.Buffer
	p.write(&b, false)
	return b.Bytes()
}

// StoredJSON is JSON with _revision, _modified and _created in front, as
// Ditto's special fields; Parse reads them back.
func (p *Policy) StoredJSON() []byte {
	var b bytes.Buffer
	p.write(&b, true)
	return b.Bytes()
}

func (p *Policy) write(b *bytes.Buffer, special bool) {
	b.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	if special {
		if p.Revision != 0 {
			sep()
			b.WriteString(`"_revision":` + strconv.FormatInt(p.Revision, 10))
		}
		if !p.Modified.IsZero() {
			sep()
			b.WriteString(`"_modified":`)
			writeString(b, protocol.FormatInstant(p.Modified))
		}
		if !p.Created.IsZero() {
			sep()
			b.WriteString(`"_created":`)
			writeString(b, protocol.FormatInstant(p.Created))
		}
	}
	if p.ID != "" {
		sep()
		b.WriteString(`"policyId":`)
		writeString(b, p.ID)
	}
	sep()
	b.WriteString(`"imports":{`)
	for i, imp := range p.Imports {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, imp.PolicyID)
		b.WriteByte(':')
		if len(imp.Value) == 0 {
			b.WriteString("{}")
		} else {
			b.WriteString(compact(imp.Value))
		}
	}
	b.WriteString(`},"entries":`)
	p.writeEntries(b)
	b.WriteByte('}')
}

// EntriesJSON is the policy's entries object, in label order.
func (p *Policy) EntriesJSON() []byte {
	var b bytes.Buffer
	p.writeEntries(&b)
	return b.Bytes()
}

func (p *Policy) writeEntries(b *bytes.Buffer) {
	b.WriteByte('{')
	for i, label := range p.Labels() {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, label)
		b.WriteByte(':')
		e := p.Entries[label]
		e.write(b)
	}
	b.WriteByte('}')
}

// JSON is the entry as Ditto writes it.
func (e *Entry) JSON() []byte {
	var b bytes.Buffer
	e.write(&b)
	return b.Bytes()
}

// SubjectsJSON is the entry's subjects object, in order.
func (e *Entry) SubjectsJSON() []byte {
	var b bytes.Buffer
	e.writeSubjects(&b)
	return b.Bytes()
}

// ResourcesJSON is the entry's resources object, in order.
func (e *Entry) ResourcesJSON() []byte {
	var b bytes.Buffer
	e.writeResources(&b)
	return b.Bytes()
}

func (e *Entry) writeSubjects(b *bytes.Buffer) {
	b.WriteByte('{')
	for i, id := range e.SubjectIDs() {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, id)
		b.WriteByte(':')
		s := e.Subjects[id]
		s.write(b)
	}
	b.WriteByte('}')
}

func (e *Entry) writeResources(b *bytes.Buffer) {
	b.WriteByte('{')
	for i, k := range e.ResourceKeys() {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, string(k))
		b.WriteByte(':')
		perms := e.Resources[k]
		perms.write(b)
	}
	b.WriteByte('}')
}

func (e *Entry) write(b *bytes.Buffer) {
	b.WriteString(`{"subjects":`)
	e.writeSubjects(b)
	b.WriteString(`,"resources":`)
	e.writeResources(b)
	if e.Namespaces != nil {
		b.WriteString(`,"namespaces":`)
		writeStrings(b, e.Namespaces)
	}
	imp := e.Importable
	if imp == "" {
		imp = ImportImplicit
	}
	b.WriteString(`,"importable":`)
	writeString(b, imp)
	if e.AllowedAdditions != nil {
		b.WriteString(`,"allowedAdditions":`)
		writeStrings(b, e.AllowedAdditions)
	}
	if len(e.References) > 0 && compact(e.References) != "[]" {
		b.WriteString(`,"references":`)
		b.WriteString(compact(e.References))
	}
	b.WriteByte('}')
}

// JSON is the subject as Ditto writes it: type, expiry, announcement.
func (s *Subject) JSON() []byte {
	var b bytes.Buffer
	s.write(&b)
	return b.Bytes()
}

func (s *Subject) write(b *bytes.Buffer) {
	b.WriteString(`{"type":`)
	writeString(b, s.Type)
	if s.Expiry != nil {
		b.WriteString(`,"expiry":`)
		writeString(b, protocol.FormatInstant(*s.Expiry))
	}
	if len(s.Announcement) > 0 {
		b.WriteString(`,"announcement":`)
		b.WriteString(compact(s.Announcement))
	}
	b.WriteByte('}')
}

// JSON is {"grant":[…],"revoke":[…]}.
func (p *Permissions) JSON() []byte {
	var b bytes.Buffer
	p.write(&b)
	return b.Bytes()
}

func (p *Permissions) write(b *bytes.Buffer) {
	b.WriteString(`{"grant":`)
	writeStrings(b, p.Grant)
	b.WriteString(`,"revoke":`)
	writeStrings(b, p.Revoke)
	b.WriteByte('}')
}

func writeStrings(b *bytes.Buffer, list []string) {
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, s)
	}
	b.WriteByte(']')
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

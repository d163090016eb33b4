package policy

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/twinway/twinway/protocol"
)

// Resource types Ditto knows (PoliciesResourceType). Other types are accepted
// in a policy, as Ditto accepts them, but nothing asks for them.
const (
	TypeThing   = "thing"
	TypePolicy  = "policy"
	TypeMessage = "message"
)

// DefaultLabel is the label of the entry of an implicit default policy.
const DefaultLabel = "DEFAULT"

// Importable values of an entry; ImportImplicit is the default.
const (
	ImportImplicit = "implicit"
	ImportExplicit = "explicit"
	ImportNever    = "never"
)

// Policy is a Ditto policy. Entries, subjects and resources are maps; the
// order in which they were parsed or set is remembered for JSON output, and
// keys added to the maps directly are written after those, sorted.
type Policy struct {
	ID      string
	Entries map[string]Entry
	// Imports are kept as given; they are not resolved.
	Imports []Import
	// Revision, Created and Modified are set by whoever stores the policy;
	// JSON leaves them out, StoredJSON writes them.
	Revision int64
	Created  time.Time
	Modified time.Time

	labels []string // order of Entries
}

// Entry is one policy entry (one label).
type Entry struct {
	Subjects  map[string]Subject
	Resources map[ResourceKey]Permissions
	// Namespaces restrict the entry to entities in matching namespaces:
	// "com.acme" (exactly) or "com.acme.*" (below it). Nil or empty: all.
	Namespaces []string
	// Importable is "implicit" (the default when empty), "explicit" or "never".
	Importable string
	// AllowedAdditions (nil: field absent) and References are kept for
	// imports; they have no effect on evaluation here.
	AllowedAdditions []string
	References       json.RawMessage

	subjects  []string      // order of Subjects
	resources []ResourceKey // order of Resources
}

// Subject is a subject of an entry. Its id is the key in Entry.Subjects.
type Subject struct {
	Type string
	// Expiry, when set, is when the subject stops counting (Ditto deletes it).
	Expiry *time.Time
	// Announcement is kept as given (subject deletion announcements).
	Announcement json.RawMessage
}

// Permissions are the granted and revoked permissions of a resource. Ditto
// accepts any permission name; only READ, WRITE and EXECUTE mean something.
type Permissions struct {
	Grant  []string
	Revoke []string
}

// Import is one import of another policy, kept but not resolved.
type Import struct {
	PolicyID string
	// Value is the import's JSON object ({"entries":[…],"transitiveImports":[…]}).
	Value json.RawMessage
}

// ResourceKey is a resource in its normal form "<type>:<pointer>", e.g.
// "thing:/features/lamp" or "policy:/".
type ResourceKey string

// NewResourceKey is the key of type and path.
func NewResourceKey(typ string, path protocol.Pointer) ResourceKey {
	return ResourceKey(typ + ":" + path.String())
}

// Type is the resource type ("thing", "policy", "message").
func (k ResourceKey) Type() string {
	t, _, _ := strings.Cut(string(k), ":")
	return t
}

// Path is the resource path.
func (k ResourceKey) Path() protocol.Pointer {
	_, p, _ := strings.Cut(string(k), ":")
	ptr, err := protocol.ParsePointer(p)
	if err != nil {
		return nil
	}
	return ptr
}

// Permission is READ, WRITE or EXECUTE.
type Permission uint8

// The permissions that evaluation knows.
const (
	Read Permission = iota
	Write
	Execute
	numPermissions
)

var permissionNames = [numPermissions]string{"READ", "WRITE", "EXECUTE"}

func (p Permission) String() string {
	if p < numPermissions {
		return permissionNames[p]
	}
	return "UNKNOWN"
}

// ParsePermission returns the permission named s ("READ", "WRITE", "EXECUTE").
func ParsePermission(s string) (Permission, bool) {
	for i, n := range permissionNames {
		if n == s {
			return Permission(i), true
		}
	}
	return 0, false
}

// Labels are the entry labels in order.
func (p *Policy) Labels() []string { return orderedKeys(p.labels, p.Entries) }

// SetEntry adds or replaces the entry with label; a new label goes last.
func (p *Policy) SetEntry(label string, e Entry) { setOrdered(&p.Entries, &p.labels, label, e) }

// RemoveEntry removes the entry with label.
func (p *Policy) RemoveEntry(label string) {
	delete(p.Entries, label)
	p.labels = remove(p.labels, label)
}

// Namespace is the namespace of the policy id.
func (p *Policy) Namespace() string {
	ns, _, _ := strings.Cut(p.ID, ":")
	return ns
}

// Clone returns a deep copy of p.
func (p *Policy) Clone() *Policy {
	c := *p
	c.Entries = make(map[string]Entry, len(p.Entries))
	for l, e := range p.Entries {
		c.Entries[l] = e.Clone()
	}
	c.Imports = append([]Import(nil), p.Imports...)
	c.labels = append([]string(nil), p.labels...)
	return &c
}

// SubjectIDs are the subject ids in order.
func (e *Entry) SubjectIDs() []string { return orderedKeys(e.subjects, e.Subjects) }

// ResourceKeys are the resource keys in order.
func (e *Entry) ResourceKeys() []ResourceKey { return orderedKeys(e.resources, e.Resources) }

// SetSubject adds or replaces a subject; a new one goes last.
func (e *Entry) SetSubject(id string, s Subject) { setOrdered(&e.Subjects, &e.subjects, id, s) }

// RemoveSubject removes a subject.
func (e *Entry) RemoveSubject(id string) {
	delete(e.Subjects, id)
	e.subjects = remove(e.subjects, id)
}

// SetResource adds or replaces a resource; a new one goes last.
func (e *Entry) SetResource(k ResourceKey, perms Permissions) {
	setOrdered(&e.Resources, &e.resources, k, perms)
}

// RemoveResource removes a resource.
func (e *Entry) RemoveResource(k ResourceKey) {
	delete(e.Resources, k)
	e.resources = remove(e.resources, k)
}

// Clone returns a deep copy of e.
func (e Entry) Clone() Entry {
	c := e
	c.Subjects = make(map[string]Subject, len(e.Subjects))
	for id, s := range e.Subjects {
		if s.Expiry != nil {
			t := *s.Expiry
			s.Expiry = &t
		}
		c.Subjects[id] = s
	}
	c.Resources = make(map[ResourceKey]Permissions, len(e.Resources))
	for k, v := range e.Resources {
		c.Resources[k] = Permissions{Grant: append([]string(nil), v.Grant...), Revoke: append([]string(nil), v.Revoke...)}
	}
	if e.Namespaces != nil {
		c.Namespaces = append([]string{}, e.Namespaces...)
	}
	if e.AllowedAdditions != nil {
		c.AllowedAdditions = append([]string{}, e.AllowedAdditions...)
	}
	c.subjects = append([]string(nil), e.subjects...)
	c.resources = append([]ResourceKey(nil), e.resources...)
	return c
}

// appliesTo tells whether an entry with namespaces applies to an entity in
// namespace ns (Ditto's PolicyEntryNamespaces.matches): no patterns, or one
// that matches.
func appliesTo(namespaces []string, ns string) bool {
	if len(namespaces) == 0 {
		return true
	}
	for _, pat := range namespaces {
		if matchNamespace(pat, ns) {
			return true
		}
	}
	return false
}

// matchNamespace: "a.b" matches exactly; "a.b.*" matches namespaces below
// "a.b" but not "a.b" itself.
func matchNamespace(pattern, ns string) bool {
	if prefix, ok := strings.CutSuffix(pattern, ".*"); ok {
		return len(ns) > len(prefix)+1 && strings.HasPrefix(ns, prefix) && ns[len(prefix)] == '.'
	}
	return ns == pattern
}

// DefaultPolicy is the policy Ditto creates for a thing created without one
// (ThingEnforcerActor): id = thing id, label DEFAULT, the creator's first
// subject with type "generated", READ and WRITE on thing:/, policy:/ and
// message:/.
func DefaultPolicy(thingID, subject string) *Policy {
	var e Entry
	e.SetSubject(subject, Subject{Type: "generated"})
	rw := func() Permissions { return Permissions{Grant: []string{"READ", "WRITE"}, Revoke: []string{}} }
	e.SetResource("thing:/", rw())
	e.SetResource("policy:/", rw())
	e.SetResource("message:/", rw())
	p := &Policy{ID: thingID}
	p.SetEntry(DefaultLabel, e)
	return p
}

// orderedKeys lists the keys of m: first those in order (if still present),
// then the others sorted.
func orderedKeys[K ~string, V any](order []K, m map[K]V) []K {
	out := make([]K, 0, len(m))
	seen := make(map[K]bool, len(order))
	for _, k := range order {
		if _, ok := m[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if len(out) == len(m) {
		return out
	}
	n := len(out)
	for k := range m {
		if !seen[k] {
			out = append(out, k)
		}
	}
	rest := out[n:]
	for i := 1; i < len(rest); i++ { // few keys: insertion sort
		for j := i; j > 0 && rest[j] < rest[j-1]; j-- {
			rest[j], rest[j-1] = rest[j-1], rest[j]
		}
	}
	return out
}

// setOrdered adds or replaces (*m)[k], making the map if there is none. A
// new key goes last in order, so that entries, subjects and resources keep
// the order they were given in (orderedKeys reads it back).
func setOrdered[K comparable, V any](m *map[K]V, order *[]K, k K, v V) {
	if *m == nil {
		*m = map[K]V{}
	}
	if _, ok := (*m)[k]; !ok {
		*order = append(*order, k)
	}
	(*m)[k] = v
}

func remove[K comparable](s []K, k K) []K {
	for i, x := range s {
		if x == k {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

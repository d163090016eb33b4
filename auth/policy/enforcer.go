package policy

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// Cache bounds of an Enforcer. When a cache is full it is emptied and filled
// again; an Enforcer lives for one policy revision, so this is rare.
const (
	maxViews      = 4096 // cached Views (namespace + subject set)
	maxNamespaces = 256  // compiled tries of namespaced policies
)

// Enforcer is a compiled policy revision. It is immutable apart from its
// internal caches and safe for concurrent use.
type Enforcer struct {
	policyID string
	revision int64
	expires  time.Time

	entries    []*compiledEntry
	namespaced bool  // some entry has namespaces
	all        *trie // the trie when no entry has namespaces

	mu     sync.RWMutex
	byNS   map[string]*trie // namespace → trie (namespaced policies)
	byMask map[string]*trie // applicable entries → trie
	views  map[string]*View // namespace + "\x00" + sorted subjects → View
}

type compiledEntry struct {
	subjects   []string
	resources  []compiledResource
	namespaces []string
}

type compiledResource struct {
	path          []string // type, then path segments
	grant, revoke uint8    // bit p: Permission p
}

// Compile compiles p as it stands at now: subjects whose expiry is before now
// are left out (Ditto deletes them). Check Stale before using an Enforcer
// past the first remaining expiry.
func Compile(p *Policy, now time.Time) *Enforcer {
	e := &Enforcer{policyID: p.ID, revision: p.Revision}
	for _, label := range p.Labels() {
		entry := p.Entries[label]
		ce := &compiledEntry{namespaces: entry.Namespaces}
		for _, id := range entry.SubjectIDs() {
			s := entry.Subjects[id]
			if s.Expiry != nil {
				if s.Expiry.Before(now) {
					continue
				}
				if e.expires.IsZero() || s.Expiry.Before(e.expires) {
					e.expires = *s.Expiry
				}
			}
			ce.subjects = append(ce.subjects, id)
		}
		for _, k := range entry.ResourceKeys() {
			perms := entry.Resources[k]
			r := compiledResource{path: append([]string{k.Type()}, k.Path()...)}
			r.grant, r.revoke = permissionBits(perms.Grant), permissionBits(perms.Revoke)
			ce.resources = append(ce.resources, r)
		}
		if len(ce.subjects) == 0 || len(ce.resources) == 0 {
			continue // cannot contribute (PolicyEnforcers.defaultEvaluator)
		}
		if len(ce.namespaces) > 0 {
			e.namespaced = true
		}
		e.entries = append(e.entries, ce)
	}
	if !e.namespaced {
		e.all = buildTrie(e.entries)
	}
	return e
}

func permissionBits(names []string) uint8 {
	var bits uint8
	for _, n := range names {
		if p, ok := ParsePermission(n); ok {
			bits |= 1 << p
		}
	}
	return bits
}

// PolicyID is the id of the compiled policy.
func (e *Enforcer) PolicyID() string { return e.policyID }

// Revision is the revision of the compiled policy.
func (e *Enforcer) Revision() int64 { return e.revision }

// Expires is the earliest expiry of a subject that was still valid at
// compile time (zero if none): after it the Enforcer is stale.
func (e *Enforcer) Expires() time.Time { return e.expires }

// Stale tells whether a subject has expired since compile time, so that the
// policy must be compiled again.
func (e *Enforcer) Stale(now time.Time) bool {
	return !e.expires.IsZero() && e.expires.Before(now)
}

// Has tells whether subjects hold perm on resource ("thing:/features/lamp")
// without restriction: granted there and revoked nowhere below. This is the
// check for writes (and EXECUTE). namespace is that of the entity the policy
// protects.
func (e *Enforcer) Has(subjects []string, resource, namespace string, perm Permission) bool {
	return e.decide(subjects, resource, namespace, perm, unrestricted)
}

// HasPartial tells whether subjects hold perm on resource or somewhere below
// it: the check for reads, whose answer is then pruned.
func (e *Enforcer) HasPartial(subjects []string, resource, namespace string, perm Permission) bool {
	return e.decide(subjects, resource, namespace, perm, partial)
}

func (e *Enforcer) decide(subjects []string, resource, namespace string, perm Permission, m mode) bool {
	t := e.trieFor(namespace)
	typ, path, _ := strings.Cut(resource, ":")
	n, exact := t.seek(typ, path)
	var buf [8]int
	idx := t.indices(subjects, buf[:0])
	return n.decide(idx, perm, m, exact)
}

// SubjectsWithPartial are the subject ids that, each on its own, hold perm on
// resource or somewhere below it (sorted): those to tell about an event.
func (e *Enforcer) SubjectsWithPartial(resource, namespace string, perm Permission) []string {
	t := e.trieFor(namespace)
	typ, path, _ := strings.Cut(resource, ":")
	n, exact := t.seek(typ, path)
	var out []string
	for i, id := range t.ids {
		one := [1]int{i}
		if n.decide(one[:], perm, partial, exact) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// indices maps subject ids to trie indices, skipping unknown ones.
func (t *trie) indices(subjects []string, out []int) []int {
	for _, s := range subjects {
		if i, ok := t.idx[s]; ok {
			out = append(out, i)
		}
	}
	return out
}

// trieFor is the trie of the entries that apply in namespace.
func (e *Enforcer) trieFor(namespace string) *trie {
	if !e.namespaced {
		return e.all
	}
	e.mu.RLock()
	t := e.byNS[namespace]
	e.mu.RUnlock()
	if t != nil {
		return t
	}
	mask := make([]byte, len(e.entries))
	var applicable []*compiledEntry
	for i, ce := range e.entries {
		mask[i] = '0'
		if appliesTo(ce.namespaces, namespace) {
			mask[i] = '1'
			applicable = append(applicable, ce)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t = e.byNS[namespace]; t != nil {
		return t
	}
	if t = e.byMask[string(mask)]; t == nil {
		t = buildTrie(applicable)
	}
	if len(e.byNS) >= maxNamespaces {
		e.byNS, e.byMask = nil, nil
	}
	if e.byNS == nil {
		e.byNS, e.byMask = map[string]*trie{}, map[string]*trie{}
	}
	e.byNS[namespace] = t
	e.byMask[string(mask)] = t
	return t
}

// View is the decision of subjects in namespace, compiled once and cached
// (bounded) in the Enforcer.
func (e *Enforcer) View(subjects []string, namespace string) *View {
	var sbuf [8]string
	sorted := sortedSubjects(subjects, sbuf[:0])
	var kbuf [256]byte
	key := append(kbuf[:0], namespace...)
	for _, s := range sorted {
		key = append(key, 0)
		key = append(key, s...)
	}
	e.mu.RLock()
	v := e.views[string(key)]
	e.mu.RUnlock()
	if v != nil {
		return v
	}
	t := e.trieFor(namespace)
	var ibuf [8]int
	v = newView(t, t.indices(sorted, ibuf[:0]))
	e.mu.Lock()
	defer e.mu.Unlock()
	if old := e.views[string(key)]; old != nil {
		return old
	}
	if len(e.views) >= maxViews || e.views == nil {
		e.views = make(map[string]*View)
	}
	e.views[string(key)] = v
	return v
}

// sortedSubjects returns subjects sorted without duplicates, in out.
func sortedSubjects(subjects []string, out []string) []string {
	for _, s := range subjects {
		i := len(out)
		out = append(out, s)
		for ; i > 0 && out[i] < out[i-1]; i-- {
			out[i], out[i-1] = out[i-1], out[i]
		}
		if i > 0 && out[i] == out[i-1] {
			out = append(out[:i], out[i+1:]...)
		}
	}
	return out
}

// LocksOut tells whether subjects, who write p, would no longer hold WRITE on
// policy:/ of p (the lockout guard; Ditto allows it only with
// allow-policy-lockout). p is the policy as it would be after the write.
func LocksOut(p *Policy, subjects []string) bool {
	return !Compile(p, time.Now()).Has(subjects, "policy:/", p.Namespace(), Write)
}

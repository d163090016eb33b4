package policy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

// A reference evaluator built the way Ditto's TrieBasedPolicyEnforcer is
// described (policies/model/.../enforcers/trie): weighted permission→subject
// maps per node, a transitive closure with decremented weights, bottom-up
// grant and revoke tries with incremented weights, and buildJsonView. It is
// slow and simple; the randomized test below holds the Enforcer and its
// Views to it.

type refMap map[string]map[string]int // permission → subject → weight

func (m refMap) copyAdjusted(d int) refMap {
	out := refMap{}
	for p, subs := range m {
		out[p] = map[string]int{}
		for s, w := range subs {
			out[p][s] = w + d
		}
	}
	return out
}

func (m refMap) addAll(o refMap) {
	for p, subs := range o {
		if m[p] == nil {
			m[p] = map[string]int{}
		}
		for s, w := range subs {
			if old, ok := m[p][s]; !ok || w > old {
				m[p][s] = w
			}
		}
	}
}

func (m refMap) removeAll(o refMap) {
	for p, subs := range o {
		for s := range subs {
			delete(m[p], s)
		}
	}
}

func (m refMap) max(subjects []string, p string) (int, bool) {
	best, found := 0, false
	for _, s := range subjects {
		if w, ok := m[p][s]; ok && (!found || w > best) {
			best, found = w, true
		}
	}
	return best, found
}

type refNode struct {
	grant, revoke refMap
	children      map[string]*refNode
}

func newRefNode() *refNode {
	return &refNode{grant: refMap{}, revoke: refMap{}, children: map[string]*refNode{}}
}

func (n *refNode) has(subjects []string, p string) bool {
	g, ok := n.grant.max(subjects, p)
	if !ok {
		return false
	}
	r, ok := n.revoke.max(subjects, p)
	return !ok || r < g
}

type refEnforcer struct{ closure, bottomUpGrant, bottomUpRevoke *refNode }

func newRef(p *Policy, namespace string) *refEnforcer {
	raw := newRefNode()
	for _, label := range p.Labels() {
		e := p.Entries[label]
		if !appliesTo(e.Namespaces, namespace) {
			continue
		}
		subs := map[string]int{}
		for id, s := range e.Subjects {
			if s.Expiry == nil || !s.Expiry.Before(testNow) {
				subs[id] = 0
			}
		}
		for k, perms := range e.Resources {
			n := raw
			for _, seg := range append([]string{k.Type()}, k.Path()...) {
				if n.children[seg] == nil {
					n.children[seg] = newRefNode()
				}
				n = n.children[seg]
			}
			for _, g := range perms.Grant {
				n.grant.addAll(refMap{g: subs})
			}
			for _, r := range perms.Revoke {
				n.revoke.addAll(refMap{r: subs})
			}
		}
	}
	closure := refClosure(raw, newRefNode())
	return &refEnforcer{closure, refBottomUpGrant(closure), refBottomUpRevoke(closure)}
}

func refClosure(n, inherited *refNode) *refNode {
	out := newRefNode()
	out.grant, out.revoke = inherited.grant.copyAdjusted(-1), inherited.revoke.copyAdjusted(-1)
	out.grant.addAll(n.grant)
	out.grant.removeAll(n.revoke)
	out.revoke.removeAll(n.grant)
	out.revoke.addAll(n.revoke)
	for k, c := range n.children {
		out.children[k] = refClosure(c, out)
	}
	return out
}

func refBottomUpGrant(n *refNode) *refNode {
	out := newRefNode()
	out.grant = n.grant.copyAdjusted(0)
	for k, c := range n.children {
		nc := refBottomUpGrant(c)
		out.children[k] = nc
		out.grant.addAll(nc.grant.copyAdjusted(1))
	}
	out.revoke = n.revoke.copyAdjusted(0)
	out.revoke.removeAll(out.grant)
	return out
}

func refBottomUpRevoke(n *refNode) *refNode {
	out := newRefNode()
	out.revoke = n.revoke.copyAdjusted(0)
	for k, c := range n.children {
		nc := refBottomUpRevoke(c)
		out.children[k] = nc
		out.revoke.addAll(nc.revoke.copyAdjusted(1))
	}
	out.grant = n.grant.copyAdjusted(0)
	return out
}

func refSeek(n *refNode, path []string) (*refNode, bool) {
	for _, seg := range path {
		c := n.children[seg]
		if c == nil {
			return n, false
		}
		n = c
	}
	return n, true
}

func (r *refEnforcer) decide(subjects []string, path []string, p string, m mode) bool {
	var first *refNode
	switch m {
	case partial:
		first = r.bottomUpGrant
	case unrestricted:
		first = r.bottomUpRevoke
	}
	if first != nil {
		if n, exact := refSeek(first, path); exact {
			return n.has(subjects, p)
		}
	}
	n, _ := refSeek(r.closure, path)
	return n.has(subjects, p)
}

// view is buildJsonView from the least ancestor of the resource (type + root
// path); values are generic trees.
func (r *refEnforcer) view(subjects []string, path []string, value map[string]any) map[string]any {
	if r.closure.children[path[0]] == nil {
		return map[string]any{}
	}
	n, _ := refSeek(r.closure, path)
	return refObject(n, subjects, value)
}

func refObject(n *refNode, subjects []string, obj map[string]any) map[string]any {
	out := map[string]any{}
	def := &refNode{grant: n.grant, revoke: n.revoke, children: map[string]*refNode{}}
	for k, v := range obj {
		c := n.children[k]
		if c == nil {
			c = def
		}
		if r, ok := refValue(c, subjects, v); ok {
			out[k] = r
		}
	}
	return out
}

func refValue(n *refNode, subjects []string, v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		out := refObject(n, subjects, x)
		return out, len(out) > 0 || n.has(subjects, "READ")
	case []any:
		out := []any{}
		for _, el := range x {
			if r, ok := refValue(n, subjects, el); ok {
				out = append(out, r)
			}
		}
		return out, len(out) > 0 || n.has(subjects, "READ")
	default:
		return v, n.has(subjects, "READ")
	}
}

var (
	refSegs     = []string{"a", "b", "c"}
	refSubjects = []string{"s1", "s2", "s3", "s4"}
	refPerms    = []string{"READ", "WRITE", "EXECUTE"}
)

func randomPolicy(rng *rand.Rand) *Policy {
	p := &Policy{ID: "ns:p"}
	for i := range 1 + rng.IntN(5) {
		var e Entry
		for range 1 + rng.IntN(2) {
			e.SetSubject(refSubjects[rng.IntN(len(refSubjects))], Subject{Type: "t"})
		}
		for range 1 + rng.IntN(4) {
			path := protocol.Pointer{}
			for range rng.IntN(4) {
				path = append(path, refSegs[rng.IntN(len(refSegs))])
			}
			typ := TypeThing
			if rng.IntN(5) == 0 {
				typ = TypePolicy
			}
			var perms Permissions
			for _, perm := range refPerms {
				switch rng.IntN(4) {
				case 0:
					perms.Grant = append(perms.Grant, perm)
				case 1:
					perms.Revoke = append(perms.Revoke, perm)
				case 2:
					perms.Grant = append(perms.Grant, perm)
					perms.Revoke = append(perms.Revoke, perm)
				}
			}
			e.SetResource(NewResourceKey(typ, path), perms)
		}
		if rng.IntN(4) == 0 {
			e.Namespaces = []string{"com.acme.*"}
		}
		p.SetEntry(fmt.Sprintf("e%d", i), e)
	}
	return p
}

func randomValue(rng *rand.Rand, depth int) any {
	if depth == 0 || rng.IntN(4) == 0 {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return "x"
		}
		return []any{"y", map[string]any{"a": 1.0}}
	}
	m := map[string]any{}
	for _, seg := range refSegs {
		if rng.IntN(3) != 0 {
			m[seg] = randomValue(rng, depth-1)
		}
	}
	if rng.IntN(5) == 0 {
		m["list"] = []any{randomValue(rng, depth-1), randomValue(rng, depth-1)}
	}
	return m
}

func allPaths(depth int) [][]string {
	paths := [][]string{{}}
	for d := 0; d < depth; d++ {
		for _, p := range paths {
			if len(p) == d {
				for _, s := range refSegs {
					paths = append(paths, append(append([]string{}, p...), s))
				}
			}
		}
	}
	return paths
}

// TestAgainstReference compares Has, HasPartial, Views and Prune with the
// reference on random policies, for every subject set, path and permission.
func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	paths := allPaths(4)
	rounds := 100
	if testing.Short() {
		rounds = 30
	}
	for round := range rounds {
		p := randomPolicy(rng)
		for _, ns := range []string{"com.acme.x", "org"} {
			ref := newRef(p, ns)
			enf := Compile(p, testNow)
			for set := 1; set < 1<<len(refSubjects); set++ {
				var subjects []string
				for i, s := range refSubjects {
					if set&(1<<i) != 0 {
						subjects = append(subjects, s)
					}
				}
				v := enf.View(subjects, ns)
				for _, typ := range []string{TypeThing, TypePolicy} {
					for _, path := range paths {
						full := append([]string{typ}, path...)
						resource := typ + ":" + protocol.Pointer(path).String()
						for pi, perm := range refPerms {
							for _, m := range []mode{partial, unrestricted} {
								want := ref.decide(subjects, full, perm, m)
								var got, gotView bool
								if m == partial {
									got = enf.HasPartial(subjects, resource, ns, Permission(pi))
									gotView = v.HasPartial(Permission(pi), typ, path)
								} else {
									got = enf.Has(subjects, resource, ns, Permission(pi))
									gotView = v.Has(Permission(pi), typ, path)
								}
								if got != want || gotView != want {
									t.Fatalf("round %d %v %s %s mode %d: enforcer %v view %v reference %v\npolicy %s",
										round, subjects, resource, perm, m, got, gotView, want, p.JSON())
								}
							}
						}
					}
					// prune at the root and at paths the trie has
					val, ok := randomValue(rng, 4).(map[string]any)
					for !ok {
						val, ok = randomValue(rng, 4).(map[string]any)
					}
					for _, path := range paths[:4] {
						full := append([]string{typ}, path...)
						if n, exact := refSeek(ref.closure, full); !exact || n == nil {
							continue
						}
						want := ref.view(subjects, full, val)
						got, ok := v.Prune(typ, path, val)
						g, w := string(protocol.EncodeValue(got)), string(protocol.EncodeValue(want))
						if !ok {
							g = "{}"
						}
						if g != w {
							t.Fatalf("round %d prune %v %s:%v\n got %s\nwant %s\npolicy %s", round, subjects, typ, path, g, w, p.JSON())
						}
					}
				}
			}
		}
	}
}

// Events: SubjectsWithPartial is each subject on its own.
func TestSubjectsWithPartialAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		p := randomPolicy(rng)
		ref := newRef(p, "org")
		enf := Compile(p, testNow)
		for _, path := range allPaths(3) {
			var want []string
			for _, s := range refSubjects {
				if ref.decide([]string{s}, append([]string{TypeThing}, path...), "READ", partial) {
					want = append(want, s)
				}
			}
			got := enf.SubjectsWithPartial("thing:"+protocol.Pointer(path).String(), "org", Read)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("%v: %v, want %v", path, got, want)
			}
		}
	}
}

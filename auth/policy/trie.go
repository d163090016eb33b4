package policy

import "strings"

// none marks "no statement" in a state.
const none = -1

// state is what holds at a node for one subject and one permission, as the
// depths at which the statements were made (the type node has depth 1), so
// that statements of different subjects compare: deeper wins.
type state struct {
	g  int16 // grant in force here (own or inherited), or none
	r  int16 // revoke in force here (own or inherited), or none
	bg int16 // deepest grant in force here or anywhere below
	rr int16 // deepest revoke in force here or anywhere below
}

// node is a trie node: the root (depth 0), a resource type (depth 1) or a
// path segment.
type node struct {
	children map[string]*node
	// st[i*numPermissions+p] is the state of subject i for permission p; nil
	// at the root, where nothing is ever stated.
	st []state
	// own[i*numPermissions+p]: bit 1 granted here, bit 2 revoked here (while
	// building).
	own []uint8
}

// trie is the compiled form of a set of entries.
type trie struct {
	ids  []string       // subject ids by index
	idx  map[string]int // subject id → index
	root *node
}

const (
	ownGrant  = 1
	ownRevoke = 2
)

// buildTrie compiles entries (their subjects already filtered by expiry).
func buildTrie(entries []*compiledEntry) *trie {
	t := &trie{idx: map[string]int{}, root: &node{}}
	for _, e := range entries {
		for _, s := range e.subjects {
			if _, ok := t.idx[s]; !ok {
				t.idx[s] = len(t.ids)
				t.ids = append(t.ids, s)
			}
		}
	}
	n := len(t.ids) * int(numPermissions)
	for _, e := range entries {
		if len(e.subjects) == 0 {
			continue // grants nothing, revokes nothing
		}
		for _, r := range e.resources {
			cur := t.root
			for _, seg := range r.path {
				child := cur.children[seg]
				if child == nil {
					if cur.children == nil {
						cur.children = map[string]*node{}
					}
					child = &node{}
					cur.children[seg] = child
				}
				cur = child
			}
			if cur.own == nil {
				cur.own = make([]uint8, n)
			}
			for _, s := range e.subjects {
				i := t.idx[s] * int(numPermissions)
				for p := range numPermissions {
					if r.grant&(1<<p) != 0 {
						cur.own[i+int(p)] |= ownGrant
					}
					if r.revoke&(1<<p) != 0 {
						cur.own[i+int(p)] |= ownRevoke
					}
				}
			}
		}
	}
	inherited := make([]state, n)
	for i := range inherited {
		inherited[i] = state{g: none, r: none, bg: none, rr: none}
	}
	for _, child := range t.root.children {
		settle(child, 1, inherited)
	}
	return t
}

// settle computes the states of n at depth from the states of its parent:
// at one node a revoke beats a grant (across entries), an own statement
// overrides the inherited one; then it folds the deepest grant and revoke
// of the subtree upwards.
func settle(n *node, depth int16, parent []state) {
	n.st = make([]state, len(parent))
	for i, in := range parent {
		s := state{g: in.g, r: in.r}
		if n.own != nil {
			switch {
			case n.own[i]&ownRevoke != 0:
				s.g, s.r = none, depth
			case n.own[i]&ownGrant != 0:
				s.g, s.r = depth, none
			}
		}
		s.bg, s.rr = s.g, s.r
		n.st[i] = s
	}
	n.own = nil
	for _, c := range n.children {
		settle(c, depth+1, n.st)
		for i, cs := range c.st {
			s := &n.st[i]
			s.bg = max(s.bg, cs.bg)
			s.rr = max(s.rr, cs.rr)
		}
	}
}

// mode is the kind of question asked at a node.
type mode uint8

const (
	full         mode = iota // the permission holds here (and, as no node is below, everywhere below)
	partial                  // some grant here or below (reads)
	unrestricted             // granted here and nothing revoked below (writes)
)

// decide answers for the subjects with indices idx at node n; exact tells
// whether n is the node of the resource itself or only its deepest ancestor
// in the trie (which decides everything below it).
func (n *node) decide(idx []int, p Permission, m mode, exact bool) bool {
	if n.st == nil || p >= numPermissions {
		return false
	}
	if !exact {
		m = full
	}
	g, r := int16(none), int16(none)
	for _, i := range idx {
		s := n.st[i*int(numPermissions)+int(p)]
		switch m {
		case full:
			g, r = max(g, s.g), max(r, s.r)
		case partial:
			// revokes of subjects that have a grant at or below do not count
			if s.bg != none {
				g = max(g, s.bg)
			} else {
				r = max(r, s.r)
			}
		case unrestricted:
			g, r = max(g, s.g), max(r, s.rr)
		}
	}
	return g != none && r < g
}

// seek walks to the node of resource (type + path given as "/a/b" text);
// exact is false when the trie ends above it.
func (t *trie) seek(typ, path string) (n *node, exact bool) {
	n = t.root.children[typ]
	if n == nil {
		return t.root, false
	}
	for path != "" {
		var seg string
		seg, path, _ = strings.Cut(path, "/")
		if seg == "" {
			continue
		}
		c := n.children[seg]
		if c == nil {
			return n, false
		}
		n = c
	}
	return n, true
}

// seekPointer is seek for a parsed path.
func (t *trie) seekPointer(typ string, path []string) (n *node, exact bool) {
	n = t.root.children[typ]
	if n == nil {
		return t.root, false
	}
	for _, seg := range path {
		c := n.children[seg]
		if c == nil {
			return n, false
		}
		n = c
	}
	return n, true
}

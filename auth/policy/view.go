package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"

	"github.com/twinway/twinway/protocol"
)

// View is the decision of one subject set on one namespace under one policy
// revision: a trie of permission bits, with the subtrees that decide nothing
// new folded away. It is immutable and safe for concurrent use.
type View struct {
	root *vnode
	key  string
}

type vnode struct {
	children map[string]*vnode
	bits     uint16 // bit 3*perm+mode: the answer at this node
}

func bit(p Permission, m mode) uint16 { return 1 << (3*uint(p) + uint(m)) }

// newView folds trie t for the subjects with indices idx.
func newView(t *trie, idx []int) *View {
	root := fold(t.root, idx)
	h := sha256.New()
	fingerprint(h, root)
	return &View{root: root, key: hex.EncodeToString(h.Sum(nil))}
}

func fold(n *node, idx []int) *vnode {
	v := &vnode{}
	for p := range numPermissions {
		for _, m := range []mode{full, partial, unrestricted} {
			if n.decide(idx, p, m, true) {
				v.bits |= bit(p, m)
			}
		}
	}
	// Below a node, the trie decides like the node itself does with "full";
	// a child subtree that answers exactly that everywhere is dropped.
	var uniform uint16
	for p := range numPermissions {
		if v.bits&bit(p, full) != 0 {
			uniform |= bit(p, full) | bit(p, partial) | bit(p, unrestricted)
		}
	}
	for seg, c := range n.children {
		vc := fold(c, idx)
		if len(vc.children) == 0 && vc.bits == uniform {
			continue
		}
		if v.children == nil {
			v.children = map[string]*vnode{}
		}
		v.children[seg] = vc
	}
	return v
}

// fingerprint hashes the folded trie canonically (children sorted).
func fingerprint(h hash.Hash, v *vnode) {
	var buf [binary.MaxVarintLen64 + 2]byte
	binary.BigEndian.PutUint16(buf[:2], v.bits)
	n := binary.PutUvarint(buf[2:], uint64(len(v.children)))
	h.Write(buf[:2+n])
	keys := make([]string, 0, len(v.children))
	for k := range v.children {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := binary.PutUvarint(buf[:], uint64(len(k)))
		h.Write(buf[:n])
		h.Write([]byte(k))
		fingerprint(h, v.children[k])
	}
}

// Key identifies the view's decisions: views with the same Key prune every
// value alike and answer every question alike, so one encoded event serves
// all sessions with that Key (of the same thing and event).
func (v *View) Key() string { return v.key }

func (v *View) seek(typ string, path protocol.Pointer) (n *vnode, exact bool) {
	n = v.root.children[typ]
	if n == nil {
		return v.root, false
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

func (v *View) decide(p Permission, m mode, typ string, path protocol.Pointer) bool {
	n, exact := v.seek(typ, path)
	if !exact {
		m = full
	}
	return p < numPermissions && n.bits&bit(p, m) != 0
}

// Has tells whether the view holds perm on the resource without restriction
// (granted there, revoked nowhere below).
func (v *View) Has(perm Permission, typ string, path protocol.Pointer) bool {
	return v.decide(perm, unrestricted, typ, path)
}

// HasPartial tells whether the view holds perm on the resource or somewhere
// below it.
func (v *View) HasPartial(perm Permission, typ string, path protocol.Pointer) bool {
	return v.decide(perm, partial, typ, path)
}

// CanRead is partial READ: something at or below path is readable.
func (v *View) CanRead(typ string, path protocol.Pointer) bool {
	return v.decide(Read, partial, typ, path)
}

// CanWrite is unrestricted WRITE.
func (v *View) CanWrite(typ string, path protocol.Pointer) bool {
	return v.decide(Write, unrestricted, typ, path)
}

// CanExecute is unrestricted EXECUTE.
func (v *View) CanExecute(typ string, path protocol.Pointer) bool {
	return v.decide(Execute, unrestricted, typ, path)
}

// Prune narrows value, found at root of a resource of type typ, to what the
// view may read, as Ditto's buildJsonView does: a scalar stays where READ
// holds; an object keeps its readable members and stays if any remain or if
// READ holds on it (then possibly empty); array elements are judged at the
// array's own node. It reports whether anything readable remains. value is a
// generic JSON tree (map[string]any, []any, json.Number, string, bool, nil);
// it is never modified, and readable subtrees are shared, not copied. Prune
// adds nothing: the fields an event or retrieve always shows (thingId,
// _namespace, _revision, _modified, _created) are the caller's to put back.
func (v *View) Prune(typ string, root protocol.Pointer, value any) (any, bool) {
	n, exact := v.seek(typ, root)
	if n == v.root {
		return nil, false
	}
	return prune(n, exact, value)
}

func prune(n *vnode, inside bool, value any) (any, bool) {
	readable := n.bits&bit(Read, full) != 0
	if !inside || len(n.children) == 0 {
		if readable {
			return value, true
		}
		return nil, false
	}
	switch x := value.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if c := n.children[k]; c != nil {
				if r, ok := prune(c, true, val); ok {
					out[k] = r
				}
			} else if readable {
				out[k] = val
			}
		}
		if len(out) == 0 && !readable {
			return nil, false
		}
		return out, true
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			if r, ok := prune(n, true, el); ok {
				out = append(out, r)
			}
		}
		if len(out) == 0 && !readable {
			return nil, false
		}
		return out, true
	default:
		if readable {
			return value, true
		}
		return nil, false
	}
}

package twin

import (
	"hash/fnv"
	"strconv"

	"github.com/twinway/twinway/protocol"
)

// getAt returns the value at p below v.
func getAt(v any, p protocol.Pointer) (any, bool) {
	for _, k := range p {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// setAt sets the value at p (not the root) below obj, creating objects on the
// way and replacing non-objects that stand in the way.
func setAt(obj map[string]any, p protocol.Pointer, value any) {
	for _, k := range p[:len(p)-1] {
		next, ok := obj[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[k] = next
		}
		obj = next
	}
	obj[p[len(p)-1]] = value
}

// deleteAt removes the value at p (not the root) and reports whether it existed.
func deleteAt(obj map[string]any, p protocol.Pointer) bool {
	parent, ok := getAt(obj, p[:len(p)-1])
	if !ok {
		return false
	}
	m, ok := parent.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := m[p[len(p)-1]]; !ok {
		return false
	}
	delete(m, p[len(p)-1])
	return true
}

// mergePatch applies an RFC 7396 JSON merge patch to target and returns the
// result; target may be modified in place.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// withoutNulls returns v with every null member of every object removed, as
// Ditto does when a merge patch creates a thing (ModifyToCreateThingTransformer
// #filterOutNullValues): null elements of arrays are dropped too, and objects
// inside arrays are cleaned the same way; arrays inside arrays are kept as
// they are.
func withoutNulls(v any) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, child := range obj {
		switch c := child.(type) {
		case nil:
			delete(obj, k)
		case []any:
			kept := make([]any, 0, len(c))
			for _, e := range c {
				switch e.(type) {
				case nil:
				case map[string]any:
					kept = append(kept, withoutNulls(e))
				default:
					kept = append(kept, e)
				}
			}
			obj[k] = kept
		default:
			obj[k] = withoutNulls(child)
		}
	}
	return obj
}

// hashETag is the entity tag of a sub-resource: a hash of its JSON.
func hashETag(v any) string {
	h := fnv.New64a()
	h.Write(protocol.EncodeValue(v))
	return `"hash:` + strconv.FormatUint(h.Sum64(), 16) + `"`
}

// revisionETag is the entity tag of a whole thing.
func revisionETag(rev int64) string { return `"rev:` + strconv.FormatInt(rev, 10) + `"` }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

package protocol

import (
	"reflect"
	"strings"
)

// FieldSelector is a parsed Ditto field selector such as
// "thingId,attributes/location(latitude,longitude),features/*/properties/on":
// a list of pointers, parentheses expanded. A "*" key matches every key at
// its level.
type FieldSelector []Pointer

// MaxFieldSelectorLength bounds the text parsed, so a hostile selector cannot
// make parsing expensive.
const MaxFieldSelectorLength = 4096

// maxFieldSelectorDepth bounds the nesting of groups: a thing is rarely
// deeper, and deep nesting would cost memory quadratic in the depth.
const maxFieldSelectorDepth = 32

// ParseFieldSelector parses s. Syntax errors are json.fieldselector.invalid.
func ParseFieldSelector(s string) (FieldSelector, error) {
	bad := func(why string) (FieldSelector, error) {
		return nil, Errorf(CodeFieldSelectorInv, "The field selector <%s> is not valid: %s.", s, why)
	}
	if len(s) > MaxFieldSelectorLength {
		return bad("it is too long")
	}
	var out FieldSelector
	// prefixes holds, per open parenthesis, the pointer the group extends.
	prefixes := []Pointer{{}}
	var current strings.Builder
	var last Pointer // the pointer of the item just closed, for "a(b)" groups
	flush := func() error {
		text := strings.Trim(strings.TrimSpace(current.String()), "/")
		current.Reset()
		if text == "" {
			return nil
		}
		ptr := prefixes[len(prefixes)-1].Append()
		for _, k := range strings.Split(text, "/") {
			if k == "" {
				return Errorf(CodeFieldSelectorInv, "The field selector <%s> is not valid: it contains consecutive slashes.", s)
			}
			ptr = append(ptr, k)
		}
		out = append(out, ptr)
		last = ptr
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',':
			if err := flush(); err != nil {
				return nil, err
			}
			last = nil
		case '(':
			if err := flush(); err != nil {
				return nil, err
			}
			if last == nil {
				return bad("a group must follow a field name")
			}
			if len(prefixes) > maxFieldSelectorDepth {
				return bad("it nests groups too deeply")
			}
			// The group replaces the plain item: "a(b,c)" selects a/b and a/c.
			out = out[:len(out)-1]
			prefixes = append(prefixes, last)
			last = nil
		case ')':
			if err := flush(); err != nil {
				return nil, err
			}
			if len(prefixes) == 1 {
				return bad("unbalanced parentheses")
			}
			prefixes = prefixes[:len(prefixes)-1]
			last = nil
		default:
			current.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(prefixes) != 1 {
		return bad("unbalanced parentheses")
	}
	if len(out) == 0 {
		return bad("it selects no field")
	}
	return out, nil
}

// Roots returns the first key of every selected pointer.
func (fs FieldSelector) Roots() []string {
	roots := make([]string, 0, len(fs))
	for _, p := range fs {
		roots = append(roots, p[0])
	}
	return roots
}

// Select returns the parts of value that fs selects, as a new object sharing
// leaf values with value. A non-object value is returned as it is.
func (fs FieldSelector) Select(value any) any {
	obj, ok := value.(map[string]any)
	if !ok {
		return value
	}
	out := map[string]any{}
	for _, p := range fs {
		selectInto(out, obj, p)
	}
	return out
}

func selectInto(dst, src map[string]any, p Pointer) {
	if len(p) == 0 {
		return
	}
	keys := []string{p[0]}
	if p[0] == "*" {
		keys = keys[:0]
		for k := range src {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		v, ok := src[k]
		if !ok {
			continue
		}
		if len(p) == 1 {
			dst[k] = v
			continue
		}
		child, ok := v.(map[string]any)
		if !ok {
			continue
		}
		sub, _ := dst[k].(map[string]any)
		if sub != nil && sameMap(sub, child) {
			// An earlier pointer selected k whole; sub is the input's own
			// map, which must not be written to (it may be shared).
			continue
		}
		if sub == nil {
			sub = map[string]any{}
		}
		selectInto(sub, child, p[1:])
		if len(sub) > 0 {
			dst[k] = sub
		}
	}
}

// sameMap tells whether a and b are the same map (not merely equal ones).
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

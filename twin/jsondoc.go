package twin

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"unicode/utf8"

	"github.com/twinway/twinway/protocol"
)

// decodeValue is protocol.DecodeValue, faster: documents and values in the
// plain form protocol.EncodeValue writes (no escapes in strings, valid
// UTF-8) are read by treeDecoder, which allocates only the tree it builds;
// anything else is left to protocol.DecodeValue, which defines the result.
// Every write decodes the thing it starts from and its command's value, so
// this is on the hot path.
func decodeValue(raw []byte) (any, error) {
	d := treeDecoder{data: raw}
	d.skipSpace()
	if v, ok := d.value(0); ok {
		if d.skipSpace(); d.pos == len(d.data) {
			return v, nil
		}
	}
	return protocol.DecodeValue(raw)
}

// maxTreeDepth bounds the nesting treeDecoder follows; deeper documents go
// to protocol.DecodeValue.
const maxTreeDepth = 100

// treeDecoder reads a JSON value into a tree as protocol.DecodeValue does
// (objects map[string]any, arrays []any, numbers json.Number with their
// text, strings, booleans, nil). It gives up (false) on whatever it does not
// read exactly alike: an escape or a control character in a string, invalid
// UTF-8, invalid JSON.
type treeDecoder struct {
	data []byte
	pos  int
}

func (d *treeDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *treeDecoder) value(depth int) (any, bool) {
	if d.pos >= len(d.data) || depth > maxTreeDepth {
		return nil, false
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		d.pos++
		obj := map[string]any{}
		d.skipSpace()
		if d.consume('}') {
			return obj, true
		}
		for {
			d.skipSpace()
			k, ok := d.str()
			if !ok {
				return nil, false
			}
			d.skipSpace()
			if !d.consume(':') {
				return nil, false
			}
			d.skipSpace()
			v, ok := d.value(depth + 1)
			if !ok {
				return nil, false
			}
			obj[k] = v
			d.skipSpace()
			if d.consume(',') {
				continue
			}
			return obj, d.consume('}')
		}
	case c == '[':
		d.pos++
		arr := []any{}
		d.skipSpace()
		if d.consume(']') {
			return arr, true
		}
		for {
			d.skipSpace()
			v, ok := d.value(depth + 1)
			if !ok {
				return nil, false
			}
			arr = append(arr, v)
			d.skipSpace()
			if d.consume(',') {
				continue
			}
			return arr, d.consume(']')
		}
	case c == '"':
		return d.str()
	case c == '-' || ('0' <= c && c <= '9'):
		start := d.pos
		for d.pos < len(d.data) && isNumberByte(d.data[d.pos]) {
			d.pos++
		}
		if !isJSONNumber(d.data[start:d.pos]) {
			return nil, false
		}
		return json.Number(d.data[start:d.pos]), true
	}
	for _, lit := range [...]struct {
		text  string
		value any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if end := d.pos + len(lit.text); end <= len(d.data) && string(d.data[d.pos:end]) == lit.text {
			d.pos = end
			return lit.value, true
		}
	}
	return nil, false
}

func (d *treeDecoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (d *treeDecoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start := d.pos
	ascii := true
	for ; d.pos < len(d.data); d.pos++ {
		switch c := d.data[d.pos]; {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// isJSONNumber reports whether b is exactly a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i - start
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

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

package mongostore

import (
	"errors"
	"strings"
)

// Key escaping. MongoDB gives '.' and a leading '$' in field names a meaning
// of their own (paths and operators), cannot store NUL in a field name, and
// reads a path component made of digits as an array index. Every key of a
// thing's JSON, at every depth, is therefore stored escaped, and every
// property path of a search is escaped the same way, so that the two meet:
//
//	'~'  → "~0"   (the escape character itself)
//	'$'  → "~1"   (anywhere in the key, not only leading)
//	'.'  → "~2"
//	NUL  → "~3"
//	a key that is empty or starts with a digit [0-9] gets the prefix "~4"
//
// The first three are Ditto's own (KeyEscapeUtil). The escape is injective:
// in an escaped key every '~' starts one of these pairs, so UnescapeKey
// reads it back exactly. An escaped key is never empty, never contains '.',
// '$' or NUL, and never starts with a digit.

// EscapeKey escapes one JSON object key for use as a MongoDB field name.
func EscapeKey(k string) string {
	needs := k == "" || (k[0] >= '0' && k[0] <= '9')
	for i := 0; i < len(k) && !needs; i++ {
		switch k[i] {
		case '~', '$', '.', 0:
			needs = true
		}
	}
	if !needs {
		return k
	}
	var b strings.Builder
	b.Grow(len(k) + 4)
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		b.WriteString("~4")
	}
	for i := 0; i < len(k); i++ {
		switch c := k[i]; c {
		case '~':
			b.WriteString("~0")
		case '$':
			b.WriteString("~1")
		case '.':
			b.WriteString("~2")
		case 0:
			b.WriteString("~3")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var errBadEscape = errors.New("mongostore: malformed escaped key")

// UnescapeKey is the inverse of EscapeKey. It fails on text EscapeKey
// cannot produce.
func UnescapeKey(e string) (string, error) {
	if !strings.Contains(e, "~") {
		if e == "" || (e[0] >= '0' && e[0] <= '9') || strings.ContainsAny(e, "$.\x00") {
			return "", errBadEscape
		}
		return e, nil
	}
	var b strings.Builder
	b.Grow(len(e))
	for i := 0; i < len(e); i++ {
		c := e[i]
		switch c {
		case '$', '.', 0:
			return "", errBadEscape
		case '~':
		default:
			if i == 0 && c >= '0' && c <= '9' {
				return "", errBadEscape
			}
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(e) {
			return "", errBadEscape
		}
		i++
		switch e[i] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('$')
		case '2':
			b.WriteByte('.')
		case '3':
			b.WriteByte(0)
		case '4':
			// Only as the prefix, and only where it was needed.
			rest := e[i+1:]
			if i != 1 || (rest != "" && !(rest[0] >= '0' && rest[0] <= '9')) {
				return "", errBadEscape
			}
		default:
			return "", errBadEscape
		}
	}
	return b.String(), nil
}

// escapePath joins escaped keys into a dotted MongoDB path below prefix
// ("t", "f.v", "s").
func escapePath(prefix string, keys []string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, k := range keys {
		b.WriteByte('.')
		b.WriteString(EscapeKey(k))
	}
	return b.String()
}

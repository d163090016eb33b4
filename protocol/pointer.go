package protocol

import (
	"strings"
	"unicode/utf8"
)

// MaxKeyLength is the longest JSON key, feature id or pointer segment Ditto accepts.
const MaxKeyLength = 256

// Pointer is a JSON pointer as Ditto uses it: keys separated by '/'. Keys
// cannot contain '/', so no ~0/~1 escaping is involved. The root is empty.
type Pointer []string

// ParsePointer parses a pointer. The leading '/' is optional and a trailing '/'
// is ignored; consecutive slashes are json.pointer.invalid, invalid keys
// json.key.invalid (as Ditto reports the key).
func ParsePointer(s string) (Pointer, error) {
	trimmed := strings.TrimSuffix(strings.TrimPrefix(s, "/"), "/")
	if trimmed == "" {
		if strings.Contains(s, "//") {
			return nil, Errorf(CodeJSONPointerInvalid, "JSON pointer <%s> is invalid: consecutive slashes are not supported.", s)
		}
		return Pointer{}, nil
	}
	p := Pointer(strings.Split(trimmed, "/"))
	for _, k := range p {
		if k == "" {
			return nil, Errorf(CodeJSONPointerInvalid, "JSON pointer <%s> is invalid: consecutive slashes are not supported.", s)
		}
		if err := ValidateKey(k); err != nil {
			return nil, err // Ditto reports the key itself: json.key.invalid
		}
	}
	return p, nil
}

// String formats p with a leading '/'; the root is "/".
func (p Pointer) String() string {
	if len(p) == 0 {
		return "/"
	}
	return "/" + strings.Join(p, "/")
}

// IsRoot tells whether p points at the whole document.
func (p Pointer) IsRoot() bool { return len(p) == 0 }

// Append returns p with keys added, never sharing p's array.
func (p Pointer) Append(keys ...string) Pointer {
	out := make(Pointer, 0, len(p)+len(keys))
	return append(append(out, p...), keys...)
}

// ValidateKey checks a JSON key, feature id or pointer segment against Ditto's
// rule ^[^\x00-\x1F\x7F-\xFF/]+$, at most 256 characters.
func ValidateKey(k string) *Error {
	if k == "" {
		return Errorf(CodeJSONKeyInvalid, "The JSON key <> is invalid!").WithDescription("A JSON key must not be empty.")
	}
	if utf8.RuneCountInString(k) > MaxKeyLength {
		return Errorf(CodeJSONKeyInvalid, "The JSON key <%s> is invalid!", k).WithDescription("Not allowed to exceed length of 256.")
	}
	if !utf8.ValidString(k) {
		return Errorf(CodeJSONKeyInvalid, "The JSON key <%s> is invalid!", k).WithDescription("A JSON key must be valid UTF-8.")
	}
	for _, r := range k {
		if r <= 0x1F || (r >= 0x7F && r <= 0xFF) || r == '/' {
			return Errorf(CodeJSONKeyInvalid, "The JSON key <%s> is invalid!", k).WithDescription("Neither slashes nor any control characters are allowed.")
		}
	}
	return nil
}

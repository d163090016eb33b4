package policy

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twinway/twinway/protocol"
)

// Reading JSON members in document order, and Ditto's wording of JSON errors.

func typeError(raw json.RawMessage, ptr, typ string) error {
	return protocol.Errorf(protocol.CodeJSONInvalid, "Value <%s> for <%s> is not of type <%s>!", compact(raw), ptr, typ)
}

func stringField(raw json.RawMessage, ptr string) (string, error) {
	var s string
	if kind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", typeError(raw, ptr, "String")
	}
	return s, nil
}

// field is one member of a JSON object, in document order.
type field struct {
	key   string
	value json.RawMessage
}

// objectFields splits a JSON object into its members in order.
func objectFields(data []byte, at string) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	bad := func() error {
		return protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", preview(data))
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, bad()
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if at == "" {
			at = "/"
		}
		return nil, typeError(json.RawMessage(data), at, "JsonObject")
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad()
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, bad()
		}
		out = append(out, field{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad()
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad()
	}
	return out, nil
}

// lookup finds the last member named key (a repeated key: the last wins).
func lookup(fields []field, key string) (json.RawMessage, bool) {
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i].key == key {
			return fields[i].value, true
		}
	}
	return nil, false
}

// kind is the first byte of a JSON value: '{', '[', '"', 'n', 't', 'f' or a
// digit/minus for numbers.
func kind(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func isNull(raw []byte) bool { return kind(raw) == 'n' }

func compact(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func preview(data []byte) string {
	const max = 100
	s := strings.TrimSpace(string(data))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// utf16Len is the length of s as a Java string.
func utf16Len(s []byte) int {
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		s = s[size:]
		if r >= 0x10000 {
			n += 2 // a surrogate pair
		} else {
			n++
		}
	}
	return n
}

// formatKB formats bytes/1024 as Java's MessageFormat does a double: at most
// three fraction digits, grouped thousands.
func formatKB(n int) string {
	s := strconv.FormatFloat(float64(n)/1024, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

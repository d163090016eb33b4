package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Envelope is one Ditto Protocol message (SPEC.md §1). Value and Extra keep
// their raw JSON: nil means absent, the text null means an explicit null.
// Revision 0 and Status 0 mean absent.
type Envelope struct {
	Topic     string          `json:"topic"`
	Headers   Headers         `json:"headers"`
	Path      string          `json:"path"`
	Value     json.RawMessage `json:"value,omitempty"`
	Fields    string          `json:"fields,omitempty"`
	Extra     json.RawMessage `json:"extra,omitempty"`
	Status    int             `json:"status,omitempty"`
	Revision  int64           `json:"revision,omitempty"`
	Timestamp string          `json:"timestamp,omitempty"`
}

// wireEnvelope is what DecodeEnvelope reads: pointers tell present from absent.
type wireEnvelope struct {
	Topic     *string         `json:"topic"`
	Headers   Headers         `json:"headers"`
	Path      *string         `json:"path"`
	Value     json.RawMessage `json:"value"`
	Fields    *string         `json:"fields"`
	Extra     json.RawMessage `json:"extra"`
	Status    *int            `json:"status"`
	Revision  *int64          `json:"revision"`
	Timestamp *string         `json:"timestamp"`
}

// DecodeEnvelope parses one protocol message. It never panics; errors are
// json.invalid (not JSON, not an object), json.field.missing (no topic) and
// json.format.invalid (a field of the wrong type).
//
// Every command a session sends goes through here, so the common shape (the
// known fields in lower case, once each, headers with plain names) is read by
// a hand-written scanner, decodeEnvelopeFast; anything else, errors
// included, is left to encoding/json, which defines the result.
func DecodeEnvelope(data []byte) (Envelope, error) {
	if env, ok := decodeEnvelopeFast(data); ok {
		return env, nil
	}
	return decodeEnvelopeJSON(data)
}

// decodeEnvelopeJSON is DecodeEnvelope by encoding/json.
func decodeEnvelopeJSON(data []byte) (Envelope, error) {
	trimmed := bytes.Trim(data, " \t\r\n") // JSON's whitespace only, not \f, \v or NBSP
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return Envelope{}, Errorf(CodeJSONInvalid, "Failed to parse JSON string '%s'!", preview(trimmed))
	}
	var w wireEnvelope
	if err := json.Unmarshal(trimmed, &w); err != nil {
		if e, ok := err.(*Error); ok {
			return Envelope{}, e
		}
		field := "?"
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			field = te.Field
		}
		return Envelope{}, Errorf(CodeJSONFormatInvalid, "The field </%s> has the wrong type.", field)
	}
	if w.Topic == nil {
		return Envelope{}, Errorf(CodeJSONFieldMissing, "JSON did not include required </topic> field!")
	}
	env := Envelope{Topic: *w.Topic, Headers: w.Headers, Path: "/", Value: w.Value, Extra: w.Extra}
	if env.Headers == nil {
		env.Headers = Headers{}
	}
	if w.Path != nil {
		env.Path = *w.Path
	}
	if w.Fields != nil {
		env.Fields = *w.Fields
	}
	if w.Status != nil {
		env.Status = *w.Status
	}
	if w.Revision != nil {
		env.Revision = *w.Revision
	}
	if w.Timestamp != nil {
		env.Timestamp = *w.Timestamp
	}
	return env, nil
}

// The envelope fields decodeEnvelopeFast reads, as bits of a seen-set.
const (
	fieldTopic = 1 << iota
	fieldHeaders
	fieldPath
	fieldValue
	fieldFields
	fieldExtra
	fieldStatus
	fieldRevision
	fieldTimestamp
)

// decodeEnvelopeFast decodes the common shape of an envelope without
// reflection and reports whether it could. It gives up (false) on anything
// it does not read exactly as encoding/json would: an unknown or repeated
// field, a name in another case, an escape in a name, a string field with an
// escape, a control character or invalid UTF-8, a number that is not a
// plain integer, a header name repeated in another case, a type error,
// invalid JSON. The caller then decodes with encoding/json, so the result is
// the same either way; only the cost differs.
func decodeEnvelopeFast(data []byte) (Envelope, bool) {
	d := fastDecoder{data: data}
	d.skipSpace()
	if !d.consume('{') {
		return Envelope{}, false
	}
	env := Envelope{Path: "/"}
	seen := 0
	d.skipSpace()
	if !d.consume('}') {
		for {
			d.skipSpace()
			name, ok := d.plainString()
			if !ok {
				return Envelope{}, false
			}
			d.skipSpace()
			if !d.consume(':') {
				return Envelope{}, false
			}
			d.skipSpace()
			field := 0
			switch string(name) {
			case "topic":
				field = fieldTopic
				var null bool
				if env.Topic, null, ok = d.stringField(); !ok || null {
					return Envelope{}, false // null: no topic
				}
			case "headers":
				field = fieldHeaders
				if env.Headers, ok = d.headers(); !ok {
					return Envelope{}, false
				}
			case "path":
				field = fieldPath
				var null bool
				if env.Path, null, ok = d.stringField(); !ok {
					return Envelope{}, false
				}
				if null {
					env.Path = "/"
				}
			case "value":
				field = fieldValue
				if env.Value, ok = d.rawValue(); !ok {
					return Envelope{}, false
				}
			case "fields":
				field = fieldFields
				if env.Fields, _, ok = d.stringField(); !ok {
					return Envelope{}, false
				}
			case "extra":
				field = fieldExtra
				if env.Extra, ok = d.rawValue(); !ok {
					return Envelope{}, false
				}
			case "status":
				field = fieldStatus
				var n int64
				if n, ok = d.integer(); !ok {
					return Envelope{}, false
				}
				env.Status = int(n)
			case "revision":
				field = fieldRevision
				if env.Revision, ok = d.integer(); !ok {
					return Envelope{}, false
				}
			case "timestamp":
				field = fieldTimestamp
				if env.Timestamp, _, ok = d.stringField(); !ok {
					return Envelope{}, false
				}
			default:
				return Envelope{}, false
			}
			if seen&field != 0 {
				return Envelope{}, false
			}
			seen |= field
			d.skipSpace()
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				break
			}
			return Envelope{}, false
		}
	}
	d.skipSpace()
	if d.pos != len(d.data) || seen&fieldTopic == 0 {
		return Envelope{}, false
	}
	if env.Headers == nil {
		env.Headers = Headers{}
	}
	return env, true
}

// fastDecoder is decodeEnvelopeFast's cursor over the message.
type fastDecoder struct {
	data []byte
	pos  int
}

// skipSpace skips JSON's whitespace.
func (d *fastDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *fastDecoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// plainString reads a string without escapes or control characters, in
// valid UTF-8, and returns its content (a slice of the message).
func (d *fastDecoder) plainString() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.pos
	ascii := true
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return nil, false
}

// stringField reads a plain string or null.
func (d *fastDecoder) stringField() (s string, null, ok bool) {
	if d.literal("null") {
		return "", true, true
	}
	b, ok := d.plainString()
	return string(b), false, ok
}

// literal consumes word when it comes next, followed by a delimiter.
func (d *fastDecoder) literal(word string) bool {
	end := d.pos + len(word)
	if end > len(d.data) || string(d.data[d.pos:end]) != word {
		return false
	}
	if end < len(d.data) && !isDelimiter(d.data[end]) {
		return false
	}
	d.pos = end
	return true
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', '}', ']', ':':
		return true
	}
	return false
}

// integer reads a JSON integer that fits an int64, or null (0).
func (d *fastDecoder) integer() (int64, bool) {
	if d.literal("null") {
		return 0, true
	}
	start := d.pos
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		d.pos++
	}
	digits := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	n := d.pos - digits
	if n == 0 || n > 18 || (d.data[digits] == '0' && n > 1) {
		return 0, false
	}
	if d.pos < len(d.data) && !isDelimiter(d.data[d.pos]) {
		return 0, false // a fraction, an exponent or garbage
	}
	v, err := strconv.ParseInt(string(d.data[start:d.pos]), 10, 64)
	return v, err == nil
}

// rawValue reads any JSON value and returns a copy of its text, as
// json.RawMessage keeps it.
func (d *fastDecoder) rawValue() (json.RawMessage, bool) {
	start := d.pos
	if !d.skipValue(0) {
		return nil, false
	}
	v := d.data[start:d.pos]
	if !json.Valid(v) {
		return nil, false
	}
	return bytes.Clone(v), true
}

// maxFastDepth bounds the nesting skipValue follows; deeper values go to
// encoding/json.
const maxFastDepth = 64

// skipValue moves past one JSON value, finding its end; json.Valid then
// checks it.
func (d *fastDecoder) skipValue(depth int) bool {
	if d.pos >= len(d.data) || depth > maxFastDepth {
		return false
	}
	switch c := d.data[d.pos]; c {
	case '"':
		d.pos++
		for d.pos < len(d.data) {
			switch d.data[d.pos] {
			case '\\':
				d.pos += 2
				continue
			case '"':
				d.pos++
				return true
			}
			d.pos++
		}
		return false
	case '{', '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		d.pos++
		d.skipSpace()
		if d.consume(closing) {
			return true
		}
		for {
			d.skipSpace()
			if c == '{' {
				if !d.skipValue(depth + 1) { // the name
					return false
				}
				d.skipSpace()
				if !d.consume(':') {
					return false
				}
				d.skipSpace()
			}
			if !d.skipValue(depth + 1) {
				return false
			}
			d.skipSpace()
			if d.consume(',') {
				continue
			}
			return d.consume(closing)
		}
	default:
		// A number or a literal: up to the next delimiter.
		start := d.pos
		for d.pos < len(d.data) && !isDelimiter(d.data[d.pos]) {
			d.pos++
		}
		return d.pos > start
	}
}

// headers reads the headers object (null: none) as Headers.UnmarshalJSON
// does: names lower-cased, strings decoded, other values kept as JSON text.
func (d *fastDecoder) headers() (Headers, bool) {
	if d.literal("null") {
		return Headers{}, true
	}
	if !d.consume('{') {
		return nil, false
	}
	h := make(Headers, 4)
	d.skipSpace()
	if d.consume('}') {
		return h, true
	}
	for {
		d.skipSpace()
		name, ok := d.plainString()
		if !ok {
			return nil, false
		}
		d.skipSpace()
		if !d.consume(':') {
			return nil, false
		}
		d.skipSpace()
		var value string
		if d.pos < len(d.data) && d.data[d.pos] == '"' {
			s, ok := d.plainString()
			if !ok {
				return nil, false
			}
			value = string(s)
		} else {
			raw, ok := d.rawValue()
			if !ok || !utf8.Valid(raw) {
				return nil, false
			}
			value = string(raw)
		}
		key := lowerASCII(name)
		if _, dup := h[key]; dup {
			// encoding/json's outcome depends on map order here.
			return nil, false
		}
		h[key] = value
		d.skipSpace()
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			return h, true
		}
		return nil, false
	}
}

// lowerASCII is strings.ToLower(string(b)), allocating once.
func lowerASCII(b []byte) string {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return strings.ToLower(string(b))
		}
	}
	out := []byte(string(b)) // no-op conversions keep it one allocation
	for i, c := range out {
		if 'A' <= c && c <= 'Z' {
			out[i] = c + 'a' - 'A'
		}
	}
	return string(out)
}

// preview shortens s for an error message.
func preview(s []byte) string {
	const max = 64
	if len(s) <= max {
		return string(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return string(s[:cut]) + "…"
}

// MarshalJSON writes the envelope in Ditto's field order. It is hand-written
// because every response and event goes through it.
func (e Envelope) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

// AppendJSON appends the envelope's JSON to dst.
func (e Envelope) AppendJSON(dst []byte) []byte {
	b := append(dst, `{"topic":`...)
	b = appendJSONString(b, e.Topic)
	b = append(b, `,"headers":`...)
	b = e.Headers.appendJSON(b)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	if e.Value != nil {
		b = append(b, `,"value":`...)
		b = append(b, e.Value...)
	}
	if e.Fields != "" {
		b = append(b, `,"fields":`...)
		b = appendJSONString(b, e.Fields)
	}
	if e.Extra != nil {
		b = append(b, `,"extra":`...)
		b = append(b, e.Extra...)
	}
	if e.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
	}
	if e.Revision != 0 {
		b = append(b, `,"revision":`...)
		b = strconv.AppendInt(b, e.Revision, 10)
	}
	if e.Timestamp != "" {
		b = append(b, `,"timestamp":`...)
		b = appendJSONString(b, e.Timestamp)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD
// as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

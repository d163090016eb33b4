package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
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
func DecodeEnvelope(data []byte) (Envelope, error) {
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
	b := bytes.NewBuffer(dst)
	b.WriteString(`{"topic":`)
	writeJSONString(b, e.Topic)
	b.WriteString(`,"headers":`)
	e.Headers.appendJSON(b)
	b.WriteString(`,"path":`)
	writeJSONString(b, e.Path)
	if e.Value != nil {
		b.WriteString(`,"value":`)
		b.Write(e.Value)
	}
	if e.Fields != "" {
		b.WriteString(`,"fields":`)
		writeJSONString(b, e.Fields)
	}
	if e.Extra != nil {
		b.WriteString(`,"extra":`)
		b.Write(e.Extra)
	}
	if e.Status != 0 {
		b.WriteString(`,"status":`)
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Revision != 0 {
		b.WriteString(`,"revision":`)
		b.WriteString(strconv.FormatInt(e.Revision, 10))
	}
	if e.Timestamp != "" {
		b.WriteString(`,"timestamp":`)
		writeJSONString(b, e.Timestamp)
	}
	b.WriteByte('}')
	return b.Bytes()
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD as
// encoding/json does.
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

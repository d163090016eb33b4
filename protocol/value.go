package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// JSON values (a thing, an attribute, an event's value) are handled as
// generic trees: map[string]any for objects, []any, string, bool, nil and
// json.Number for numbers, so that numbers keep their exact text.

// DecodeValue parses data into a generic tree keeping numbers exact.
func DecodeValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailingData
	}
	return v, nil
}

var errTrailingData = Errorf(CodeJSONInvalid, "The JSON has data after its end.")

// EncodeValue writes a tree as compact JSON (object keys sorted).
func EncodeValue(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Trees come from DecodeValue and hold only encodable values.
		return []byte("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// FormatInstant formats t as Java's Instant.toString does, which is what
// Ditto's clients see in timestamps: UTC, and the fraction in groups of three
// digits (none, milliseconds or microseconds) as precision needs.
func FormatInstant(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	base := t.Format("2006-01-02T15:04:05")
	us := t.Nanosecond() / 1000
	switch {
	case us == 0:
		return base + "Z"
	case us%1000 == 0:
		return base + "." + pad(us/1000, 3) + "Z"
	default:
		return base + "." + pad(us, 6) + "Z"
	}
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

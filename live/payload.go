package live

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/twinway/twinway/protocol"
)

// PayloadKind is how a message payload of some content type travels in an
// envelope's value (Ditto's ContentType parsing strategy).
type PayloadKind uint8

const (
	// PayloadBinary: any other content type (or none); the value is a base64
	// string of the bytes.
	PayloadBinary PayloadKind = iota
	// PayloadText: text/*, application/javascript, application/ecmascript
	// (also with a +javascript / +ecmascript suffix); the value is a string.
	PayloadText
	// PayloadJSON: application/json and application/…+json; the value is the
	// JSON itself.
	PayloadJSON
)

// Ditto's ContentType patterns, matched against the lower-cased media type
// (the content type before its first ';'). Text is tried first.
var (
	textMediaType = regexp.MustCompile(`^(?:text/.*|application/(?:.+\+)?(?:javascript|ecmascript))$`)
	jsonMediaType = regexp.MustCompile(`^application/(?:.+\+)?json$`)
)

const mergePatchMediaType = "application/merge-patch+json"

// KindOf is the payload kind of contentType. application/merge-patch+json is
// binary for messages: Ditto gives it a strategy of its own that its message
// serializer treats as neither text nor JSON.
func KindOf(contentType string) PayloadKind {
	mediaType := mediaTypeOf(contentType)
	switch {
	case mediaType == mergePatchMediaType:
		return PayloadBinary
	case textMediaType.MatchString(mediaType):
		return PayloadText
	case jsonMediaType.MatchString(mediaType):
		return PayloadJSON
	}
	return PayloadBinary
}

// mediaTypeOf is the lower-cased content type before its first ';'. Ditto
// does not trim it; surrounding blanks are trimmed here, as HTTP allows them.
func mediaTypeOf(contentType string) string {
	mediaType, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	return strings.TrimSpace(mediaType)
}

// ValueFromBody is the envelope value of an HTTP message body with
// contentType (Ditto's MessagesRoute with MessagePayloadSerializer): nil for
// an empty body; for JSON types the JSON itself (json.invalid if it is not
// JSON), except that a JSON string under any JSON type but application/json
// becomes the string of its JSON text, quotes included (Ditto keeps such a
// payload apart from plain text that way); for text types the body as a
// string (UTF-8, invalid bytes replaced); for anything else the body in
// base64.
func ValueFromBody(contentType string, body []byte) (json.RawMessage, error) {
	if len(body) == 0 {
		return nil, nil
	}
	switch KindOf(contentType) {
	case PayloadJSON:
		var compact bytes.Buffer
		if err := json.Compact(&compact, body); err != nil {
			return nil, protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", preview(body))
		}
		if compact.Bytes()[0] == '"' && mediaTypeOf(contentType) != "application/json" {
			return jsonString(string(body)), nil
		}
		return compact.Bytes(), nil
	case PayloadText:
		return jsonString(string(body)), nil
	}
	return jsonString(base64.StdEncoding.EncodeToString(body)), nil
}

// BodyFromValue is the bytes a message payload stands for, from its
// envelope value (Ditto's MessagePayloadSerializer.deserialize): for JSON
// types the JSON text; for text types the string (a value that is not a
// string: its JSON text); for anything else the value's string decoded from
// base64, or its text as it is when it is not base64. Nil for no value.
func BodyFromValue(contentType string, value json.RawMessage) []byte {
	if value == nil {
		return nil
	}
	switch KindOf(contentType) {
	case PayloadJSON:
		return compactJSON(value)
	case PayloadText:
		return []byte(formatAsString(value))
	}
	s := formatAsString(value)
	if b, ok := decodeBase64(s); ok {
		return b
	}
	return []byte(s)
}

// NormalizeValue is the value Ditto passes on for a message value it
// received with contentType: it reads the payload into bytes and writes
// them back, so JSON stays as it is, text becomes a string, and a binary
// value that is not base64 becomes the base64 of its text.
func NormalizeValue(contentType string, value json.RawMessage) json.RawMessage {
	if value == nil {
		return nil
	}
	switch KindOf(contentType) {
	case PayloadJSON:
		return compactJSON(value)
	case PayloadText:
		return jsonString(formatAsString(value))
	}
	return jsonString(base64.StdEncoding.EncodeToString(BodyFromValue(contentType, value)))
}

// HTTPReply is the HTTP response for a message reply envelope (Ditto's
// AbstractHttpRequestActor.handleMessageResponseMessage): the reply's status
// and, unless it is 204 (never a body) or the reply has no value, a body by
// the reply's content-type: its JSON, text or decoded bytes under that
// content type; without a (parsable) content type, the bytes of
// BodyFromValue with no content type. The reply's headers are the caller's
// to add.
func HTTPReply(reply protocol.Envelope) (status int, contentType string, body []byte) {
	status = reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusNoContent || reply.Value == nil {
		return status, "", nil
	}
	ct := reply.Headers[protocol.HeaderContentType]
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return status, "", BodyFromValue("", reply.Value)
	}
	return status, ct, BodyFromValue(ct, reply.Value)
}

// formatAsString is Ditto's JsonValue.formatAsString: a string's content,
// any other value's compact JSON text.
func formatAsString(value json.RawMessage) string {
	var s string
	if len(value) > 0 && bytes.TrimLeft(value, " \t\r\n")[0] == '"' && json.Unmarshal(value, &s) == nil {
		return s
	}
	return string(compactJSON(value))
}

func compactJSON(value json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, value) != nil {
		return value
	}
	return b.Bytes()
}

// decodeBase64 decodes s as Java's basic Base64 decoder does: the standard
// alphabet, padding optional, no line breaks or other characters.
func decodeBase64(s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}

// jsonString writes s as a JSON string, invalid UTF-8 replaced by U+FFFD
// (as Java decodes it), without HTML escapes.
func jsonString(s string) json.RawMessage {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// preview shortens a body for an error message.
func preview(b []byte) string {
	const max = 100
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

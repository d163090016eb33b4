package protocol

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Header names (SPEC.md §4). Ditto header names are case-insensitive; Headers
// keeps them lower-case.
const (
	HeaderCorrelationID    = "correlation-id"
	HeaderResponseRequired = "response-required"
	HeaderTimeout          = "timeout"
	HeaderIfMatch          = "if-match"
	HeaderIfNoneMatch      = "if-none-match"
	HeaderContentType      = "content-type"
	HeaderETag             = "etag"
	HeaderRequestedAcks    = "requested-acks"
	HeaderCondition        = "condition"
	HeaderChannel          = "channel"
	HeaderOriginator       = "ditto-originator"
	HeaderLocation         = "location"
	HeaderVersion          = "version"
	HeaderEntityRevision   = "entity-revision"
)

// ContentTypeMergePatch is the media type of merge commands and merged events.
const ContentTypeMergePatch = "application/merge-patch+json"

// typedHeaders are written with their JSON type rather than as strings, as
// Ditto does for its boolean and array headers.
var (
	boolHeaders  = set(HeaderResponseRequired, "allow-policy-lockout", "ditto-weak-ack", "live-channel-condition-matched", "dry-run")
	arrayHeaders = set(HeaderRequestedAcks, "declared-acks")
	intHeaders   = set(HeaderVersion, HeaderEntityRevision)
)

// Headers are an envelope's headers: lower-case names to their text. A header
// that arrived as a non-string JSON value (true, 42, ["a"]) is kept as its
// JSON text.
type Headers map[string]string

// Get returns the value of the header name (any case).
func (h Headers) Get(name string) (string, bool) {
	v, ok := h[strings.ToLower(name)]
	return v, ok
}

// Set sets the header name (any case) to value.
func (h Headers) Set(name, value string) { h[strings.ToLower(name)] = value }

// Clone returns a copy of h that can be changed without touching h.
func (h Headers) Clone() Headers {
	out := make(Headers, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

// UnmarshalJSON accepts any JSON object; names are lower-cased.
func (h *Headers) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Errorf(CodeJSONFormatInvalid, "The headers must be a JSON object.")
	}
	out := make(Headers, len(raw))
	for k, v := range raw {
		var s string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
			out[strings.ToLower(k)] = s
			continue
		}
		out[strings.ToLower(k)] = validUTF8(v)
	}
	*h = out
	return nil
}

// MarshalJSON writes the headers sorted by name, typed headers with their JSON type.
func (h Headers) MarshalJSON() ([]byte, error) {
	return h.appendJSON(nil), nil
}

func (h Headers) appendJSON(b []byte) []byte {
	// Envelopes carry a handful of headers: sort their names on the stack.
	var small [16]string
	keys := small[:0]
	if len(h) > len(small) {
		keys = make([]string, 0, len(h))
	}
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		v := h[k]
		switch {
		case boolHeaders[k] && (v == "true" || v == "false"):
			b = append(b, v...)
		case intHeaders[k] && isInteger(v):
			b = append(b, v...)
		case arrayHeaders[k] && strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") && json.Valid([]byte(v)):
			b = append(b, v...)
		default:
			b = appendJSONString(b, v)
		}
	}
	return append(b, '}')
}

// isInteger tells whether s is an int written as a JSON number (no '+', no
// leading zeros), so that it can be written unquoted.
func isInteger(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || (digits[0] == '0' && len(digits) > 1) || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	_, err := strconv.Atoi(s)
	return err == nil
}

// validUTF8 returns b as a string with each invalid UTF-8 byte replaced by
// U+FFFD, as encoding/json does inside strings. A non-string header keeps its
// JSON text, which json.Valid accepts even with invalid UTF-8 in it.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		sb.WriteRune(r)
		b = b[size:]
	}
	return sb.String()
}

// ResponseRequired is the response-required header; absent means true.
func (h Headers) ResponseRequired() (bool, error) {
	v, ok := h[HeaderResponseRequired]
	if !ok {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return true, Errorf(CodeHeaderInvalid, "The value '%s' of the header '%s' is not a valid boolean.", v, HeaderResponseRequired)
	}
	return b, nil
}

// Timeout is the timeout header; ok is false when it is absent.
func (h Headers) Timeout() (d time.Duration, ok bool, err error) {
	v, ok := h[HeaderTimeout]
	if !ok {
		return 0, false, nil
	}
	d, err = ParseTimeout(v)
	return d, true, err
}

// timeoutUnits are Ditto's duration units; a bare number is seconds.
var timeoutUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"ms", time.Millisecond}, {"mo", 30 * 24 * time.Hour}, {"s", time.Second}, {"m", time.Minute},
	{"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"y", 365 * 24 * time.Hour},
}

// ParseTimeout parses Ditto's duration syntax: "42s", "250ms", "1m", "60" (seconds).
func ParseTimeout(v string) (time.Duration, error) {
	bad := Errorf(CodeTimeoutInvalid, "The timeout '%s' is not valid.", v)
	num, unit := v, time.Second
	for _, u := range timeoutUnits {
		if strings.HasSuffix(v, u.suffix) {
			num, unit = strings.TrimSuffix(v, u.suffix), u.unit
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > int64(365*24*time.Hour/unit) {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}

// ParseETagList parses the If-Match / If-None-Match header name with value
// v: "*" or a comma-separated list of quoted entity tags. Weak tags (W/"…")
// compare by their opaque part. An unquoted tag is header.invalid.
func ParseETagList(name, v string) (any bool, tags []string, err error) {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "*" {
			any = true
			continue
		}
		if part == "" {
			continue
		}
		tag := strings.TrimPrefix(part, "W/")
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.Contains(tag[1:len(tag)-1], `"`) {
			return false, nil, Errorf(CodeHeaderInvalid, "The value '%s' of the header '%s' is not a valid entity-tag.", v, name).
				WithDescription("Verify that the value of the header '" + name + "' is a valid 'entity-tag' and try again.")
		}
		tags = append(tags, tag)
	}
	return any, tags, nil
}

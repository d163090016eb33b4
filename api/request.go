package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/protocol"
)

// forwardedHeaders are the request headers copied, lower-cased, into a
// command's headers. It is an allow-list on purpose: transport headers
// (Authorization, Cookie, Host, Connection, Content-Length, Accept-Encoding,
// User-Agent, …) never reach a command or an event.
var forwardedHeaders = []string{
	protocol.HeaderCorrelationID, protocol.HeaderIfMatch, protocol.HeaderIfNoneMatch, "if-equal",
	protocol.HeaderResponseRequired, protocol.HeaderTimeout, protocol.HeaderRequestedAcks, protocol.HeaderCondition,
	protocol.HeaderContentType, protocol.HeaderChannel, "live-channel-condition", "live-channel-timeout-strategy",
	"allow-policy-lockout", "put-metadata", "get-metadata", "delete-metadata",
	"at-historical-revision", "at-historical-timestamp", "dry-run", "policy-view", "merge-thing-patch-conditions",
}

// queryHeaders are the query parameters Ditto accepts in place of headers
// (SPEC.md §4); a query parameter wins over the header of the same name.
var queryHeaders = []string{
	protocol.HeaderCorrelationID, protocol.HeaderRequestedAcks, protocol.HeaderResponseRequired, protocol.HeaderTimeout,
	protocol.HeaderChannel, "live-channel-timeout-strategy", "allow-policy-lockout", protocol.HeaderCondition,
	"live-channel-condition", "at-historical-revision", "at-historical-timestamp", "dry-run",
}

// correlationID is the request's correlation-id: the query parameter, the
// x-correlation-id header or the correlation-id header, else a new UUID.
func correlationID(r *http.Request) string {
	if v := r.URL.Query().Get(protocol.HeaderCorrelationID); v != "" {
		return v
	}
	for _, name := range []string{"X-Correlation-Id", "Correlation-Id"} {
		if v := r.Header.Get(name); v != "" {
			return v
		}
	}
	return uuid.NewString()
}

// commandHeaders builds a command's headers from the request and checks the
// ones the door itself acts on. responseRequired is false when the caller
// asked for no response (response-required=false or timeout=0).
func commandHeaders(c *call) (h protocol.Headers, responseRequired bool, err *protocol.Error) {
	h = requestHeaders(c)
	responseRequired, e := h.ResponseRequired()
	if e != nil {
		return nil, false, protocol.AsError(e)
	}
	if d, ok, e := h.Timeout(); e != nil {
		return nil, false, protocol.AsError(e)
	} else if ok && d > ack.HTTPCommandTimeout { // Ditto's command max timeout, SPEC.md §4
		return nil, false, protocol.Errorf(protocol.CodeGatewayTimeout, "The timeout <%sms> is not inside its allowed bounds <0ms - %sms>",
			ack.FormatMillis(d), ack.FormatMillis(ack.HTTPCommandTimeout))
	} else if ok && d == 0 {
		responseRequired = false
	}
	if err := checkChannel(h); err != nil {
		return nil, false, err
	}
	if v, ok := h[protocol.HeaderRequestedAcks]; ok {
		acks, err := normalizeArrayHeader(protocol.HeaderRequestedAcks, v)
		if err != nil {
			return nil, false, err
		}
		h[protocol.HeaderRequestedAcks] = acks
	}
	return h, responseRequired, nil
}

// requestHeaders are the headers a command carries from the request: the
// forwarded headers, the query parameters that stand for headers, and the
// call's correlation-id.
func requestHeaders(c *call) protocol.Headers {
	h := protocol.Headers{}
	for _, name := range forwardedHeaders {
		if values := c.r.Header.Values(name); len(values) > 0 {
			h[name] = strings.Join(values, ", ")
		}
	}
	query := c.r.URL.Query()
	for _, name := range queryHeaders {
		if values, ok := query[name]; ok && len(values) > 0 {
			h[name] = values[len(values)-1]
		}
	}
	h[protocol.HeaderCorrelationID] = c.cid
	return h
}

// checkChannel accepts the twin and the live channel; which routes serve
// the live channel is theirs to say (see liveThingCommand).
func checkChannel(h protocol.Headers) *protocol.Error {
	v, ok := h[protocol.HeaderChannel]
	if !ok || v == protocol.ChannelTwin || v == protocol.ChannelLive {
		return nil
	}
	return protocol.Errorf(protocol.CodeHeaderInvalid, "The value '%s' of the header 'channel' is not valid: use 'twin' or 'live'.", v)
}

// normalizeArrayHeader returns a JSON-array header as a JSON array of
// strings; Ditto accepts a JSON array or a comma-separated list.
func normalizeArrayHeader(name, v string) (string, *protocol.Error) {
	var items []string
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return "", protocol.Errorf(protocol.CodeHeaderInvalid, "The value '%s' of the header '%s' is not a JSON array of strings.", v, name)
		}
	} else {
		items = []string{}
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
	}
	b, _ := json.Marshal(items) // a []string always marshals
	return string(b), nil
}

// bodyKind is what a route accepts as its body.
type bodyKind int

const (
	// bodyJSON is any JSON value, Content-Type absent or a JSON media type (PUT, POST).
	bodyJSON bodyKind = iota
	// bodyMergePatch is a JSON merge patch, Content-Type application/merge-patch+json (PATCH).
	bodyMergePatch
)

// jsonFallbackMediaTypes are accepted for JSON bodies besides application/json
// and */*+json: Ditto's default additional-accepted-media-types, which is
// also what its HTTP server assumes for a body without Content-Type.
var jsonFallbackMediaTypes = map[string]bool{"application/octet-stream": true}

// readBody checks the request's Content-Type for kind, then reads the body,
// at most MaxBodyBytes, and checks that it is JSON. An empty body is
// json.invalid unless emptyAs is set, which then stands for it.
func (a *API) readBody(c *call, kind bodyKind, emptyAs json.RawMessage) (json.RawMessage, *protocol.Error) {
	if err := checkContentType(c.r.Header.Get("Content-Type"), kind); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, a.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, protocol.Errorf(protocol.CodeThingTooLarge,
				"The size of the request body exceeds the maximal allowed size of '%d' bytes.", a.maxBody).
				WithDescription("Reduce the size of the request body.")
		}
		return nil, protocol.Errorf(protocol.CodeJSONInvalid, "The request body could not be read.")
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		if emptyAs != nil {
			return emptyAs, nil
		}
		return nil, protocol.Errorf(protocol.CodeJSONInvalid, "The JSON string to read from must not be empty!")
	}
	if !json.Valid(data) {
		return nil, protocol.Errorf(protocol.CodeJSONInvalid, "Failed to parse JSON string '%s'!", preview(data))
	}
	return data, nil
}

// checkContentType enforces Ditto's media types: JSON (or none) for PUT and
// POST, application/merge-patch+json for PATCH; anything else is 415.
func checkContentType(header string, kind bodyKind) *protocol.Error {
	mediaType := ""
	if header != "" {
		mt, _, err := mime.ParseMediaType(header)
		if err != nil {
			mt = strings.ToLower(strings.TrimSpace(header))
		}
		mediaType = mt
	}
	switch kind {
	case bodyMergePatch:
		if mediaType == protocol.ContentTypeMergePatch {
			return nil
		}
		msg := "The Media-Type <" + mediaType + "> is not supported for this resource."
		if mediaType == "" {
			msg = `The Content-Type header was empty or not present. Please set Content-Type header to "` +
				protocol.ContentTypeMergePatch + `" for this resource`
		}
		e := protocol.Errorf(protocol.CodeMediaType, "%s", msg).
			WithDescription("Allowed Media-Type is: <" + protocol.ContentTypeMergePatch + ">.")
		e.Href = "https://tools.ietf.org/html/rfc7396"
		return e
	default:
		if mediaType == "" || mediaType == "application/json" || strings.HasSuffix(mediaType, "+json") || jsonFallbackMediaTypes[mediaType] {
			return nil
		}
		return protocol.Errorf(protocol.CodeMediaType, "The Media-Type <%s> is not supported for this resource.", mediaType).
			WithDescription("Allowed Media-Types are: <application/json, application/*+json, application/octet-stream>.")
	}
}

// thingTarget is the thing id and the command path of a /api/2/things/{thingId}/…
// request. A decoded '/' splits keys, as in Ditto, which decodes the whole
// remainder (see pathKeys).
func thingTarget(r *http.Request) (thingID, path string, err *protocol.Error) {
	keys, err := pathKeys(r)
	if err != nil {
		return "", "", err
	}
	return r.PathValue("thingId"), "/" + strings.Join(keys, "/"), nil
}

// pathKeys is the decoded path below /api/2/{things|policies}/{id}, one key
// per segment; nil when there is none. The path is read from the escaped URL
// and each segment unescaped on its own, so that an encoded character in a
// key (a space, a '%', an encoded '/' in a subject id) stays in it.
func pathKeys(r *http.Request) ([]string, *protocol.Error) {
	// "", "api", "2", "things" or "policies", <id>, <path segments>…
	segments := strings.Split(r.URL.EscapedPath(), "/")
	if len(segments) <= 5 {
		return nil, nil
	}
	rest := segments[5:]
	if rest[len(rest)-1] == "" { // one trailing slash is allowed
		rest = rest[:len(rest)-1]
	}
	keys := make([]string, len(rest))
	for i, s := range rest {
		k, err := url.PathUnescape(s)
		if err != nil {
			return nil, protocol.Errorf(protocol.CodeJSONPointerInvalid, "The path segment '%s' is not validly URL-encoded.", s)
		}
		keys[i] = k
	}
	return keys, nil
}

// preview shortens s for an error message, on a rune boundary.
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

package api

import (
	"encoding/json"
	"net/http"

	"github.com/twinway/twinway/protocol"
)

// contentTypeJSON is the media type of every JSON body the door writes.
const contentTypeJSON = "application/json"

// responseHeaderNames are the response envelope's headers an HTTP response
// carries: Ditto's known headers that are written to clients. Unknown
// (custom) headers are not echoed over HTTP, as in Ditto; correlation-id,
// Content-Type and Location the door sets itself.
var responseHeaderNames = []string{
	protocol.HeaderETag, protocol.HeaderEntityRevision, protocol.HeaderOriginator, protocol.HeaderResponseRequired,
	protocol.HeaderTimeout, protocol.HeaderRequestedAcks, protocol.HeaderChannel, "dry-run", "ditto-metadata",
	"ditto-weak-ack", "live-channel-condition-matched", "historical-headers", "traceparent", "tracestate",
}

// writeResponse maps a response envelope to HTTP: the envelope's status, its
// value as the JSON body (none for 204 and 304), its etag as ETag (304 and
// 412 included, when the handler gives one) with the other headers of
// responseHeaderNames and, for a 201, location as Location. An error envelope's value is Ditto's error JSON.
func writeResponse(c *call, resp protocol.Envelope, location string) {
	status := resp.Status
	if status < 200 || status > 599 {
		writeError(c, protocol.Errorf(protocol.CodeInternal, "The command produced no valid response."))
		return
	}
	h := c.w.Header()
	for _, name := range responseHeaderNames {
		if v, ok := resp.Headers[name]; ok && v != "" {
			h.Set(name, v)
		}
	}
	switch {
	case status == http.StatusNotModified || status == http.StatusNoContent:
		c.w.WriteHeader(status)
	case status >= 400:
		if !isJSONObject(resp.Value) {
			writeError(c, protocol.Errorf(protocol.CodeInternal, "An unknown error occurred."))
			return
		}
		writeJSON(c.w, status, resp.Value)
	default:
		if status == http.StatusCreated && location != "" {
			h.Set("Location", location)
		}
		if resp.Value == nil {
			c.w.WriteHeader(status)
			return
		}
		writeJSON(c.w, status, resp.Value)
	}
}

// writeError answers with err as Ditto's error JSON and err's status.
func writeError(c *call, err *protocol.Error) {
	if err.Status == http.StatusNotModified {
		c.w.WriteHeader(err.Status)
		return
	}
	body, mErr := json.Marshal(err)
	if mErr != nil { // an Error holds only strings and an int
		body = []byte(`{"status":500,"error":"internalerror","message":"An unknown error occurred."}`)
	}
	writeJSON(c.w, err.Status, body)
}

// writeJSON writes body as an application/json response.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client is gone; nothing to tell it
}

// isJSONObject reports whether v is a JSON object.
func isJSONObject(v json.RawMessage) bool {
	for _, b := range v {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return json.Valid(v)
		}
		return false
	}
	return false
}

// absoluteURL is the absolute URL of escapedPath on the server r reached, as
// Ditto's Location headers are (its HTTP server works with the effective,
// absolute request URI). Without a Host it is the path alone.
func absoluteURL(r *http.Request, escapedPath string) string {
	if r.Host == "" {
		return escapedPath
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + escapedPath
}

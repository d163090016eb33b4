package protocol

import "strings"

// readOnlyHeaders are read by the gateway but never written back to a client
// (Ditto's header definitions with write-to-external = false).
var readOnlyHeaders = set("accept", "authorization", HeaderIfMatch, HeaderIfNoneMatch, "if-equal", HeaderCondition,
	"live-channel-condition", "live-channel-timeout-strategy", "declared-acks", "put-metadata", "get-metadata",
	"delete-metadata", "allow-policy-lockout", "at-historical-revision", "at-historical-timestamp",
	"merge-thing-patch-conditions", "policy-view")

// writableDittoHeaders are the ditto-* headers a client may see; every other
// ditto-* header is internal.
var writableDittoHeaders = set(HeaderOriginator, "ditto-weak-ack", "ditto-metadata", "ditto-connection-id")

// ExternalHeaders returns the headers of a command that its response and
// event carry, as Ditto's external header filter does: read-only and internal
// headers are dropped, custom headers pass through, and requested-acks is
// dropped when it holds only built-in labels.
func ExternalHeaders(h Headers) Headers {
	out := make(Headers, len(h)+4)
	for k, v := range h {
		switch {
		case readOnlyHeaders[k], strings.HasPrefix(k, "divert-"):
		case strings.HasPrefix(k, "ditto-") && !writableDittoHeaders[k]:
		case k == HeaderRequestedAcks && onlyBuiltInAcks(v):
		default:
			out[k] = v
		}
	}
	return out
}

// onlyBuiltInAcks tells whether a requested-acks value names no custom label.
func onlyBuiltInAcks(v string) bool {
	for _, label := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(`[]", `, r) }) {
		if label != "twin-persisted" && label != "live-response" && label != "search-persisted" {
			return false
		}
	}
	return true
}

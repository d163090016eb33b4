package ack

import (
	"strconv"
	"strings"
	"time"

	"github.com/twinway/twinway/protocol"
)

// Kind is what a command is, as far as acknowledgements go: it decides the
// implicit label and which built-in labels are dropped.
type Kind uint8

const (
	// TwinModify is a twin command that changes the thing (create, modify,
	// merge, delete): implicit twin-persisted; live-response is dropped.
	TwinModify Kind = iota + 1
	// TwinQuery is any other twin command (retrieve): Ditto sets no defaults
	// and aggregates nothing; the answer is the response.
	TwinQuery
	// LiveCommand is a thing command on the live channel (a retrieve with
	// live-channel-condition counts as one): implicit live-response,
	// response-required adds or removes it; twin-persisted and
	// search-persisted are dropped.
	LiveCommand
	// LiveMessage is a message to a thing's or feature's inbox or outbox,
	// treated like LiveCommand.
	LiveMessage
	// ClaimMessage is a claim message: like LiveMessage, with the claim
	// route's longer HTTP timeouts.
	ClaimMessage
)

func (k Kind) live() bool { return k == LiveCommand || k == LiveMessage || k == ClaimMessage }

// Door is the way a command came in; the doors differ in their timeouts and
// in one forbidden combination.
type Door uint8

const (
	// HTTP is /api/2.
	HTTP Door = iota + 1
	// WebSocket is /ws/2.
	WebSocket
)

// Ditto's timeouts (gateway.conf). A WebSocket request waits at most
// WebSocketTimeout (streaming.acknowledgement.forwarder-fallback-timeout):
// a longer timeout header is cut to it, not refused, and an absent one means
// it (AcknowledgementAggregatorActor.getTimeout). HTTP refuses a timeout above
// the maximum (AbstractRoute.validateCommandTimeout, MessagesRoute).
const (
	WebSocketTimeout      = 65 * time.Second
	HTTPCommandTimeout    = 60 * time.Second // command.default-timeout and max-timeout
	HTTPMessageTimeout    = 10 * time.Second // message.default-timeout (OpenAPI; see EffectiveTimeout)
	HTTPMessageMaxTimeout = 60 * time.Second // message.max-timeout
	HTTPClaimTimeout      = 60 * time.Second // claim-message.default-timeout
	HTTPClaimMaxTimeout   = 10 * time.Minute // claim-message.max-timeout
)

// Expectation is what a command asks for once Ditto's defaults are applied:
// the acknowledgements to wait for, whether the caller wants an answer, and
// how long to wait.
type Expectation struct {
	// Labels are the requested acknowledgements, in request order, built-in
	// ones included (twin-persisted is the twin's response, live-response the
	// device's). Empty means nothing is aggregated.
	Labels []string
	// ResponseRequired is false when the caller gets no answer: HTTP 202, no
	// WebSocket message (but HTTP still waits for Labels, if any).
	ResponseRequired bool
	// Timeout is how long to wait for the response and the acknowledgements;
	// zero only when nothing is awaited.
	Timeout time.Duration
	kind    Kind
}

// FireAndForget tells whether nothing is awaited: HTTP answers 202 at once,
// WebSocket answers nothing.
func (e Expectation) FireAndForget() bool { return !e.ResponseRequired && len(e.Labels) == 0 }

// Aggregate tells whether an Aggregator collects Labels for the answer.
func (e Expectation) Aggregate() bool { return len(e.Labels) > 0 }

// Apply writes the effective requested-acks and response-required into h,
// the headers of the command to forward, as Ditto's request setters do: the
// resulting event or live signal carries them, and subscribers learn from
// requested-acks which labels they owe. A twin query keeps its headers.
func (e Expectation) Apply(h protocol.Headers) {
	if e.kind == TwinQuery {
		return
	}
	var sb strings.Builder
	sb.WriteByte('[')
	for i, l := range e.Labels {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.Write(quoteJSON(l))
	}
	sb.WriteByte(']')
	h[protocol.HeaderRequestedAcks] = sb.String()
	h[protocol.HeaderResponseRequired] = strconv.FormatBool(e.ResponseRequired)
}

// Expect applies Ditto's rules for response-required × requested-acks ×
// timeout to the headers of a command of kind that came through door
// (SPEC.md §6, "Interaction between headers" in Ditto's
// basic-acknowledgements):
//
//   - response-required defaults to false when the timeout is zero, else true;
//   - requested-acks defaults to the implicit label (twin-persisted for a twin
//     modify, live-response for live commands and messages), or to nothing
//     when the timeout is zero or response-required is false;
//   - for live commands and messages an explicit non-empty requested-acks
//     gains live-response when response-required is true (absent counts as
//     true), and loses it when response-required is false;
//   - built-in labels of the other channel are dropped;
//   - a zero timeout with a response or acknowledgements requested is
//     header.invalid (both doors), and on the WebSocket acknowledgements
//     with response-required=false are header.invalid too.
//
// Errors in the headers themselves come first: a bad requested-acks,
// response-required or timeout is header.invalid or timeout.invalid, and an
// HTTP timeout above its maximum gateway:timeout.invalid (commands) or
// timeout.invalid (messages).
func Expect(h protocol.Headers, kind Kind, door Door) (Expectation, error) {
	var requested []string
	rawAcks, acksSet := h[protocol.HeaderRequestedAcks]
	if acksSet {
		var err error
		if requested, err = ParseRequested(rawAcks); err != nil {
			return Expectation{}, err
		}
	}
	responseRequired, err := h.ResponseRequired()
	if err != nil {
		return Expectation{}, err
	}
	_, rrSet := h[protocol.HeaderResponseRequired]
	timeout, err := EffectiveTimeout(h, kind, door)
	if err != nil {
		return Expectation{}, err
	}
	zero := timeout == 0

	e := Expectation{kind: kind, ResponseRequired: responseRequired, Timeout: timeout}
	if kind == TwinQuery {
		e.Labels = requested
	} else {
		implicit := TwinPersisted
		if kind.live() {
			implicit = LiveResponse
		}
		switch {
		case !acksSet && !zero && responseRequired:
			e.Labels = []string{implicit}
		case !acksSet:
			e.Labels = nil
		case kind.live() && responseRequired && len(requested) > 0:
			e.Labels = appendUnique(requested, implicit)
		case kind.live() && !responseRequired:
			e.Labels = without(requested, implicit)
		default:
			e.Labels = requested
		}
		// Ditto filters the labels it was given rather than the ones it just
		// added, so that a live command asking for twin-persisted loses its
		// implicit live-response too; filtering the result instead keeps
		// live-response, which is what the request means.
		e.Labels = withoutOtherChannel(e.Labels, kind)
		if !rrSet {
			e.ResponseRequired = !zero
		}
	}
	if zero && (e.ResponseRequired || len(e.Labels) > 0) {
		return Expectation{}, protocol.Errorf(protocol.CodeHeaderInvalid,
			"The value of the header '%s' must not be zero if response or acknowledgements are requested.",
			protocol.HeaderTimeout).WithDescription("Please provide a positive timeout.")
	}
	if kind == TwinQuery {
		// Ditto starts no aggregation for a query: the answer is the response.
		e.Labels = nil
	}
	if door == WebSocket && !e.ResponseRequired && len(e.Labels) > 0 {
		return Expectation{}, protocol.Errorf(protocol.CodeHeaderInvalid,
			"For WebSocket, it is forbidden to request acknowledgements while '%s' is set to false.",
			protocol.HeaderResponseRequired).
			WithDescription("Please set '" + protocol.HeaderRequestedAcks + "' to [] or '" + protocol.HeaderResponseRequired + "' to true.")
	}
	if len(e.Labels) == 0 && !e.ResponseRequired {
		e.Timeout = 0
	}
	return e, nil
}

// without returns labels without label, never sharing labels' array.
func without(labels []string, label string) []string {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		if l != label {
			out = append(out, l)
		}
	}
	return out
}

// withoutOtherChannel drops the built-in labels a kind cannot get: a twin
// modify never gets live-response (search-persisted is tolerated there, as in
// Ditto), a live signal never gets twin-persisted or search-persisted.
func withoutOtherChannel(labels []string, kind Kind) []string {
	out := labels[:0:0]
	for _, l := range labels {
		switch {
		case kind == TwinModify && l == LiveResponse:
		case kind.live() && (l == TwinPersisted || l == SearchPersisted):
		default:
			out = append(out, l)
		}
	}
	return out
}

// EffectiveTimeout is how long a command of kind through door waits, from
// its timeout header (Ditto's duration syntax, see protocol.ParseTimeout):
//
//	door       kind              absent   maximum   above the maximum
//	WebSocket  any               65s      65s       cut to 65s
//	HTTP       commands          60s      60s       gateway:timeout.invalid
//	HTTP       messages          10s      60s       timeout.invalid (whole seconds compared)
//	HTTP       claim messages    60s      600s      timeout.invalid (whole seconds compared)
//
// The 10s default for HTTP messages is the one Ditto documents (OpenAPI
// messageTimeoutParam, message.default-timeout) and issue 5 asks for; Ditto's
// MessagesRoute in fact falls back to the HTTP request timeout (60s) when the
// parameter is absent.
func EffectiveTimeout(h protocol.Headers, kind Kind, door Door) (time.Duration, error) {
	d, set, err := h.Timeout()
	if err != nil {
		return 0, err
	}
	if door == WebSocket {
		if !set || d > WebSocketTimeout {
			return WebSocketTimeout, nil
		}
		return d, nil
	}
	def, max, code := HTTPCommandTimeout, HTTPCommandTimeout, protocol.CodeGatewayTimeout
	switch kind {
	case LiveMessage:
		def, max, code = HTTPMessageTimeout, HTTPMessageMaxTimeout, protocol.CodeTimeoutInvalid
	case ClaimMessage:
		def, max, code = HTTPClaimTimeout, HTTPClaimMaxTimeout, protocol.CodeTimeoutInvalid
	}
	if !set {
		return def, nil
	}
	tooLong := d > max
	if code == protocol.CodeTimeoutInvalid {
		// MessagesRoute compares whole seconds: 60.5s passes a 60s maximum.
		tooLong = d/time.Second > max/time.Second
	}
	if tooLong {
		return 0, protocol.Errorf(code, "The timeout <%sms> is not inside its allowed bounds <0ms - %sms>",
			FormatMillis(d), FormatMillis(max))
	}
	return d, nil
}

// FormatMillis writes d in whole milliseconds with a comma every three
// digits, as Java's MessageFormat prints a long in Ditto's messages
// ("42,000" for 42s).
func FormatMillis(d time.Duration) string {
	s := strconv.FormatInt(d.Milliseconds(), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// CommandTimeoutError is Ditto's command.timeout (408): what the caller gets
// when the only thing awaited was the response (twin-persisted or
// live-response alone) and it did not come within timeout. Live commands and
// live messages alike get it; acknowledgement:request.timeout only appears as
// an entry of aggregated acknowledgements.
func CommandTimeoutError(timeout time.Duration) *protocol.Error {
	return protocol.Errorf(protocol.CodeCommandTimeout, "The Command reached the specified timeout of %sms.", FormatMillis(timeout))
}

// RequestTimeoutError is acknowledgement:request.timeout (408), the payload
// of the entry of an acknowledgement that did not arrive within timeout.
func RequestTimeoutError(timeout time.Duration) *protocol.Error {
	return protocol.Errorf(protocol.CodeAckRequestTimeout,
		"The acknowledgement request reached the specified timeout of %sms.", FormatMillis(timeout))
}

package gateway

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/twinway/twinway/protocol"
)

// Control commands of the WebSocket binding (SPEC.md §8). A text message that
// starts with one of them is a control command, as in Ditto (prefix match).
const (
	startSendEvents       = "START-SEND-EVENTS"
	stopSendEvents        = "STOP-SEND-EVENTS"
	startSendMessages     = "START-SEND-MESSAGES"
	stopSendMessages      = "STOP-SEND-MESSAGES"
	startSendLiveCommands = "START-SEND-LIVE-COMMANDS"
	stopSendLiveCommands  = "STOP-SEND-LIVE-COMMANDS"
	startSendLiveEvents   = "START-SEND-LIVE-EVENTS"
	stopSendLiveEvents    = "STOP-SEND-LIVE-EVENTS"
	jwtToken              = "JWT-TOKEN"
)

// controlWords are matched in this order; no word is a prefix of another.
var controlWords = [][]byte{
	[]byte(startSendEvents), []byte(stopSendEvents),
	[]byte(startSendMessages), []byte(stopSendMessages),
	[]byte(startSendLiveCommands), []byte(stopSendLiveCommands),
	[]byte(startSendLiveEvents), []byte(stopSendLiveEvents),
	[]byte(jwtToken),
}

// stream is one of the independent subscriptions of a session (SPEC.md §8):
// twin events, live messages, live commands, live events.
type stream int

const (
	streamEvents stream = iota
	streamMessages
	streamLiveCommands
	streamLiveEvents
	numStreams
)

// streamControl is what a START or STOP word does.
type streamControl struct {
	stream stream
	start  bool
	ack    []byte // shared by every session: queued bytes are never changed
}

// streamControls are the START/STOP words; Ditto ACKs each with ":ACK".
var streamControls = func() map[string]streamControl {
	m := map[string]streamControl{}
	for _, w := range []struct {
		start, stop string
		stream      stream
	}{
		{startSendEvents, stopSendEvents, streamEvents},
		{startSendMessages, stopSendMessages, streamMessages},
		{startSendLiveCommands, stopSendLiveCommands, streamLiveCommands},
		{startSendLiveEvents, stopSendLiveEvents, streamLiveEvents},
	} {
		m[w.start] = streamControl{stream: w.stream, start: true, ack: []byte(w.start + ":ACK")}
		m[w.stop] = streamControl{stream: w.stream, ack: []byte(w.stop + ":ACK")}
	}
	return m
}()

// Event stream parameters.
const (
	paramNamespaces    = "namespaces"
	paramFilter        = "filter"
	paramExtraFields   = "extraFields"
	paramCorrelationID = "correlation-id"
	paramJWTToken      = "jwtToken"
)

// controlWordOf returns the control command data starts with.
func controlWordOf(data []byte) (string, bool) {
	for _, w := range controlWords {
		if bytes.HasPrefix(data, w) {
			return string(w), true
		}
	}
	return "", false
}

// parseParams parses the parameters after the first '?' of a control
// command as Ditto does: split on '&' and on the first '=', URL-decoded.
// A part without '=' is ignored; a value that does not decode is kept as
// sent; a repeated name keeps its last value.
func parseParams(text string) map[string]string {
	_, query, ok := strings.Cut(text, "?")
	if !ok {
		return nil
	}
	params := make(map[string]string)
	for part := range strings.SplitSeq(query, "&") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		params[unescape(name)] = unescape(value)
	}
	return params
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// splitList splits a comma-separated parameter, dropping blanks; "" is nil.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// handleControl answers one control command. Unknown parameters are ignored,
// as Ditto ignores them.
func (s *session) handleControl(word, text string) {
	params := parseParams(text)
	headers := protocol.Headers{}
	if cid := params[paramCorrelationID]; cid != "" {
		headers[protocol.HeaderCorrelationID] = cid
	}
	if word == jwtToken {
		s.refreshToken(params[paramJWTToken], headers)
		return
	}
	ctl := streamControls[word]
	if !s.g.streamSupported(ctl.stream) {
		s.controlError(protocol.Errorf(protocol.CodeSignalUnsupported, "%s is not supported yet.", word), headers)
		return
	}
	if !ctl.start {
		s.g.hubs[ctl.stream].unsubscribe(s) // also when not started: STOP always ACKs
		s.send(ctl.ack)
		return
	}
	sub, err := newSubscriber(s, params)
	if err != nil {
		// An invalid filter or extraFields: error, no ACK, and the earlier
		// subscription (if any) stays as it was.
		s.controlError(protocol.AsError(err), headers)
		return
	}
	// Re-sending START replaces the subscription. It is in place before the
	// ACK is queued, so no signal published after the client saw the ACK is
	// missed.
	s.g.hubs[ctl.stream].subscribe(sub)
	s.send(ctl.ack)
}

// controlError answers a control command with an error envelope of the
// unknown entity.
func (s *session) controlError(e *protocol.Error, headers protocol.Headers) {
	s.reply(protocol.ErrorEnvelope(e, protocol.Topic{}, headers))
}

// refreshToken handles JWT-TOKEN?jwtToken=…: a valid token with the same
// subjects extends the session to its expiry (no answer, as in Ditto); an
// invalid token, or one of other subjects, ends the session.
func (s *session) refreshToken(raw string, headers protocol.Headers) {
	if s.g.cfg.Tokens == nil {
		s.controlError(protocol.Errorf(protocol.CodeJWTIssuerNotSupported, "JWT-TOKEN is not supported: this gateway trusts no JWT issuer."), headers)
		return
	}
	if raw == "" {
		s.controlError(protocol.Errorf(protocol.CodeAuthenticationFailed, "The JWT was missing.").
			WithDescription("Send the new token as JWT-TOKEN?jwtToken=<token>."), headers)
		return
	}
	who, err := s.g.cfg.Tokens.Verify(s.ctx, raw)
	switch {
	case err != nil:
		s.close(reasonTokenInvalid(err))
	case !who.SameSubjects(s.who):
		s.close(reasonContextChanged)
	default:
		s.armExpiry(who.Expiry)
	}
}

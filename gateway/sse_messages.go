package gateway

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
)

// Server-Sent Events of live messages (SPEC.md §7, §9): GET
// /api/2/things/{thingId}[/features/{featureId}]/inbox|outbox/messages[/{subject}]
// with Accept: text/event-stream. The facts are Eclipse Ditto's
// (ThingsSseRouteBuilder, createMessagesSseRoute and postprocessMessages):
//
//   - the route subscribes to messages (not to twin events) with the filter
//     and(eq(entity:id,'<thingId>'), <path>), where <path> is
//     eq(resource:path,'<sub-path>') when the sub-path names a subject and
//     like(resource:path,'<sub-path>*') when it does not: a thing's inbox
//     stream gets the thing's inbox messages of every subject, not its
//     features' ones; a feature's stream only that feature's;
//   - which sessions get a message at all is the live channel's rule, READ
//     on the message resource (here liveRouter.deliver, shared with the
//     WebSocket sessions that started messages);
//   - replies are never published, only messages;
//   - each message is one event: its raw payload as text (JSON as JSON
//     text, text as it is, binary as its decoded bytes) in data:, and its
//     subject in event:; no id:;
//   - the parameters namespaces, filter, fields, extraFields and the
//     history ones are not read;
//   - heartbeats as on every SSE route: data:\n\n after a second of
//     silence.

// messagePath matches the message sub-paths of /things/{thingId} (Ditto's
// INBOX_OUTBOX_PATTERN); group 3 is "/<subject>", "/" or "".
var messagePath = regexp.MustCompile(`^(/features/[^/]+)?/(inbox|outbox)/messages(/.*)?$`)

// IsMessagePath tells whether path, the decoded sub-path of
// /api/2/things/{thingId}/{path}, is a mailbox's messages
// ((/features/<f>)?/(inbox|outbox)/messages[/<subject>]): with Accept:
// text/event-stream such a route streams messages, not twin changes.
func IsMessagePath(path string) bool { return messagePath.MatchString(path) }

// sseMailbox is what a message stream receives: the messages of one thing
// whose path is path (the route names a subject), or else begins with
// prefix (every subject of the mailbox).
type sseMailbox struct {
	thingID string
	path    string // "/inbox/messages/ask": this subject only
	prefix  string // "/features/lamp/outbox/messages/": every subject
}

// parseSSEMessages validates the thing of a message stream and builds its
// subscription (its receiver not set): no namespaces, filter or extra
// fields, as in Ditto.
func parseSSEMessages(subjects []string, req SSERequest) (subscriber, error) {
	if err := protocol.ValidateThingID(req.ThingIDs); err != nil {
		return subscriber{}, err
	}
	m := messagePath.FindStringSubmatch(req.Path)
	if m == nil {
		return subscriber{}, protocol.Errorf(protocol.CodeInvalidPath, "The path '%s' is not valid.", req.Path)
	}
	box := &sseMailbox{thingID: req.ThingIDs}
	if len(m[3]) > 1 {
		box.path = req.Path
	} else {
		box.prefix = strings.TrimSuffix(req.Path, "/") + "/"
	}
	return subscriber{subjects: subjects, thingIDs: map[string]struct{}{req.ThingIDs: {}},
		sse: &sseFormat{key: "messages", messages: box}}, nil
}

// receivesMessage tells whether a stream of format f takes sig: only
// message streams do, and only the messages of their mailbox.
func (f *sseFormat) receivesMessage(sig *liveSignal) bool {
	b := f.messages
	if b == nil || sig.topic.Criterion != protocol.CriterionMessages || sig.target.ThingID != b.thingID {
		return false
	}
	if b.path != "" {
		return sig.env.Path == b.path
	}
	return strings.HasPrefix(sig.env.Path, b.prefix)
}

// sseEvent is sig as every message stream gets it, encoded once per signal:
// a message's payload does not depend on who reads it (live signals are
// not pruned, and message streams select no extra fields).
func (sig *liveSignal) sseEvent() []byte {
	if sig.sse == nil {
		sig.sse = sseMessageEvent(sig.topic.Subject, sig.env.Headers[protocol.HeaderContentType], sig.env.Value)
	}
	return sig.sse
}

// sseMessageEvent is one message event: "data:" lines holding the payload
// as text, then "event:<subject>", then the blank line that ends the event.
// The payload is the bytes the message stands for under its content type
// (live.BodyFromValue, Ditto's raw payload), read as UTF-8 (invalid bytes
// replaced by U+FFFD); an absent payload is an empty data line. As Pekko's
// encoder, every line of the payload is a data line of its own; unlike it,
// which breaks at \n only, \r\n and a lone \r break a line too, so that a
// sender's \r cannot end the data early and start another field of the
// event (the client joins the data lines with \n either way). Subjects have
// no control characters (live.ParseMessage, live.HTTPMessage).
func sseMessageEvent(subject, contentType string, value json.RawMessage) []byte {
	payload := bytes.ToValidUTF8(live.BodyFromValue(contentType, value), []byte("\uFFFD"))
	out := make([]byte, 0, len(payload)+len(subject)+len("data:\nevent:\n\n")+8)
	out = append(out, "data:"...)
	for i := 0; i < len(payload); i++ {
		switch c := payload[i]; c {
		case '\r':
			if i+1 < len(payload) && payload[i+1] == '\n' {
				i++
			}
			out = append(out, "\ndata:"...)
		case '\n':
			out = append(out, "\ndata:"...)
		default:
			out = append(out, c)
		}
	}
	out = append(out, "\nevent:"...)
	out = append(out, subject...)
	return append(out, '\n', '\n')
}

package ack

import (
	"encoding/json"

	"github.com/twinway/twinway/protocol"
)

// HeaderWeakAck marks an acknowledgement the gateway issued on behalf of a
// subscriber that did not get the signal (Ditto's ditto-weak-ack).
const HeaderWeakAck = "ditto-weak-ack"

// Ack is one acknowledgement: a label, an HTTP status (2xx acknowledges,
// anything else does not), an optional JSON payload and headers.
type Ack struct {
	Label   string
	Status  int
	Payload json.RawMessage // nil: no payload
	Headers protocol.Headers
}

// Success tells whether the acknowledgement is positive (2xx).
func (a Ack) Success() bool { return a.Status >= 200 && a.Status < 300 }

// Weak tells whether the gateway issued this acknowledgement because the
// subscriber filtered the signal out.
func (a Ack) Weak() bool { return a.Headers[HeaderWeakAck] == "true" }

// Envelope is the acknowledgement as a single-ack protocol message for the
// thing ns:name on channel: topic <ns>/<name>/things/<channel>/acks/<label>,
// path "/", its status, payload as value and external headers (Ditto's
// AcknowledgementAdapter).
func (a Ack) Envelope(namespace, name, channel string) protocol.Envelope {
	topic := protocol.Topic{Namespace: namespace, Name: name, Group: protocol.GroupThings, Channel: channel,
		Criterion: protocol.CriterionAcks, Subject: a.Label}
	return protocol.Envelope{Topic: topic.String(), Headers: protocol.ExternalHeaders(a.Headers), Path: "/",
		Value: a.Payload, Status: a.Status}
}

// The payloads Ditto gives weak acknowledgements, by why the subscriber did
// not get the signal.
const (
	// WeakFiltered: the session's filter (RQL, namespaces) or subscription
	// dropped the signal (Ditto's WebSocketRoute).
	WeakFiltered = "Acknowledgement was issued automatically as weak ack, because the signal is not relevant for the subscriber. Possible reasons are: the subscriber did not subscribe for the signal type, or the signal was dropped by a configured RQL filter."
	// WeakNotAuthorized: the subscriber may not read the signal (Ditto's
	// pubsub AckExtractor).
	WeakNotAuthorized = "Acknowledgement was issued automatically as weak ack, because the signal is not relevant for the subscriber. Possible reasons are: the subscriber was not authorized, or the subscriber did not subscribe for the signal type."
)

// Weak is the weak acknowledgement the gateway issues for label when the
// session that declared it does not receive the signal with signalHeaders:
// status 200, ditto-weak-ack true, the reason as payload, the signal's
// external headers (Ditto's Acknowledgement.weak). A weak acknowledgement
// succeeds, so a filtering subscriber does not fail the request. Ditto never
// issues one for a built-in label; ok is false for those.
func Weak(label string, signalHeaders protocol.Headers, reason string) (a Ack, ok bool) {
	if IsBuiltIn(label) {
		return Ack{}, false
	}
	h := protocol.ExternalHeaders(signalHeaders)
	h[HeaderWeakAck] = "true"
	return Ack{Label: label, Status: 200, Payload: quoteJSON(reason), Headers: h}, true
}

// Parse reads the acknowledgement a client issues:
//
//	{"topic":"<ns>/<name>/things/<twin|live>/acks/<label>","headers":{"correlation-id":"…"},"path":"/","status":202,"value":…}
//
// and returns its topic and the acknowledgement. The checks and their codes
// follow Ditto's AcknowledgementAdapter: an invalid label is
// acknowledgement:label.invalid, a built-in one
// acknowledgement:ditto.acklabel.forbidden, a bad thing id things:id.invalid,
// no status json.field.missing. Without a correlation-id the acknowledgement
// cannot reach its request: acknowledgement:correlation-id.missing (Ditto's
// WebSocket would generate an id, and the acknowledgement would be lost
// silently). Whether the session declared the label is the caller's check
// (NotDeclared). Aggregated acknowledgements from a client (no label in the
// topic) are not accepted: protocoladapter:unknown.topicpath.
func Parse(env protocol.Envelope) (protocol.Topic, Ack, error) {
	topic, err := protocol.ParseTopic(env.Topic)
	if err != nil {
		return protocol.Topic{}, Ack{}, err
	}
	if topic.Group != protocol.GroupThings || topic.Criterion != protocol.CriterionAcks || topic.Subject == "" {
		return protocol.Topic{}, Ack{}, protocol.Errorf(protocol.CodeUnknownTopicPath,
			"The topic path '%s' is not supported.", env.Topic).
			WithDescription("An acknowledgement's topic is <namespace>/<name>/things/<twin|live>/acks/<label>.")
	}
	if err := validateIssuable(topic.Subject); err != nil {
		return protocol.Topic{}, Ack{}, err
	}
	if err := protocol.ValidateThingID(topic.EntityID()); err != nil {
		return protocol.Topic{}, Ack{}, err
	}
	if env.Status == 0 {
		return protocol.Topic{}, Ack{}, protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </status> field!")
	}
	if env.Status < 100 || env.Status > 599 {
		return protocol.Topic{}, Ack{}, protocol.Errorf(protocol.CodeJSONFormatInvalid,
			"The status <%d> is not a valid HTTP status code.", env.Status)
	}
	if env.Headers[protocol.HeaderCorrelationID] == "" {
		return protocol.Topic{}, Ack{}, protocol.Errorf(protocol.CodeAckCorrelationIDMissing,
			"Correlation-id header for acknowledgement is missing.")
	}
	return topic, Ack{Label: topic.Subject, Status: env.Status, Payload: env.Value, Headers: env.Headers.Clone()}, nil
}

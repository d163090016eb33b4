package live

import (
	"strings"
	"time"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/protocol"
)

// The mailboxes of a thing or feature: inbox is "to" it, outbox "from" it.
const (
	Inbox  = "inbox"
	Outbox = "outbox"
)

// ClaimSubject is the subject of claim messages (Ditto's
// KnownMessageSubjects.CLAIM_SUBJECT), which need no permission.
const ClaimSubject = "claim"

// Message is where a live message goes: a thing, or one of its features, its
// inbox or outbox, and a subject (which may contain '/').
type Message struct {
	Namespace string
	Name      string
	FeatureID string // "" for a message to or from the thing itself
	Box       string // Inbox or Outbox
	Subject   string
	// Claim marks a claim message: subject "claim" to the thing's own
	// inbox (Ditto's MessageCommandAdapter picks SendClaimMessage by the
	// subject alone; a claim needs no permission, so this gateway takes it
	// only at the thing's inbox, and over HTTP at /inbox/claim, HTTPClaim).
	Claim bool
}

// ThingID is the thing's namespaced id.
func (m Message) ThingID() string { return m.Namespace + ":" + m.Name }

// Direction is Ditto's ditto-message-direction: TO for the inbox, FROM for the
// outbox.
func (m Message) Direction() string {
	if m.Box == Outbox {
		return "FROM"
	}
	return "TO"
}

// Path is the envelope path: (/features/<f>)?/<inbox|outbox>/messages/<subject>.
func (m Message) Path() string {
	var sb strings.Builder
	if m.FeatureID != "" {
		sb.WriteString("/features/")
		sb.WriteString(m.FeatureID)
	}
	sb.WriteByte('/')
	sb.WriteString(m.Box)
	sb.WriteString("/messages/")
	sb.WriteString(m.Subject)
	return sb.String()
}

// Topic is the envelope topic: <ns>/<name>/things/live/messages/<subject>.
func (m Message) Topic() string {
	return protocol.Topic{Namespace: m.Namespace, Name: m.Name, Group: protocol.GroupThings,
		Channel: protocol.ChannelLive, Criterion: protocol.CriterionMessages, Subject: m.Subject}.String()
}

// Resource is the policy resource the message maps to: sending needs
// unrestricted WRITE on it, receiving READ (Ditto's
// MessageCommand.getResourcePath and LiveSignalEnforcement), for example
// message:/inbox/messages/ask or message:/features/lamp/outbox/messages/on.
// A thing's message:/inbox does not cover its features' messages. Claim
// messages are sent without any permission.
func (m Message) Resource() string { return "message:" + m.Path() }

// ParseMessage validates the topic and path of a live message envelope
// (a message, or a reply: same topic, inbox or outbox path) as Ditto's
// protocol adapter does, in its order:
//
//   - the thing id: things:id.invalid;
//   - a topic without subject: protocoladapter:unknown.topicpath;
//   - a path that is not (/features/<f>)?/(inbox|outbox)/messages/<subject>
//     with the topic's subject: protocoladapter:invalid.path;
//   - a feature id with control characters: messages:featureid.invalid;
//   - a subject with control characters: header.invalid (Ditto validates it
//     as the ditto-message-subject header).
func ParseMessage(topic protocol.Topic, path string) (Message, error) {
	if topic.Group != protocol.GroupThings || topic.Channel != protocol.ChannelLive || topic.Criterion != protocol.CriterionMessages {
		return Message{}, protocol.Errorf(protocol.CodeUnknownTopicPath, "The topic path '%s' is not supported.", topic)
	}
	if err := protocol.ValidateThingID(topic.EntityID()); err != nil {
		return Message{}, err
	}
	if topic.Subject == "" {
		return Message{}, protocol.Errorf(protocol.CodeUnknownTopicPath, "The topic path '%s' is not supported.", topic).
			WithDescription("Missing message subject.")
	}
	m, ok := parseMessagePath(path, topic.Subject)
	if !ok {
		return Message{}, protocol.Errorf(protocol.CodeInvalidPath, "The path '%s' is not valid.", path).
			WithDescription("It should match the pattern: (/features/[^/]+)?/(inbox|outbox)/messages/" + topic.Subject)
	}
	if m.FeatureID != "" {
		if err := validateFeatureID(m.FeatureID); err != nil {
			return Message{}, err
		}
	}
	if err := validateSubjectChars(topic.Subject); err != nil {
		return Message{}, err
	}
	m.Namespace, m.Name, m.Subject = topic.Namespace, topic.Name, topic.Subject
	// A claim needs no permission, so only the thing's own inbox takes one:
	// a "claim" subject on a feature or an outbox is an ordinary message
	// (stricter than Ditto's adapter, which goes by the subject alone).
	m.Claim = topic.Subject == ClaimSubject && m.FeatureID == "" && m.Box == Inbox
	return m, nil
}

// parseMessagePath splits path into feature and box, requiring it to end in
// /messages/<subject>. A path without its leading '/' is read as if it had
// one, as Ditto's JsonPointer reads it.
func parseMessagePath(path, subject string) (Message, bool) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	rest, ok := strings.CutSuffix(path, "/messages/"+subject)
	if !ok {
		return Message{}, false
	}
	var m Message
	if feature, box, ok := strings.Cut(strings.TrimPrefix(rest, "/features/"), "/"); ok && strings.HasPrefix(rest, "/features/") {
		m.FeatureID, rest = feature, "/"+box
	}
	switch rest {
	case "/" + Inbox:
		m.Box = Inbox
	case "/" + Outbox:
		m.Box = Outbox
	default:
		return Message{}, false
	}
	if strings.HasPrefix(path, "/features/") && m.FeatureID == "" {
		return Message{}, false
	}
	return m, true
}

// HTTPMessage validates the parts of an HTTP message route,
// POST /api/2/things/{thingID}[/features/{featureID}]/{box}/messages/{subject}
// where subject is the (decoded) rest of the path after "/messages/". As
// Ditto's MessagesRoute: an empty subject (or "/") is messages:subject.invalid,
// a leading '/' is dropped; control characters are header.invalid; a bad
// thing id things:id.invalid; a bad feature id messages:featureid.invalid.
func HTTPMessage(thingID, featureID, box, subject string) (Message, error) {
	if err := protocol.ValidateThingID(thingID); err != nil {
		return Message{}, err
	}
	if box != Inbox && box != Outbox {
		return Message{}, protocol.Errorf(protocol.CodeNotFound, "The resource '%s' is not a mailbox: use inbox or outbox.", box)
	}
	if subject == "" || subject == "/" {
		return Message{}, protocol.Errorf(protocol.CodeMessageSubjectInvalid, "Subject '%s' is not valid!", subject)
	}
	subject = strings.TrimPrefix(subject, "/")
	if err := validateSubjectChars(subject); err != nil {
		return Message{}, err
	}
	if featureID != "" {
		if err := validateFeatureID(featureID); err != nil {
			return Message{}, err
		}
	}
	ns, name, _ := protocol.SplitEntityID(thingID)
	return Message{Namespace: ns, Name: name, FeatureID: featureID, Box: box, Subject: subject}, nil
}

// HTTPClaim is the message of POST /api/2/things/{thingID}/inbox/claim: to
// the thing's inbox with subject "claim" (Ditto's
// MessageHeaders.newBuilderForClaiming).
func HTTPClaim(thingID string) (Message, error) {
	if err := protocol.ValidateThingID(thingID); err != nil {
		return Message{}, err
	}
	ns, name, _ := protocol.SplitEntityID(thingID)
	return Message{Namespace: ns, Name: name, Box: Inbox, Subject: ClaimSubject, Claim: true}, nil
}

// validateSubjectChars applies Ditto's rule for the ditto-message-subject
// header: no code point U+0000–U+001F or U+007F–U+00FF.
func validateSubjectChars(subject string) error {
	if !hasControlChars(subject) {
		return nil
	}
	const header, kind = "ditto-message-subject", "message subject"
	return protocol.Errorf(protocol.CodeHeaderInvalid, "The value '%s' of the header '%s' is not a valid %s.", subject, header, kind).
		WithDescription("Verify that the value of the header '" + header + "' is a valid '" + kind + "' and try again.")
}

// validateFeatureID checks the feature id of a message path. Ditto reads it
// as a JSON pointer key and does not validate it further; refusing empty ids
// and control characters with the messages' own code keeps a bad id out of
// policy resources.
func validateFeatureID(featureID string) error {
	if featureID != "" && !hasControlChars(featureID) && !strings.Contains(featureID, "/") {
		return nil
	}
	return protocol.Errorf(protocol.CodeMessageFeatureIDInvalid, "The feature ID '%s' is not valid.", featureID)
}

func hasControlChars(s string) bool {
	for _, r := range s {
		if r <= 0x1F || (r >= 0x7F && r <= 0xFF) {
			return true
		}
	}
	return false
}

// MessageTimeout is how long a message through door waits for its reply:
// the timeout header, by default 10s over HTTP (60s for claims) and at most
// 60s (600s for claims), else timeout.invalid; on the WebSocket at most 65s,
// an absent or longer timeout meaning 65s (see ack.EffectiveTimeout). Zero
// means nobody waits (HTTP 202).
func MessageTimeout(h protocol.Headers, door ack.Door, claim bool) (time.Duration, error) {
	kind := ack.LiveMessage
	if claim {
		kind = ack.ClaimMessage
	}
	return ack.EffectiveTimeout(h, kind, door)
}

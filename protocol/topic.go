package protocol

import "strings"

// Topic groups, channels and criteria (SPEC.md §1.1).
const (
	GroupThings      = "things"
	GroupPolicies    = "policies"
	GroupConnections = "connections"

	ChannelTwin = "twin"
	ChannelLive = "live"

	CriterionCommands      = "commands"
	CriterionEvents        = "events"
	CriterionSearch        = "search"
	CriterionMessages      = "messages"
	CriterionErrors        = "errors"
	CriterionAcks          = "acks"
	CriterionAnnouncements = "announcements"
	CriterionStreaming     = "streaming"
)

// Command and event actions.
const (
	ActionCreate   = "create"
	ActionRetrieve = "retrieve"
	ActionModify   = "modify"
	ActionMerge    = "merge"
	ActionDelete   = "delete"

	ActionCreated  = "created"
	ActionModified = "modified"
	ActionMerged   = "merged"
	ActionDeleted  = "deleted"
)

// Placeholder stands for "any" namespace or name, as in _/_/things/twin/search/subscribe.
const Placeholder = "_"

var (
	commandActions   = set("create", "retrieve", "modify", "merge", "delete", "migrate", "checkPermissions")
	eventActions     = set("created", "modified", "merged", "deleted", "migrated")
	searchActions    = set("subscribe", "request", "cancel", "created", "next", "complete", "failed", "error")
	streamingActions = set("subscribeForPersistedEvents", "request", "cancel", "created", "next", "complete", "failed", "error")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// Topic is a parsed Ditto topic:
// <namespace>/<name>/<group>[/<channel>]/<criterion>[/<action or subject>].
// Action holds the command/event/search action; Subject holds a message
// subject, an acknowledgement label or an announcement name, which may contain
// slashes or be empty.
type Topic struct {
	Namespace string
	Name      string
	Group     string
	Channel   string
	Criterion string
	Action    string
	Subject   string
}

// ParseTopic parses s by Ditto's grammar; anything else is
// protocoladapter:unknown.topicpath.
func ParseTopic(s string) (Topic, error) {
	parts := strings.Split(s, "/")
	bad := func() (Topic, error) {
		return Topic{}, Errorf(CodeUnknownTopicPath, "The topic path '%s' is not supported.", s)
	}
	if len(parts) < 4 {
		return bad()
	}
	t := Topic{Namespace: parts[0], Name: parts[1], Group: parts[2]}
	rest := parts[3:]
	switch t.Group {
	case GroupThings:
		if rest[0] != ChannelTwin && rest[0] != ChannelLive {
			return bad()
		}
		t.Channel, rest = rest[0], rest[1:]
	case GroupPolicies, GroupConnections:
	default:
		return bad()
	}
	if len(rest) == 0 {
		return bad()
	}
	t.Criterion, rest = rest[0], rest[1:]
	action := func(allowed map[string]bool) (Topic, error) {
		if len(rest) != 1 || !allowed[rest[0]] {
			return bad()
		}
		t.Action = rest[0]
		return t, nil
	}
	switch t.Criterion {
	case CriterionCommands:
		return action(commandActions)
	case CriterionEvents:
		return action(eventActions)
	case CriterionSearch:
		if t.Group != GroupThings || t.Channel != ChannelTwin {
			return bad()
		}
		return action(searchActions)
	case CriterionStreaming:
		if t.Channel == ChannelLive {
			return bad()
		}
		return action(streamingActions)
	case CriterionErrors:
		if len(rest) != 0 {
			return bad()
		}
		return t, nil
	case CriterionMessages:
		if t.Group != GroupThings || t.Channel != ChannelLive {
			return bad()
		}
		t.Subject = strings.Join(rest, "/")
		return t, nil
	case CriterionAcks, CriterionAnnouncements:
		t.Subject = strings.Join(rest, "/")
		return t, nil
	}
	return bad()
}

// String formats t back into its topic text.
func (t Topic) String() string {
	var b strings.Builder
	b.Grow(len(t.Namespace) + len(t.Name) + len(t.Action) + len(t.Subject) + 32)
	b.WriteString(t.Namespace)
	b.WriteByte('/')
	b.WriteString(t.Name)
	b.WriteByte('/')
	b.WriteString(t.Group)
	if t.Channel != "" {
		b.WriteByte('/')
		b.WriteString(t.Channel)
	}
	b.WriteByte('/')
	b.WriteString(t.Criterion)
	switch {
	case t.Action != "":
		b.WriteByte('/')
		b.WriteString(t.Action)
	case t.Criterion == CriterionMessages || t.Criterion == CriterionAcks || t.Criterion == CriterionAnnouncements:
		if t.Subject != "" {
			b.WriteByte('/')
			b.WriteString(t.Subject)
		}
	}
	return b.String()
}

// EntityID is the topic's namespace and name joined into a Ditto entity id.
func (t Topic) EntityID() string { return t.Namespace + ":" + t.Name }

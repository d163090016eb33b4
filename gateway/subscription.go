package gateway

import (
	"regexp"
	"strings"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

// subscriber is a session that started events, or a Server-Sent Events
// stream, with its filter, compiled once at START. Entries are immutable: a
// new START replaces the entry.
type subscriber struct {
	r receiver
	// subjects are the session's, fixed for its life (a JWT-TOKEN refresh
	// must keep them): whose policy view the session gets.
	subjects   []string
	namespaces []string       // empty: every namespace
	filter     *rql.Predicate // nil: every event
	extra      extraSelection // empty: no enrichment
	// thingIDs are the things an SSE stream asked for (ids, or the thing
	// of /things/{thingId}); nil: every thing.
	thingIDs map[string]struct{}
	// sse is how an SSE stream shapes its events; nil: as Ditto Protocol
	// envelopes (WebSocket).
	sse *sseFormat
	// declared are the acknowledgement labels the session declared (see
	// signalAcks); nil for most sessions and every SSE stream.
	declared []string
}

// extraSelection is a parsed extraFields parameter; text keys the cache of
// extras computed once per event for all sessions selecting the same fields.
type extraSelection struct {
	text   string
	fields protocol.FieldSelector
}

// extraFieldRoots are the fields a thing's extraFields may select, as
// Ditto's ThingFieldSelector allows.
var extraFieldRoots = regexp.MustCompile(`^(thingId|policyId|definition|_namespace|_revision|_created|_modified|_metadata|_policy|_context|features|attributes)$`)

// receiver is where a subscription's signals go (STYLE.md: one transport
// seam): a WebSocket session, or a Server-Sent Events stream. Both are
// comparable pointers, which identify the subscription in its hub.
type receiver interface {
	// push queues one encoded signal; it never blocks.
	push(data []byte) pushResult
	// closeSlow ends a receiver whose queue overflowed; it never blocks.
	closeSlow()
}

// push implements receiver.
func (s *session) push(data []byte) pushResult { return s.queue.push(data) }

// closeSlow implements receiver: rather than drop, close. A session that
// silently misses events holds a wrong twin state without knowing it, while
// a closed session reconnects and resynchronises; Ditto's clients do so.
func (s *session) closeSlow() { s.close(reasonSlow) }

// newSubscriber parses the parameters of a START-SEND-… of session s.
func newSubscriber(s *session, params map[string]string) (subscriber, error) {
	sub, err := parseSubscription(s, s.who.Subjects, params)
	sub.declared = s.declared
	return sub, err
}

// parseSubscription builds the subscription of r, a receiver of subjects,
// from its parameters (namespaces, filter, extraFields).
func parseSubscription(r receiver, subjects []string, params map[string]string) (subscriber, error) {
	sub := subscriber{r: r, subjects: subjects, namespaces: splitList(params[paramNamespaces])}
	if text := params[paramFilter]; text != "" {
		filter, err := rql.ParseFilter(text)
		if err != nil {
			return subscriber{}, err
		}
		// Ditto evaluates event filters in memory, where ne also matches a
		// missing field (unlike search).
		if sub.filter, err = rql.Compile(filter, rql.NeMatchesMissing()); err != nil {
			return subscriber{}, err
		}
	}
	if text := params[paramExtraFields]; text != "" {
		fields, err := protocol.ParseFieldSelector(text)
		if err != nil {
			return subscriber{}, err
		}
		for _, root := range fields.Roots() {
			if !extraFieldRoots.MatchString(root) {
				return subscriber{}, fieldSelectionInvalid(text)
			}
		}
		sub.extra = extraSelection{text: text, fields: fields}
	}
	return sub, nil
}

// fieldSelectionInvalid is Ditto's error for a selection of fields a thing
// does not have.
func fieldSelectionInvalid(text string) *protocol.Error {
	return protocol.Errorf(protocol.CodeFieldSelectionInvalid, "Thing field selection <%s> was not valid.", text).
		WithDescription("Please provide a comma separated List of valid Thing fields. Valid Fields are: thingId, policyId, definition, _namespace, _revision, _created, _modified, _metadata, _policy, features, attributes.")
}

// wants tells whether the subscriber asked for the events of thingID in
// namespace.
func (sub *subscriber) wants(namespace, thingID string) bool {
	if sub.thingIDs != nil {
		if _, ok := sub.thingIDs[thingID]; !ok {
			return false
		}
	}
	if len(sub.namespaces) == 0 {
		return true
	}
	for _, ns := range sub.namespaces {
		if ns == namespace {
			return true
		}
	}
	return false
}

// delivery is what one event looks like to the sessions sharing one policy
// view and one extraFields selection: computed at most once per event and
// outcome.
type delivery struct {
	view       *policy.View   // the readers' view; nil: they read everything
	unreadable bool           // the readers may read nothing of the change
	emptied    bool           // unreadable because pruning left nothing (not for lack of a grant)
	value      any            // the event value as they may read it, when pruned
	pruned     bool           // value replaces the event's value
	extra      map[string]any // nil without enrichment
	input      *rql.Input     // what filters see: the changed data plus the extras; built on first use
	data       []byte         // the encoded event, encoded on first use
	// sseThing is the event as SSE streams show it (see sseThing), built
	// on first use; sse holds its data lines per sseFormat.key, nil for a
	// format that shows nothing of the change.
	sseThing map[string]any
	sse      map[string][]byte
}

// eventView prepares, per event, the deliveries for each distinct policy view
// and extraFields selection, so that a thousand sessions with the same view
// and parameters cost one pruning, one selection, one merge and one encoding.
type eventView struct {
	ev       *twin.Event
	decoded  any              // the event value, decoded on first use
	path     protocol.Pointer // the event path
	changed  map[string]any   // the event as a thing, built on first use
	topic    *protocol.Topic
	outcomes map[outcomeKey]*delivery
}

// outcomeKey identifies a delivery: views with the same key prune alike
// ("" for views that read everything), extras with the same text select
// alike.
type outcomeKey struct {
	view, extra string
}

func newEventView(ev *twin.Event) *eventView {
	path, _ := protocol.ParsePointer(ev.Envelope.Path)
	return &eventView{ev: ev, path: path, outcomes: map[outcomeKey]*delivery{}}
}

func (v *eventView) deliveryFor(reader *policy.View, sel extraSelection) *delivery {
	if twin.ReadsAll(reader) {
		reader = nil
	}
	key := outcomeKey{extra: sel.text}
	if reader != nil {
		key.view = reader.Key()
	}
	if d, ok := v.outcomes[key]; ok {
		return d
	}
	d := &delivery{view: reader}
	v.outcomes[key] = d
	if reader != nil {
		v.prune(d)
		if d.unreadable {
			return d
		}
	}
	if sel.fields != nil && v.ev.Thing != nil {
		if extra, ok := sel.fields.Select(v.ev.Thing).(map[string]any); ok && len(extra) > 0 {
			if reader != nil {
				readable, _ := twin.Readable(reader, nil, extra)
				extra, _ = readable.(map[string]any)
			}
			if len(extra) > 0 {
				d.extra = extra
			}
		}
	}
	return d
}

// prune narrows the event to what d's readers may read (SPEC.md §11.4): they
// get it only if they may read some of the changed resource, and a change
// whose value prunes to nothing is not theirs.
func (v *eventView) prune(d *delivery) {
	if !d.view.CanRead("thing", v.path) {
		d.unreadable = true
		return
	}
	if v.ev.Envelope.Value == nil {
		return
	}
	decoded, err := v.value()
	if err != nil {
		d.unreadable = true
		return
	}
	readable, ok := twin.Readable(d.view, v.path, decoded)
	if !ok {
		d.unreadable, d.emptied = true, true
		return
	}
	d.value, d.pruned = readable, true
}

// value is the event value, decoded on first use.
func (v *eventView) value() (any, error) {
	if v.decoded == nil {
		decoded, err := protocol.DecodeValue(v.ev.Envelope.Value)
		if err != nil {
			return nil, err
		}
		v.decoded = decoded
	}
	return v.decoded, nil
}

// matches evaluates filter on what Ditto's filters see: the changed data
// plus the delivery's extras, both as the readers may read them.
func (v *eventView) matches(filter *rql.Predicate, d *delivery) bool {
	if d.input == nil {
		if v.changed == nil {
			v.changed = changedThing(v.ev)
		}
		changed := v.changed
		if d.view != nil {
			readable, _ := twin.Readable(d.view, nil, changed)
			changed, _ = readable.(map[string]any)
		}
		in := rql.Input{Thing: changed, Placeholder: v.placeholder}
		if d.extra != nil {
			in.Thing = deepMerge(changed, d.extra)
		}
		d.input = &in
	}
	return filter.Match(*d.input)
}

// encoded returns the delivery's event bytes, encoding them on first use.
func (d *delivery) encoded(ev *twin.Event) []byte {
	if d.data == nil {
		d.data = d.encode(ev, ev.Envelope.Headers)
	}
	return d.data
}

// encode encodes the event as d's readers get it, with headers.
func (d *delivery) encode(ev *twin.Event, headers protocol.Headers) []byte {
	env := ev.Envelope
	env.Headers = headers
	if d.pruned {
		env.Value = protocol.EncodeValue(d.value)
	}
	if d.extra != nil {
		env.Extra = protocol.EncodeValue(d.extra)
	}
	return env.AppendJSON(make([]byte, 0, encodedSize(&env)))
}

// placeholder resolves the topic:, resource: and header: placeholders of
// event filters.
func (v *eventView) placeholder(name string) (string, bool) {
	t := v.parsedTopic()
	switch name {
	case "topic:full":
		return v.ev.Envelope.Topic, true
	case "topic:namespace":
		return t.Namespace, true
	case "topic:entityName":
		return t.Name, true
	case "topic:group":
		return t.Group, true
	case "topic:channel":
		return t.Channel, true
	case "topic:criterion":
		return t.Criterion, true
	case "topic:action":
		return t.Action, t.Action != ""
	case "topic:subject":
		return t.Subject, t.Subject != ""
	case "topic:action-subject":
		if t.Action != "" {
			return t.Action, true
		}
		return t.Subject, t.Subject != ""
	case "resource:type":
		return "thing", true
	case "resource:path":
		return v.ev.Envelope.Path, true
	}
	if h, ok := strings.CutPrefix(name, "header:"); ok {
		value, found := v.ev.Envelope.Headers.Get(h)
		return value, found
	}
	return "", false
}

// parsedTopic is the event's topic, parsed on first use.
func (v *eventView) parsedTopic() *protocol.Topic {
	if v.topic == nil {
		t, _ := protocol.ParseTopic(v.ev.Envelope.Topic)
		v.topic = &t
	}
	return v.topic
}

// changedThing is the event as a thing, as Ditto's filters see it: thingId,
// _namespace, _revision and _modified, and the event's value at its path
// (nothing for a deletion).
func changedThing(ev *twin.Event) map[string]any {
	out := map[string]any{
		"thingId":    ev.ThingID,
		"_namespace": ev.Namespace,
		"_revision":  ev.Revision,
	}
	if !ev.Modified.IsZero() {
		out["_modified"] = protocol.FormatInstant(ev.Modified)
	}
	if ev.Envelope.Value == nil || strings.HasSuffix(ev.Envelope.Topic, "/deleted") {
		return out
	}
	value, err := protocol.DecodeValue(ev.Envelope.Value)
	if err != nil {
		return out
	}
	ptr, err := protocol.ParsePointer(ev.Envelope.Path)
	if err != nil {
		return out
	}
	if len(ptr) == 0 {
		if obj, ok := value.(map[string]any); ok {
			return deepMerge(obj, out)
		}
		return out
	}
	node := out
	for _, k := range ptr[:len(ptr)-1] {
		next := map[string]any{}
		node[k] = next
		node = next
	}
	node[ptr[len(ptr)-1]] = value
	return out
}

// deepMerge returns a new object with b's members merged into a's, objects
// merged recursively; neither input is modified.
func deepMerge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bo, ok := v.(map[string]any); ok {
			if ao, ok := out[k].(map[string]any); ok {
				out[k] = deepMerge(ao, bo)
				continue
			}
		}
		out[k] = v
	}
	return out
}

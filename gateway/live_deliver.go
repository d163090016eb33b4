package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

// liveSignal is a message or live command on its way to the sessions of its
// stream, with what it looks like to each distinct group of them.
type liveSignal struct {
	env       protocol.Envelope // as receivers get it, without extra
	topic     protocol.Topic
	target    *twin.LiveTarget
	resType   string           // the policy resource receivers need READ on …
	resPath   protocol.Pointer // … and its path
	featureID string           // the feature: placeholder

	plain    *liveOutcome // receivers without extraFields
	outcomes map[outcomeKey]*liveOutcome
	sse      []byte // the event of message streams (sseEvent), encoded on first use
}

// liveOutcome is the signal as the receivers sharing one policy view and one
// extraFields selection get it: enriched, filtered and encoded once for all
// of them.
type liveOutcome struct {
	extra    map[string]any    // nil without enrichment
	input    *rql.Input        // what filters see, built on first use
	data     []byte            // encoded on first use
	variants map[string][]byte // encodings per requested-acks value (see liveSignal.encoded)
}

// deliver queues sig to every session of stream st that may receive it (READ
// on its resource, Ditto's LiveSignalEnforcement: granted there, whatever
// is revoked below; live signals are not pruned), whose namespaces and
// filter match, except origin, the session that sent it (Ditto never
// publishes a signal back to the connection it came from). The SSE streams
// of messages in the hub are chosen by the same rule, among the messages of
// their mailbox, and get one shared event (sseEvent); they never answer,
// and have no acknowledgement labels. The sessions it
// reaches become responders of req (nil: no reply awaited) before the
// signal is queued, so that one closing in between is noticed either by
// its own close (ResponderGone) or here, when the queue refuses the signal.
// Custom acknowledgement labels are handled as for events (see signalAcks):
// each session sees the labels it declared, and a declaring session that
// does not get the signal has a weak acknowledgement issued.
func (r *liveRouter) deliver(st stream, sig *liveSignal, origin receiver, req *live.Request) int {
	acks := r.g.signalAcks(sig.env.Headers)
	defer acks.issueWeak()
	subs := r.g.hubs[st].snapshot()
	if len(subs) == 0 {
		return 0
	}
	type recipient struct {
		r     receiver
		data  []byte
		owner live.OwnerID // "" when it cannot answer
	}
	var to []recipient
	var owners []live.OwnerID
	ns := sig.target.Namespace
	for i := range subs {
		sub := &subs[i]
		if sub.r == origin || (sub.sse != nil && !sub.sse.receivesMessage(sig)) {
			continue
		}
		if !sub.wants(ns, sig.target.ThingID) {
			acks.missed(sub.declared, ack.WeakNotAuthorized)
			continue
		}
		// Without extraFields the filter sees the same for every receiver:
		// it is checked first, as it rejects most receivers of a signal
		// addressed by a filter (a device per thing) more cheaply than
		// their policy view. A declaring session still learns the reason
		// Ditto gives, the permission check coming first there.
		var o *liveOutcome
		if sub.extra.fields == nil {
			o = sig.outcome(nil, sub.extra)
			if sub.filter != nil && !o.matches(sig, sub.filter) {
				why := ack.WeakFiltered
				if len(sub.declared) > 0 && !sig.readableBy(sub.subjects) {
					why = ack.WeakNotAuthorized
				}
				acks.missed(sub.declared, why)
				continue
			}
		}
		var view *policy.View
		if sig.target.Policy != nil {
			view = sig.target.Policy.View(sub.subjects, ns)
			if !view.Granted(policy.Read, sig.resType, sig.resPath) {
				acks.missed(sub.declared, ack.WeakNotAuthorized)
				continue
			}
		}
		if o == nil {
			o = sig.outcome(view, sub.extra)
			if sub.filter != nil && !o.matches(sig, sub.filter) {
				acks.missed(sub.declared, ack.WeakFiltered)
				continue
			}
		}
		if sub.sse != nil {
			to = append(to, recipient{r: sub.r, data: sig.sseEvent()})
			continue
		}
		rc := recipient{r: sub.r, data: sig.encoded(o, acks, sub.declared)}
		acks.reached(sub.declared)
		if s, ok := sub.r.(*session); ok && req != nil {
			rc.owner = s.liveOwner()
			owners = append(owners, rc.owner)
		}
		to = append(to, rc)
	}
	if len(owners) > 0 {
		r.pending.AddResponders(req, owners...)
	}
	delivered := 0
	for _, rc := range to {
		switch rc.r.push(rc.data) {
		case pushed:
			delivered++
			continue
		case pushFull:
			rc.r.closeSlow()
		case pushClosed:
		}
		if rc.owner != "" {
			r.pending.ResponderGone(rc.owner)
		}
	}
	return delivered
}

// encoded is outcome o as a session that declared declared gets it: the
// shared bytes, or, when custom acknowledgements are requested, the bytes
// of its requested-acks variant (the labels it declared), encoded once per
// outcome and variant.
func (sig *liveSignal) encoded(o *liveOutcome, acks *signalAcks, declared []string) []byte {
	if acks == nil {
		return o.encoded(sig, nil)
	}
	requested := acks.requestedFor(declared)
	if b, ok := o.variants[requested]; ok {
		return b
	}
	headers := sig.env.Headers.Clone()
	headers[protocol.HeaderRequestedAcks] = requested
	b := o.encoded(sig, headers)
	if o.variants == nil {
		o.variants = map[string][]byte{}
	}
	o.variants[requested] = b
	return b
}

// readableBy tells whether subjects may receive sig.
func (sig *liveSignal) readableBy(subjects []string) bool {
	return sig.target.Policy == nil ||
		sig.target.Policy.View(subjects, sig.target.Namespace).Granted(policy.Read, sig.resType, sig.resPath)
}

// outcome is the signal as receivers with view and sel see it.
func (sig *liveSignal) outcome(view *policy.View, sel extraSelection) *liveOutcome {
	if sel.fields == nil {
		if sig.plain == nil {
			sig.plain = &liveOutcome{}
		}
		return sig.plain
	}
	if twin.ReadsAll(view) {
		view = nil
	}
	key := outcomeKey{extra: sel.text}
	if view != nil {
		key.view = view.Key()
	}
	if o, ok := sig.outcomes[key]; ok {
		return o
	}
	if sig.outcomes == nil {
		sig.outcomes = map[outcomeKey]*liveOutcome{}
	}
	o := &liveOutcome{}
	sig.outcomes[key] = o
	if thing := sig.target.Thing(); thing != nil {
		if extra, ok := sel.fields.Select(thing).(map[string]any); ok && len(extra) > 0 {
			if view != nil {
				readable, _ := twin.Readable(view, nil, extra)
				extra, _ = readable.(map[string]any)
			}
			if len(extra) > 0 {
				o.extra = extra
			}
		}
	}
	return o
}

// matches evaluates filter as Ditto does for signals that carry no thing
// data (SPEC.md §13.4): on a thing made of the extra fields alone, with the
// signal's topic:, resource:, header:, thing: and feature: placeholders.
func (o *liveOutcome) matches(sig *liveSignal, filter *rql.Predicate) bool {
	if o.input == nil {
		thing := o.extra
		if thing == nil {
			thing = map[string]any{}
		}
		o.input = &rql.Input{Thing: thing, Placeholder: sig.placeholder}
	}
	return filter.Match(*o.input)
}

// encoded returns the outcome's bytes with headers (nil: the signal's),
// encoding the shared ones once.
func (o *liveOutcome) encoded(sig *liveSignal, headers protocol.Headers) []byte {
	if headers == nil && o.data != nil {
		return o.data
	}
	env := sig.env
	if headers != nil {
		env.Headers = headers
	}
	if o.extra != nil {
		env.Extra = protocol.EncodeValue(o.extra)
	}
	b := env.AppendJSON(make([]byte, 0, encodedSize(&env)))
	if headers == nil {
		o.data = b
	}
	return b
}

// placeholder resolves the placeholders of filters on live signals.
func (sig *liveSignal) placeholder(name string) (string, bool) {
	if v, known, ok := topicPlaceholder(sig.env.Topic, &sig.topic, name); known {
		return v, ok
	}
	switch name {
	case "resource:type":
		return sig.resType, true
	case "resource:path":
		return sig.env.Path, true
	case "thing:id":
		return sig.target.ThingID, true
	case "thing:namespace":
		return sig.target.Namespace, true
	case "thing:name":
		_, name, _ := strings.Cut(sig.target.ThingID, ":")
		return name, true
	case "feature:id":
		return sig.featureID, sig.featureID != ""
	}
	if h, ok := strings.CutPrefix(name, "header:"); ok {
		return sig.env.Headers.Get(h)
	}
	return "", false
}

// topicPlaceholder resolves the topic: placeholders of full, parsed as t;
// known is false for names that are not topic placeholders.
func topicPlaceholder(full string, t *protocol.Topic, name string) (value string, known, ok bool) {
	switch name {
	case "topic:full":
		return full, true, true
	case "topic:namespace":
		return t.Namespace, true, true
	case "topic:entityName":
		return t.Name, true, true
	case "topic:group":
		return t.Group, true, true
	case "topic:channel":
		return t.Channel, true, true
	case "topic:criterion":
		return t.Criterion, true, true
	case "topic:action":
		return t.Action, true, t.Action != ""
	case "topic:subject":
		return t.Subject, true, t.Subject != ""
	case "topic:action-subject":
		if t.Action != "" {
			return t.Action, true, true
		}
		return t.Subject, true, t.Subject != ""
	}
	return "", false, false
}

// publishLiveEvent checks an event a device sends on the live channel and
// delivers it to the sessions that started live events as twin events are
// delivered (Publish: partial READ, pruned per policy view, filters on the
// changed data plus extras, custom acknowledgement labels), but never back
// to origin, the session that sent it.
func (r *liveRouter) publishLiveEvent(ctx context.Context, who auth.Context, env protocol.Envelope, origin receiver) error {
	target, err := r.things.AuthorizeLiveEvent(ctx, who, env)
	if err != nil {
		return err
	}
	headers := protocol.ExternalHeaders(env.Headers)
	setOriginator(headers, who)
	out := env
	out.Headers = headers
	ev := twin.Event{ThingID: target.ThingID, Namespace: target.Namespace, Revision: env.Revision, Envelope: out,
		Policy: target.Policy, Unenforced: target.Policy == nil}
	if t, err := time.Parse(time.RFC3339Nano, env.Timestamp); err == nil {
		ev.Modified = t
	}
	acks := r.g.signalAcks(headers)
	defer acks.issueWeak()
	subs := r.g.hubs[streamLiveEvents].snapshot()
	if len(subs) == 0 {
		return nil
	}
	if wantsExtra(subs) {
		ev.Thing = target.Thing()
	}
	var view *eventView // built on first use
	delivered := 0
	for i := range subs {
		sub := &subs[i]
		if sub.r == origin || sub.sse != nil {
			// SSE streams of live events are not served: their format is
			// the SSE door's.
			continue
		}
		if !sub.wants(ev.Namespace, ev.ThingID) {
			acks.missed(sub.declared, ack.WeakNotAuthorized)
			continue
		}
		var reader *policy.View // nil: reads everything
		if ev.Policy != nil {
			reader = ev.Policy.View(sub.subjects, ev.Namespace)
		}
		if view == nil {
			view = newEventView(&ev)
		}
		d := view.deliveryFor(reader, sub.extra)
		if d.unreadable || (sub.filter != nil && !view.matches(sub.filter, d)) {
			why := ack.WeakFiltered
			if d.unreadable && !d.emptied {
				why = ack.WeakNotAuthorized
			}
			acks.missed(sub.declared, why)
			continue
		}
		data := acks.encoded(d, &ev, sub.declared)
		acks.reached(sub.declared)
		switch sub.r.push(data) {
		case pushed:
			delivered++
		case pushFull:
			sub.r.closeSlow()
		case pushClosed:
		}
	}
	if delivered > 0 {
		r.g.metrics.EventsDelivered.Add(float64(delivered))
	}
	return nil
}

// wantsExtra tells whether some subscriber selected extraFields, so that the
// thing they select from is worth reading.
func wantsExtra(subs []subscriber) bool {
	for i := range subs {
		if subs[i].extra.fields != nil {
			return true
		}
	}
	return false
}

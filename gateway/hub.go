package gateway

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// hub keeps the sessions that started events in a copy-on-write snapshot:
// subscribe and unsubscribe rebuild the slice under mu and publish it
// atomically, Publish reads the current snapshot without any lock. A change
// costs O(sessions); events are far more frequent than subscriptions. When
// that no longer holds, shard the registry (e.g. by namespace).
type hub struct {
	mu   sync.Mutex // serialises changes to subs; Publish never takes it
	subs atomic.Pointer[[]subscriber]
}

func (h *hub) snapshot() []subscriber {
	if p := h.subs.Load(); p != nil {
		return *p
	}
	return nil
}

// subscribe adds sub's session, or replaces its subscription.
func (h *hub) subscribe(sub subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.snapshot()
	next := make([]subscriber, 0, len(old)+1)
	for _, o := range old {
		if o.r != sub.r {
			next = append(next, o)
		}
	}
	next = append(next, sub)
	h.subs.Store(&next)
}

// unsubscribe removes r; removing an absent receiver changes nothing.
func (h *hub) unsubscribe(r receiver) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.snapshot()
	i := 0
	for i < len(old) && old[i].r != r {
		i++
	}
	if i == len(old) {
		return
	}
	next := make([]subscriber, 0, len(old)-1)
	next = append(next, old[:i]...)
	next = append(next, old[i+1:]...)
	h.subs.Store(&next)
}

// Publish fans ev out to every session or SSE stream that started events,
// may read some of the change under the thing's policy, and whose thing ids,
// namespaces and filter match; each gets the event pruned to what it may
// read and enriched with the extra fields it selected. Each distinct outcome
// (per policy view and extraFields selection) is computed once and encoded
// once per transport format: one protocol envelope for every WebSocket
// session sharing it, one data line per SSE field selection (see sseData);
// the same bytes are queued to every receiver sharing them. Publish never
// blocks. A receiver whose queue is full is closed as too slow (the close
// runs off this loop).
//
// Publish implements twin.EventSink.
func (g *Gateway) Publish(ev twin.Event) {
	subs := g.hubs[streamEvents].snapshot()
	// acks is nil unless the event requests custom acknowledgements; then
	// each session sees the labels it declared, and a declaring session
	// that does not get the event has a weak acknowledgement issued.
	acks := g.eventAcks(&ev)
	defer acks.issueWeak()
	if len(subs) == 0 || (ev.Policy == nil && !ev.Unenforced) {
		// Without a policy nobody may read the thing.
		return
	}
	namespace := ev.Namespace
	if namespace == "" {
		namespace, _, _ = strings.Cut(ev.ThingID, ":")
	}
	var view *eventView // built on first use: most events find no filter
	delivered := 0
	for i := range subs {
		sub := &subs[i]
		if !sub.wants(namespace, ev.ThingID) {
			// Ditto's pubsub topics combine namespace and subject.
			acks.missed(sub.declared, ack.WeakNotAuthorized)
			continue
		}
		var reader *policy.View // nil: reads everything
		if ev.Policy != nil {
			reader = ev.Policy.View(sub.subjects, namespace)
		}
		if view == nil {
			view = newEventView(&ev)
		}
		d := view.deliveryFor(reader, sub.extra)
		if d.unreadable || (sub.filter != nil && !view.matches(sub.filter, d)) {
			why := ack.WeakFiltered // an RQL filter, or partial access left nothing
			if d.unreadable && !d.emptied {
				why = ack.WeakNotAuthorized
			}
			acks.missed(sub.declared, why)
			continue
		}
		var data []byte
		if sub.sse == nil {
			data = acks.encoded(d, &ev, sub.declared)
			acks.reached(sub.declared)
		} else if data = view.sseData(d, sub.sse); data == nil {
			continue // the stream's field selection shows nothing of this change
		}
		switch sub.r.push(data) {
		case pushed:
			delivered++
		case pushFull:
			sub.r.closeSlow()
		case pushClosed:
			// The session is going away; nothing to deliver to.
		}
	}
	if delivered > 0 {
		g.metrics.EventsDelivered.Add(float64(delivered))
	}
}

// encodedSize estimates the JSON size of env, so that encoding allocates once
// in the common case (strings that need escaping may grow it).
func encodedSize(env *protocol.Envelope) int {
	n := 128 + len(env.Topic) + len(env.Path) + len(env.Value) + len(env.Fields) + len(env.Extra) + len(env.Timestamp)
	for k, v := range env.Headers {
		n += len(k) + len(v) + 6
	}
	return n
}

// unsubscribeAll ends every stream of r.
func (g *Gateway) unsubscribeAll(r receiver) {
	for i := range g.hubs {
		g.hubs[i].unsubscribe(r)
	}
}

// streamSupported tells whether the gateway delivers a stream; the live
// streams need live routing.
func (g *Gateway) streamSupported(st stream) bool {
	return st == streamEvents || g.live != nil
}

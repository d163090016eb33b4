package gateway

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// subscriber is a session that started events, with its filter. Entries are
// immutable: a new START replaces the entry.
type subscriber struct {
	s          *session
	namespaces []string // empty: every namespace
}

func (sub *subscriber) wants(namespace string) bool {
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

// subscribe adds s, or replaces its filter.
func (h *hub) subscribe(s *session, namespaces []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.snapshot()
	next := make([]subscriber, 0, len(old)+1)
	for _, sub := range old {
		if sub.s != s {
			next = append(next, sub)
		}
	}
	next = append(next, subscriber{s: s, namespaces: namespaces})
	h.subs.Store(&next)
}

// unsubscribe removes s; removing an absent session changes nothing.
func (h *hub) unsubscribe(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.snapshot()
	i := 0
	for i < len(old) && old[i].s != s {
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

// Publish fans ev out to every session that started events and whose
// namespaces match. It encodes the event once and queues the same bytes to
// each session; it never blocks. A session whose queue is full is closed as
// too slow (the close runs on its own goroutine).
//
// Publish implements twin.EventSink.
func (g *Gateway) Publish(ev twin.Event) {
	subs := g.hub.snapshot()
	if len(subs) == 0 {
		return
	}
	namespace := ev.Namespace
	if namespace == "" {
		namespace, _, _ = strings.Cut(ev.ThingID, ":")
	}
	var data []byte
	delivered := 0
	for i := range subs {
		sub := &subs[i]
		if !sub.wants(namespace) {
			continue
		}
		// Entitlement: until policies exist, every authenticated session
		// that started events may read every event. The policy check (is a
		// subject of sub.s.who among the event's readers?) and the trimming
		// of the value to what it may read plug in here; trimmed variants
		// are then encoded once per distinct outcome, not per session.
		if data == nil {
			data = ev.Envelope.AppendJSON(make([]byte, 0, encodedSize(&ev.Envelope)))
		}
		switch sub.s.queue.push(data) {
		case pushed:
			delivered++
		case pushFull:
			// Close rather than drop: a session that silently misses events
			// holds a wrong twin state without knowing it, while a closed
			// session reconnects and resynchronises. Ditto's clients do so.
			sub.s.close(reasonSlow)
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

package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
)

// Server-Sent Events of twin changes and of live messages (SPEC.md §9, SSE),
// the second transport behind the receiver seam. The wire shape is Eclipse
// Ditto's (ThingsSseRouteBuilder): every change a stream may read is one
// event "data:<json>\n\n", without event: or id: lines, whose JSON is a
// thing holding only the changed part (see sseThing); every message a
// message stream may read is one event "data:<payload>\nevent:<subject>\n\n"
// (see sseMessageEvent); a stream that sent nothing for sseHeartbeat gets an
// event with empty data, "data:\n\n" (Pekko's keepAlive with
// ServerSentEvent.heartbeat).

// sseHeartbeat is Ditto's fixed keep-alive period of SSE streams.
const sseHeartbeat = time.Second

// heartbeatEvent is the keep-alive event: empty data.
var heartbeatEvent = []byte("data:\n\n")

// SSERequest is what a Server-Sent Events stream asks for: the route and
// the parameters of GET /api/2/things and /api/2/things/{thingId}[/{path}]
// with Accept: text/event-stream, as the request carried them. ServeSSE
// validates them.
type SSERequest struct {
	// ThingIDs are the things whose changes the stream carries: the ids
	// parameter ("ns:a,ns:b"), or the thing of /things/{thingId}; "" for
	// every thing.
	ThingIDs string
	// Path is the sub-path of /things/{thingId}/{path} ("/attributes/x"):
	// each event is then the value found there after the change, not a
	// thing, and Fields is ignored. "" or "/" for thing-shaped events. A
	// message path (see IsMessagePath) makes the stream one of that
	// thing's messages instead, and every other field but ThingIDs is
	// ignored, as Ditto ignores those parameters there.
	Path string
	// Namespaces, Filter, Fields and ExtraFields are the parameters of the
	// same names; "" for none.
	Namespaces, Filter, Fields, ExtraFields string
}

// ServeSSE streams to w, as Server-Sent Events, the twin changes that who
// may read and req selects, pruned to what who may read exactly like
// WebSocket events, until the client goes away, a write fails, the stream
// falls too far behind, the caller's credentials expire (who.Expiry, as a
// WebSocket session ends at its JWT's exp; an expiry
// auth.MaxSessionLifetime or more away, or none, never ends it), or the
// gateway shuts down. It returns an error (a
// *protocol.Error: an invalid id, field selection, filter, …, or 503 while
// shutting down) having written nothing, for the caller to answer; else nil
// once the stream ended.
//
// The caller's goroutine (net/http's, for the request) runs the stream: it
// writes the queued events in batches, one flush per batch, and the
// heartbeats, each write bounded by Config.WriteTimeout. Publish only queues
// to it, bounded like a WebSocket session's queue (Config.QueueMessages,
// QueueBytes). A stream whose queue overflows is ended, not thinned out,
// as a slow WebSocket session is closed: a client that silently misses
// changes holds a wrong twin state, while one whose stream ended knows it
// must reconnect (EventSource does so by itself) and read the twin again.
// The response says Connection: close, so that the
// connection, which may carry a write deadline and a stalled reader, is not
// reused after the stream.
//
// A stream of a message path (IsMessagePath) carries, instead of changes,
// the messages of the live channel that go to or come from that mailbox:
// it joins the hub of WebSocket sessions that started messages, so that the
// same fan-out (liveRouter.deliver) chooses its messages by the same rule,
// READ on the message resource. It never answers a message.
func (g *Gateway) ServeSSE(w http.ResponseWriter, r *http.Request, who auth.Context, req SSERequest) error {
	if g.isClosing() {
		return errShuttingDown()
	}
	st, parse := streamEvents, parseSSE
	if IsMessagePath(req.Path) {
		st, parse = streamMessages, parseSSEMessages
		if !g.streamSupported(st) {
			return protocol.Errorf(protocol.CodeSignalUnsupported, "The live channel is not served by this gateway.")
		}
	}
	sub, err := parse(who.Subjects, req)
	if err != nil {
		return err
	}
	s := &sseStream{g: g, queue: newOutQueue(g.cfg.QueueMessages, g.cfg.QueueBytes), id: g.ids.Add(1),
		remote: r.RemoteAddr, subject: who.DefaultSubject()}
	if !g.addStream(s) {
		return errShuttingDown()
	}
	// Subscribed before the response starts: no change or message
	// published after the client saw the headers is missed.
	sub.r = s
	g.hubs[st].subscribe(sub)
	stop := s.expireAt(who.Expiry)
	why := s.serve(w, r)
	stop()
	g.removeStream(s, why)
	return nil
}

// expireAt ends the stream at expiry, on time rather than at its next
// write, and returns the func that stops the timer once the stream ended.
// The zero time, or one auth.MaxSessionLifetime or more away, sets none
// (the WebSocket session's rule, session.armExpiry). An expiry already
// past ends the stream at once: the credentials are no longer valid.
func (s *sseStream) expireAt(expiry time.Time) (stop func()) {
	if expiry.IsZero() || time.Until(expiry) >= auth.MaxSessionLifetime {
		return func() {}
	}
	t := time.AfterFunc(time.Until(expiry), func() { s.close(reasonExpired) })
	return func() { t.Stop() }
}

// sseStream is one Server-Sent Events response; it implements receiver.
// Publish pushes to its queue and closeSlow closes it, neither blocks; the
// request's goroutine (serve) is its only writer.
type sseStream struct {
	g     *Gateway
	queue *outQueue
	// reason is set by the first close; serve sees it at its next wake-up.
	reason atomic.Pointer[closeReason]

	id      uint64 // shares the sessions' sequence, for logs
	remote  string
	subject string

	deadline time.Time // the write deadline set last; only serve uses it
}

// push implements receiver.
func (s *sseStream) push(data []byte) pushResult { return s.queue.push(data) }

// closeSlow implements receiver: the stream ends (see ServeSSE why).
func (s *sseStream) closeSlow() { s.close(reasonSlow) }

// close ends the stream for r, once: it closes the queue, which refuses
// later pushes and wakes serve. It never blocks.
func (s *sseStream) close(r closeReason) {
	if s.reason.CompareAndSwap(nil, &r) {
		s.queue.close()
	}
}

// serve writes the response until the stream ends and returns why.
func (s *sseStream) serve(w http.ResponseWriter, r *http.Request) closeReason {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	if err := s.flush(rc); err != nil {
		return closeReason{label: "error", err: err}
	}
	heartbeat := time.NewTimer(sseHeartbeat)
	defer heartbeat.Stop()
	var batch [][]byte
	for {
		select {
		case <-r.Context().Done():
			return closeReason{label: "client", err: context.Cause(r.Context())}
		case <-heartbeat.C:
			if err := s.writeHeartbeat(w, rc); err != nil {
				return closeReason{label: "error", err: err}
			}
			heartbeat.Reset(sseHeartbeat)
		case <-s.queue.wake:
			if p := s.reason.Load(); p != nil {
				return *p
			}
			batch = s.queue.take(batch)
			if len(batch) == 0 {
				continue
			}
			err := s.write(w, rc, batch)
			clear(batch) // let the bytes go
			batch = batch[:0]
			if err != nil {
				return closeReason{label: "error", err: err}
			}
			heartbeat.Reset(sseHeartbeat) // Ditto's heartbeat fills silences only
		}
	}
}

// write writes msgs and flushes them, and tells the queue the messages it
// counted are written. It stops between two messages when the stream is
// closing.
func (s *sseStream) write(w http.ResponseWriter, rc *http.ResponseController, msgs [][]byte) error {
	if err := s.setWriteDeadline(rc); err != nil {
		return err
	}
	n, size := 0, 0
	for _, msg := range msgs {
		if s.reason.Load() != nil {
			break
		}
		if _, err := w.Write(msg); err != nil {
			return err
		}
		n++
		size += len(msg)
	}
	s.queue.written(n, size)
	return s.flush(rc)
}

// writeHeartbeat writes and flushes a heartbeat, which is never queued.
func (s *sseStream) writeHeartbeat(w http.ResponseWriter, rc *http.ResponseController) error {
	if err := s.setWriteDeadline(rc); err != nil {
		return err
	}
	if _, err := w.Write(heartbeatEvent); err != nil {
		return err
	}
	return s.flush(rc)
}

func (s *sseStream) flush(rc *http.ResponseController) error {
	if err := s.setWriteDeadline(rc); err != nil {
		return err
	}
	return rc.Flush()
}

// setWriteDeadline gives the writes to come a deadline WriteTimeout from
// now, keeping the one set last while it is at least 90% of WriteTimeout
// away (a deadline costs a timer update; heartbeats write every second).
// A ResponseWriter without deadlines (a test recorder) is written without.
func (s *sseStream) setWriteDeadline(rc *http.ResponseController) error {
	timeout := s.g.cfg.WriteTimeout
	now := time.Now()
	if s.deadline.Sub(now) >= timeout-timeout/10 {
		return nil
	}
	s.deadline = now.Add(timeout)
	if err := rc.SetWriteDeadline(s.deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// addStream registers s, unless Shutdown started; counting under mu keeps
// wg.Add from racing with Shutdown's Wait.
func (g *Gateway) addStream(s *sseStream) bool {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		return false
	}
	if g.streams == nil {
		g.streams = make(map[*sseStream]struct{})
	}
	g.streams[s] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	g.metrics.SessionsOpen.WithLabelValues("sse").Inc()
	s.logAt(slog.LevelDebug, "sse stream opened")
	return true
}

// removeStream forgets s, which ended for r (unless a close came first),
// and counts and logs its end.
func (g *Gateway) removeStream(s *sseStream, r closeReason) {
	s.close(r) // no-op after an earlier close; refuses later pushes
	r = *s.reason.Load()
	g.unsubscribeAll(s)
	g.mu.Lock()
	delete(g.streams, s)
	g.mu.Unlock()
	m := g.metrics
	m.SessionsOpen.WithLabelValues("sse").Dec()
	m.SessionsClosed.WithLabelValues(r.label).Inc()
	attrs := []any{"reason", r.label}
	if r.err != nil {
		attrs = append(attrs, "err", r.err)
	}
	if r.label == reasonSlow.label {
		// One count per slow close, as for sessions: the event that did
		// not fit. The events still queued are dropped with the stream.
		m.EventsDropped.WithLabelValues("session_slow").Inc()
		s.logAt(slog.LevelInfo, "sse stream closed", attrs...)
	} else {
		s.logAt(slog.LevelDebug, "sse stream closed", attrs...)
	}
	g.wg.Done()
}

// closeStreams ends every open stream (Shutdown); the streams' handlers
// return once they see it.
func (g *Gateway) closeStreams() {
	g.mu.Lock()
	open := make([]*sseStream, 0, len(g.streams))
	for s := range g.streams {
		open = append(open, s)
	}
	g.mu.Unlock()
	for _, s := range open {
		s.close(reasonShutdown)
	}
}

// logAt logs at level with the stream's id, peer and subject, building
// nothing when the level is disabled.
func (s *sseStream) logAt(level slog.Level, msg string, args ...any) {
	if s.g.log.Enabled(context.Background(), level) {
		args = append([]any{"stream", s.id, "remote", s.remote, "subject", s.subject}, args...)
		s.g.log.Log(context.Background(), level, msg, args...)
	}
}

// parseSSE validates req into the subscription of a stream (its receiver
// not set), in Ditto's order: ids, fields (or the sub-path), then the
// filter and extraFields.
func parseSSE(subjects []string, req SSERequest) (subscriber, error) {
	var ids map[string]struct{}
	if req.ThingIDs != "" {
		list := strings.Split(req.ThingIDs, ",")
		// Ditto splits as Java does, dropping trailing empty items; an
		// empty list means every thing.
		for len(list) > 0 && list[len(list)-1] == "" {
			list = list[:len(list)-1]
		}
		for _, id := range list {
			if err := protocol.ValidateThingID(id); err != nil {
				return subscriber{}, err
			}
			if ids == nil {
				ids = make(map[string]struct{}, len(list))
			}
			ids[id] = struct{}{}
		}
	}
	format, err := parseSSEFormat(req.Fields, req.Path)
	if err != nil {
		return subscriber{}, err
	}
	sub, err := parseSubscription(nil, subjects, map[string]string{
		paramNamespaces: req.Namespaces, paramFilter: req.Filter, paramExtraFields: req.ExtraFields})
	if err != nil {
		return subscriber{}, err
	}
	sub.thingIDs, sub.sse = ids, format
	return sub, nil
}

// sseFormat is how a stream shows a change (see sseThing): the whole
// thing-shaped change (regular fields only), the fields it selects, or the
// value at the sub-path of a /things/{thingId}/{path} stream. Streams with
// the same key share the encoded events.
type sseFormat struct {
	key     string
	fields  protocol.FieldSelector // nil: the regular fields
	context bool                   // fields selects _context
	path    protocol.Pointer       // non-empty: the value at path
	// messages is the mailbox of a stream of messages (sse_messages.go),
	// which is subscribed to messages, never to changes; nil for the
	// streams of changes.
	messages *sseMailbox
}

// parseSSEFormat parses the fields parameter, or the sub-path that replaces
// it (as Ditto puts the sub-path in the fields parameter). Both select only
// fields a thing has (Ditto's ThingFieldSelector): things:field.selection.invalid.
func parseSSEFormat(fields, path string) (*sseFormat, error) {
	if path != "" && path != "/" {
		ptr, err := protocol.ParsePointer(path)
		if err != nil {
			return nil, err
		}
		if !selectableField(ptr) {
			return nil, fieldSelectionInvalid(path)
		}
		return &sseFormat{key: "path:" + ptr.String(), path: ptr}, nil
	}
	if fields == "" {
		return &sseFormat{}, nil
	}
	fs, err := protocol.ParseFieldSelector(fields)
	if err != nil {
		return nil, err
	}
	f := &sseFormat{key: "fields:" + fields, fields: fs}
	for _, p := range fs {
		if !selectableField(p) {
			return nil, fieldSelectionInvalid(fields)
		}
		f.context = f.context || p[0] == "_context"
	}
	return f, nil
}

// selectableField tells whether p is a field Ditto's ThingFieldSelector
// accepts: a top-level field, or a path below the object ones.
func selectableField(p protocol.Pointer) bool {
	if len(p) == 0 {
		return false
	}
	switch p[0] {
	case "thingId", "policyId", "definition", "_namespace", "_revision", "_created", "_modified", "_policy":
		return len(p) == 1
	case "_metadata", "_context", "features", "attributes":
		return true
	}
	return false
}

// regularThingFields are the fields a thing shows unless others are
// selected (the special ones, _revision …, are hidden in Ditto's thing JSON).
var regularThingFields = []string{"thingId", "policyId", "definition", "attributes", "features"}

// thingModelFields are the fields a thing has; an extra field beyond them
// (_policy) does not survive Ditto's conversion of the change to a thing.
var thingModelFields = map[string]bool{"thingId": true, "policyId": true, "definition": true, "attributes": true,
	"features": true, "_namespace": true, "_revision": true, "_created": true, "_modified": true, "_metadata": true}

// sseData returns the event as f shows it to d's readers, one complete
// "data:…\n\n" event, or nil when it shows nothing of the change; computed
// once per outcome and format.
func (v *eventView) sseData(d *delivery, f *sseFormat) []byte {
	if data, ok := d.sse[f.key]; ok {
		return data
	}
	data := v.encodeSSE(d, f)
	if d.sse == nil {
		d.sse = make(map[string][]byte, 1)
	}
	d.sse[f.key] = data
	return data
}

// encodeSSE shapes the change as Ditto's SSE route does: the value at the
// sub-path (dropped when the change has none there), the selected fields
// (dropped when none is in the change), or the regular fields.
func (v *eventView) encodeSSE(d *delivery, f *sseFormat) []byte {
	thing := v.sseThing(d)
	var out any
	switch {
	case len(f.path) > 0:
		value, ok := valueAt(thing, f.path)
		if !ok {
			return nil
		}
		out = value
	case f.fields != nil:
		selected, _ := f.fields.Select(thing).(map[string]any)
		if len(selected) == 0 {
			// Also with _context selected: Ditto tests the thing alone.
			return nil
		}
		if f.context {
			withContext := make(map[string]any, len(thing)+1)
			for k, x := range thing {
				withContext[k] = x
			}
			withContext["_context"] = v.sseContext(d)
			selected, _ = f.fields.Select(withContext).(map[string]any)
		}
		out = selected
	default:
		regular := make(map[string]any, len(regularThingFields))
		for _, k := range regularThingFields {
			if x, ok := thing[k]; ok {
				regular[k] = x
			}
		}
		out = regular
	}
	// Compact JSON has no line breaks: one data line holds it.
	data := protocol.EncodeValue(out)
	line := make([]byte, 0, len("data:")+len(data)+2)
	line = append(line, "data:"...)
	line = append(line, data...)
	return append(line, '\n', '\n')
}

// sseThing is the change as a thing, as Ditto's SSE route builds it from an
// event (ThingEventToThingConverter): thingId, _namespace, _revision and
// _modified, plus the changed value at its path, as d's readers may read it
// (nothing for a deletion; a merge without its null members, a null merge
// as an empty object; a created or modified thing with its _created), merged
// over the delivery's extra fields (the change wins), restricted to the
// fields a thing has. Built once per outcome.
func (v *eventView) sseThing(d *delivery) map[string]any {
	if d.sseThing != nil {
		return d.sseThing
	}
	ev := v.ev
	namespace := ev.Namespace
	if namespace == "" {
		namespace, _, _ = strings.Cut(ev.ThingID, ":")
	}
	thing := map[string]any{"thingId": ev.ThingID, "_namespace": namespace, "_revision": ev.Revision}
	if !ev.Modified.IsZero() {
		thing["_modified"] = protocol.FormatInstant(ev.Modified)
	}
	if value, ok := v.readableValue(d); ok {
		action := v.parsedTopic().Action
		if action == protocol.ActionMerged {
			value = mergedValue(value)
		}
		if len(v.path) == 0 {
			if obj, isObject := value.(map[string]any); isObject {
				for k, x := range obj {
					if _, special := thing[k]; !special {
						thing[k] = x
					}
				}
				if created, ok := ev.Thing["_created"]; ok && (action == protocol.ActionCreated || action == protocol.ActionModified) {
					thing["_created"] = created
				}
			}
		} else {
			node := thing
			for _, k := range v.path[:len(v.path)-1] {
				next := map[string]any{}
				node[k] = next
				node = next
			}
			node[v.path[len(v.path)-1]] = value
		}
	}
	if d.extra != nil {
		thing = deepMerge(d.extra, thing)
	}
	for k := range thing {
		if !thingModelFields[k] {
			delete(thing, k)
		}
	}
	d.sseThing = thing
	return thing
}

// readableValue is the event's value as d's readers may read it; false for
// a deletion or an event without value.
func (v *eventView) readableValue(d *delivery) (any, bool) {
	if v.ev.Envelope.Value == nil || v.parsedTopic().Action == protocol.ActionDeleted {
		return nil, false
	}
	if d.pruned {
		return d.value, true
	}
	value, err := v.value()
	return value, err == nil
}

// sseContext is the _context of an SSE event: the event's topic, path, value
// (null for a deletion) and headers. Unlike Ditto, which adds the event's
// whole value, the value is the one d's readers may read: a partial reader
// must not see through _context what the thing's policy hides.
func (v *eventView) sseContext(d *delivery) map[string]any {
	var value any
	if v.ev.Envelope.Value != nil {
		if d.pruned {
			value = d.value
		} else if x, err := v.value(); err == nil {
			value = x
		}
	}
	headers := make(map[string]any, len(v.ev.Envelope.Headers))
	for k, h := range v.ev.Envelope.Headers {
		headers[k] = h
	}
	return map[string]any{"topic": v.ev.Envelope.Topic, "path": v.ev.Envelope.Path, "value": value, "headers": headers}
}

// mergedValue is a merge patch as Ditto turns it into a thing: null members
// (deletions) left out at every level, and a null patch as an empty object.
func mergedValue(value any) any {
	switch x := value.(type) {
	case nil:
		return map[string]any{}
	case map[string]any:
		return withoutNullMembers(x)
	}
	return value
}

func withoutNullMembers(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, x := range obj {
		switch y := x.(type) {
		case nil:
		case map[string]any:
			out[k] = withoutNullMembers(y)
		default:
			out[k] = x
		}
	}
	return out
}

// valueAt is the value at p in obj.
func valueAt(obj map[string]any, p protocol.Pointer) (any, bool) {
	var cur any = obj
	for _, k := range p {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

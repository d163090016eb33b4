package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// Acknowledgements (SPEC.md §6), the gateway's side of them; the rules
// themselves are the ack package's.
//
//   - Declared labels: a session declares at the handshake (declared-acks)
//     the labels it issues. A label belongs to one session of the gateway at
//     a time (ack.Declarations); a label taken by another session ends the
//     new one with acknowledgement:label.not.unique. Closing frees them.
//   - Pending requests: a command that waits for more than its own response
//     registers a PendingAcks before it runs, so that no acknowledgement
//     can arrive unheard (the event is published, and may be acknowledged,
//     before the twin handler returns). The request is found by its routing
//     id, the correlation-id its signal carries: the command's own
//     correlation-id, unless another asker's request already waits under
//     it; then, as Ditto's gateway gives a colliding signal a fresh
//     correlation-id (AcknowledgementForwarderActorStarter,
//     ResponseReceiverCache), the id with "_<uuid>" appended. Correlation is
//     thus per asker, as in Ditto: a caller's correlation-ids never collide
//     with another's, and only a session reusing one of its own that still
//     waits is refused (acknowledgement:request.duplicate.correlation-id);
//     each HTTP request is a scope of its own. The acknowledgements sessions
//     issue, and the weak ones the fan-out issues, carry the routing id; the
//     answer carries the asker's correlation-id again. Its timer ends it with
//     408 entries. Pending requests are bounded per owner and gateway-wide
//     (Config.MaxPendingAcksPerSession, MaxPendingAcks): an owner is a
//     session or, on the HTTP door, a caller (its default subject), so that
//     one user's parallel HTTP requests cannot take every slot. Beyond, a
//     command is refused with too.many.requests before it runs. A session
//     that closes forgets the requests it waits for; the requests it owes
//     acknowledgements to get their 408 entries at their timeout.
//   - Fan-out: a signal that requests custom labels shows each session only
//     the labels that session declared (Ditto's AcknowledgementForwarder),
//     and a session that declared one but does not get the signal has a weak
//     acknowledgement issued for it (see signalAcks).
//
// Waiting never blocks a session's read loop. Its commands still run one at
// a time, in order, and a command without custom labels is answered as
// soon as it ran; a command waiting for acknowledgements is answered by
// whoever completes it (the read loop of the session whose acknowledgement
// completes it, Publish issuing a weak one, or its timer), so its
// aggregated answer may follow the responses to later commands, for the
// same thing too. Ditto's aggregator answers on its own time as well;
// clients match answers by correlation-id.
//
// Locks: ackRegistry.mu and PendingAcks.mu are never held together, and
// neither is held while an answer is handed over; ack.Aggregator's lock is
// a leaf taken under PendingAcks.mu.

// Defaults of Config's bounds on pending requests.
const (
	DefaultMaxPendingAcks           = 10000
	DefaultMaxPendingAcksPerSession = 1000
)

// ackRegistry is the gateway's pending requests and declared labels.
type ackRegistry struct {
	declared      *ack.Declarations
	maxTotal      int
	maxPerSession int // per owner: a session or an HTTP caller

	mu      sync.Mutex
	byRoute map[string]*PendingAcks              // by routing id
	byOwner map[string]map[*PendingAcks]struct{} // by requester.key; none for unowned requests
	byCID   map[sessionCID]*PendingAcks          // a session's requests by its correlation-id
	closing bool                                 // Shutdown started: no new requests
}

// sessionCID is a correlation-id in the scope of the session that chose it.
type sessionCID struct {
	s   *session
	cid string
}

func newAckRegistry(maxTotal, maxPerSession int) *ackRegistry {
	return &ackRegistry{declared: ack.NewDeclarations(), maxTotal: maxTotal, maxPerSession: maxPerSession,
		byRoute: map[string]*PendingAcks{}, byOwner: map[string]map[*PendingAcks]struct{}{},
		byCID: map[sessionCID]*PendingAcks{}}
}

// requester is who waits for a request's acknowledgements: a session, a
// caller of the HTTP door, or nobody known (AwaitAcks).
type requester struct {
	s      *session // the requesting session; nil for HTTP
	caller string   // without a session: the HTTP caller (callerKey); "" for nobody known
}

// sessionRequester is the owner of s's requests.
func sessionRequester(s *session) requester { return requester{s: s} }

// httpRequester is the owner of an HTTP request of who.
func httpRequester(who auth.Context) requester { return requester{caller: callerKey(who)} }

// key names the owner for its bound; "" for nobody known, which only the
// gateway-wide bound limits.
func (o requester) key() string {
	switch {
	case o.s != nil:
		return o.s.ackOwner()
	case o.caller != "":
		return "http:" + o.caller
	}
	return ""
}

// callerKey names who as a caller of the HTTP door, for the bounds per
// caller: its default subject, the authenticated identity itself (a user
// cannot choose another one, while the further subjects of a token, its
// groups or scopes, may vary from token to token).
func callerKey(who auth.Context) string {
	if d := who.DefaultSubject(); d != "" {
		return d
	}
	return "anonymous"
}

// PendingAcks is one request waiting for its acknowledgements: an
// ack.Aggregator, the timer that ends it, and the answer to give. Create it
// with Gateway.AwaitAcks before the command is forwarded; feed it the
// command's own response (AddResponse); call Arm once the command went
// through; Cancel when nobody waits any more. Safe for concurrent use.
type PendingAcks struct {
	reg    *ackRegistry
	cid    string // the asker's correlation-id
	route  string // the routing id: the correlation-id the signal carries
	owner  requester
	agg    *ack.Aggregator
	onDone func(ack.Result)

	mu       sync.Mutex
	timer    *time.Timer
	armed    bool // the command went through: the answer may be given
	finished bool // answered or cancelled
}

// AwaitAcks registers a request for the command with topic and headers
// (best taken after exp.Apply) that waits for exp.Labels for at most
// exp.Timeout. The signal the command causes must carry the request's
// RoutingID as its correlation-id: the acknowledgements find it by that.
// onDone gets the answer once the labels are all in, or at the timeout with
// 408 entries for the missing ones, but never before Arm and never after
// Cancel. onDone runs on the goroutine that completes the request, which
// may be another session's read loop, the fan-out of an event (with the
// thing locked) or a timer: it must not block.
//
// The error is a *protocol.Error: too.many.requests (429) beyond the
// gateway's bound (Config.MaxPendingAcks),
// acknowledgement:correlation-id.missing without a correlation-id, or
// gateway:service.unavailable after Shutdown started. A request of no
// known owner is a scope of its own: its correlation-id is never a
// duplicate.
func (g *Gateway) AwaitAcks(topic protocol.Topic, headers protocol.Headers, exp ack.Expectation, onDone func(ack.Result)) (*PendingAcks, error) {
	return g.acks.await(topic, headers, exp, requester{}, onDone)
}

// await is AwaitAcks for a request of owner, which is bounded per owner
// too; a session's correlation-id must not be one of its requests that
// still wait (acknowledgement:request.duplicate.correlation-id, 409).
func (r *ackRegistry) await(topic protocol.Topic, headers protocol.Headers, exp ack.Expectation, owner requester, onDone func(ack.Result)) (*PendingAcks, error) {
	cid := headers[protocol.HeaderCorrelationID]
	if cid == "" {
		return nil, protocol.Errorf(protocol.CodeAckCorrelationIDMissing, "Correlation-id header for acknowledgement request is missing.")
	}
	p := &PendingAcks{reg: r, cid: cid, owner: owner, onDone: onDone,
		agg: ack.NewAggregator(topic, headers, exp.Labels, exp.Timeout)}
	key := owner.key()
	r.mu.Lock()
	err := r.admit(cid, owner, key)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	p.route = cid
	for r.byRoute[p.route] != nil {
		p.route = cid + "_" + uuid.NewString()
	}
	r.byRoute[p.route] = p
	if owner.s != nil {
		r.byCID[sessionCID{owner.s, cid}] = p
	}
	if key != "" {
		set := r.byOwner[key]
		if set == nil {
			set = map[*PendingAcks]struct{}{}
			r.byOwner[key] = set
		}
		set[p] = struct{}{}
	}
	r.mu.Unlock()

	p.mu.Lock()
	if !p.finished { // a closing session may have cancelled it already
		p.timer = time.AfterFunc(exp.Timeout, p.expire)
	}
	p.mu.Unlock()
	return p, nil
}

// admit checks a new request against the bounds; r.mu is held. A session
// that is closing is checked here, under r.mu, so that sessionClosed (which
// runs after the session is marked closing) cannot miss a request.
func (r *ackRegistry) admit(cid string, owner requester, key string) *protocol.Error {
	switch {
	case r.closing || (owner.s != nil && owner.s.isClosing()):
		return errShuttingDown()
	case owner.s != nil && r.byCID[sessionCID{owner.s, cid}] != nil:
		return protocol.Errorf(protocol.CodeAckDuplicateCorrelationID,
			"Correlation-id <%s> for acknowledgement request was already used very recently.", cid)
	case len(r.byRoute) >= r.maxTotal:
		return tooManyPending("The gateway has too many requests waiting for acknowledgements.")
	case owner.s != nil && len(r.byOwner[key]) >= r.maxPerSession:
		return tooManyPending("This session has too many requests waiting for acknowledgements.")
	case key != "" && len(r.byOwner[key]) >= r.maxPerSession:
		return tooManyPending("You have too many requests waiting for acknowledgements.")
	}
	return nil
}

func tooManyPending(msg string) *protocol.Error {
	return protocol.Errorf(protocol.CodeTooManyRequests, "%s", msg).
		WithDescription("Try again once some of the pending requests are answered or timed out.")
}

// remove forgets p.
func (r *ackRegistry) remove(p *PendingAcks) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byRoute[p.route] == p {
		delete(r.byRoute, p.route)
	}
	if k := (sessionCID{p.owner.s, p.cid}); p.owner.s != nil && r.byCID[k] == p {
		delete(r.byCID, k)
	}
	if key := p.owner.key(); key != "" {
		if set := r.byOwner[key]; set != nil {
			delete(set, p)
			if len(set) == 0 {
				delete(r.byOwner, key)
			}
		}
	}
}

// deliver hands a to the request waiting under the routing id route and
// reports whether one does.
func (r *ackRegistry) deliver(route string, a ack.Ack) bool {
	r.mu.Lock()
	p := r.byRoute[route]
	r.mu.Unlock()
	if p == nil {
		return false
	}
	p.Add(a)
	return true
}

// pending counts the requests waiting, of owner key ("ws-<id>",
// "http:<caller>") or ("") in all.
func (r *ackRegistry) pending(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if key != "" {
		return len(r.byOwner[key])
	}
	return len(r.byRoute)
}

// sessionClosed frees the labels s declared and forgets the requests it
// waits for: their answers have nobody to go to.
func (r *ackRegistry) sessionClosed(s *session) {
	r.declared.Release(s.ackOwner(), s.declared)
	r.mu.Lock()
	var ps []*PendingAcks
	for p := range r.byOwner[s.ackOwner()] {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	for _, p := range ps {
		p.Cancel()
	}
}

// shutdown refuses new requests and ends the pending ones now, as if timed
// out, so that HTTP requests waiting for acknowledgements do not hold the
// shutdown for up to a minute.
func (r *ackRegistry) shutdown() {
	r.mu.Lock()
	r.closing = true
	ps := make([]*PendingAcks, 0, len(r.byRoute))
	for _, p := range r.byRoute {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	for _, p := range ps {
		p.expire()
	}
}

// RoutingID is the correlation-id the command's signal must carry, so that
// the acknowledgements issued for it find the request: the command's own,
// unless another request of another owner waits under it (see acks.go).
func (p *PendingAcks) RoutingID() string { return p.route }

// Add records an acknowledgement (the first per label counts).
func (p *PendingAcks) Add(a ack.Ack) {
	p.agg.Add(a.Label, a.Status, a.Payload, a.Headers)
	p.settle()
}

// AddResponse records the command's response as the built-in label
// (twin-persisted for a twin modify, live-response for a live command or
// message); a label that was not requested is ignored.
func (p *PendingAcks) AddResponse(label string, response protocol.Envelope) {
	p.agg.AddResponse(label, response)
	p.settle()
}

// Arm tells that the command went through: from now on the answer is given
// as soon as the request completes (at once, if it already has).
func (p *PendingAcks) Arm() {
	p.mu.Lock()
	p.armed = true
	p.mu.Unlock()
	p.settle()
}

// Cancel forgets the request without an answer: the command failed and is
// answered with its error, or the requester went away. It is a no-op once
// the request was answered.
func (p *PendingAcks) Cancel() {
	p.finishWhen(func() bool { return true })
}

// expire ends the aggregation: the missing labels get 408 entries.
func (p *PendingAcks) expire() {
	p.agg.Timeout()
	p.settle()
}

// settle answers once the request is armed and complete, exactly once.
func (p *PendingAcks) settle() {
	// Forgotten before the answer goes out: a client that reuses the
	// correlation-id once answered must find it free.
	if p.finishWhen(p.answerable) {
		p.onDone(p.agg.Result())
	}
}

// answerable tells whether the request is armed and complete; p.mu is held.
func (p *PendingAcks) answerable() bool {
	return p.armed && p.agg.Done()
}

// finishWhen ends the request unless it has ended already or ready says it
// may not end yet: it marks it finished, stops the timer and forgets it.
// ready runs with p.mu held, so that of racing callers only one ends the
// request; finishWhen reports whether this call did, and only that caller
// may answer.
func (p *PendingAcks) finishWhen(ready func() bool) bool {
	p.mu.Lock()
	if p.finished || !ready() {
		p.mu.Unlock()
		return false
	}
	p.finished = true
	timer := p.timer
	p.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	p.reg.remove(p)
	return true
}

// CommandAnswer is the answer to a command run with Ditto's
// acknowledgement rules (see Gateway.Command).
type CommandAnswer struct {
	// ResponseRequired is false when the caller asked for no answer: the
	// HTTP door answers 202 once the command ran (or, with
	// acknowledgements, 202 when they all succeeded and their status when
	// not, see ack.Result.HTTP), the WebSocket nothing.
	ResponseRequired bool
	// Response is the answer unless Result is set: the command's response,
	// or an error envelope (refused headers, a failed command, a bound
	// exceeded).
	Response protocol.Envelope
	// Result is set when acknowledgements were aggregated: the aggregated
	// acknowledgements, the response itself, or command.timeout.
	Result *ack.Result

	refused bool // the command did not reach the handler
}

// Envelope is the answer as a protocol message.
func (a CommandAnswer) Envelope() protocol.Envelope {
	if a.Result != nil {
		return a.Result.Envelope()
	}
	return a.Response
}

// Status is the answer's status.
func (a CommandAnswer) Status() int {
	if a.Result != nil {
		return a.Result.Status
	}
	return a.Response.Status
}

// Command runs cmd, a command that came through door, with Ditto's rules
// for response-required × requested-acks × timeout (ack.Expect), and
// returns its answer. Twin commands on things are handed to Config.Twins
// and, when they request custom labels (or more than twin-persisted), the
// answer waits for the acknowledgements of the sessions that declared
// them, or for the timeout; everything else is handed to Config.Twins as it
// is. A write runs to its end even when ctx is cancelled (so that its
// event is published); the wait does not: when ctx ends first, Command
// forgets the request and returns ctx's error with no answer.
//
// The WebSocket door runs the same logic without blocking its read loop.
func (g *Gateway) Command(ctx context.Context, who auth.Context, cmd protocol.Envelope, door ack.Door) (CommandAnswer, error) {
	topic, err := protocol.ParseTopic(cmd.Topic)
	kind, ok := ackKind(topic)
	if err != nil || !ok {
		rr, _ := cmd.Headers.ResponseRequired()
		return CommandAnswer{ResponseRequired: rr, Response: g.cfg.Twins.Handle(ctx, who, cmd)}, nil
	}
	handleCtx := ctx
	if kind == ack.TwinModify {
		handleCtx = context.WithoutCancel(ctx)
	}
	handle := func(c protocol.Envelope) protocol.Envelope { return g.cfg.Twins.Handle(handleCtx, who, c) }
	done := make(chan CommandAnswer, 1) // the answer never waits for the reader
	cancel := g.runCommand(cmd, topic, kind, door, httpRequester(who), handle, func(a CommandAnswer) { done <- a })
	select {
	case a := <-done:
		return a, nil
	case <-ctx.Done():
		cancel()
		select {
		case a := <-done: // answered meanwhile
			return a, nil
		default:
			return CommandAnswer{}, ctx.Err()
		}
	}
}

// ackKind is what a twin command on things is to acknowledgements; ok is
// false for every other signal.
func ackKind(t protocol.Topic) (k ack.Kind, ok bool) {
	if t.Group != protocol.GroupThings || t.Channel != protocol.ChannelTwin || t.Criterion != protocol.CriterionCommands {
		return 0, false
	}
	switch t.Action {
	case protocol.ActionCreate, protocol.ActionModify, protocol.ActionMerge, protocol.ActionDelete:
		return ack.TwinModify, true
	case protocol.ActionRetrieve:
		return ack.TwinQuery, true
	}
	return 0, false
}

// aggregates tells whether a twin command waits for more than its own
// response: anything but twin-persisted alone, which the response itself
// fulfils.
func aggregates(exp ack.Expectation) bool {
	return exp.Aggregate() && !(len(exp.Labels) == 1 && exp.Labels[0] == ack.TwinPersisted)
}

// runCommand runs the twin command cmd (of kind, through door, sent by
// owner) with handle and calls answer exactly once, possibly before it
// returns, possibly later from another goroutine (see AwaitAcks). It
// returns a func that forgets an answer not given yet.
//
// The headers are checked first (ack.Expect): refused headers are
// answered with their error, whatever response-required says, as Ditto
// does. A command that waits for acknowledgements registers its request
// before it runs. A command that fails is answered with its error at once:
// nothing can be acknowledged for a change that did not happen.
func (g *Gateway) runCommand(cmd protocol.Envelope, topic protocol.Topic, kind ack.Kind, door ack.Door, owner requester,
	handle func(protocol.Envelope) protocol.Envelope, answer func(CommandAnswer)) (cancel func()) {
	none := func() {}
	exp, err := ack.Expect(cmd.Headers, kind, door)
	if err != nil {
		answer(CommandAnswer{ResponseRequired: true, refused: true,
			Response: protocol.ErrorEnvelope(protocol.AsError(err), topic, cmd.Headers)})
		return none
	}
	if !aggregates(exp) {
		answer(CommandAnswer{ResponseRequired: exp.ResponseRequired, Response: handle(cmd)})
		return none
	}
	headers := cmd.Headers.Clone()
	exp.Apply(headers)
	p, err := g.acks.await(topic, headers, exp, owner, func(r ack.Result) {
		answer(CommandAnswer{ResponseRequired: exp.ResponseRequired, Result: &r})
	})
	if err != nil {
		answer(CommandAnswer{ResponseRequired: true, refused: true,
			Response: protocol.ErrorEnvelope(protocol.AsError(err), topic, cmd.Headers)})
		return none
	}
	ran := false
	defer func() {
		if !ran { // handle panicked: leave no waiter behind
			p.Cancel()
		}
	}()
	// The command keeps the headers it came with: the twin handler copies
	// its custom labels into the event, and the defaults Apply added are
	// built-in ones. Only its correlation-id becomes the routing id, which
	// the event then carries, when another owner's request waits under it;
	// the response gets the caller's back.
	cid := cmd.Headers[protocol.HeaderCorrelationID]
	renamed := p.RoutingID() != cid
	if renamed {
		cmd.Headers = cmd.Headers.Clone()
		cmd.Headers[protocol.HeaderCorrelationID] = p.RoutingID()
	}
	resp := handle(cmd)
	ran = true
	if renamed && resp.Headers[protocol.HeaderCorrelationID] == p.RoutingID() {
		resp.Headers = resp.Headers.Clone()
		resp.Headers[protocol.HeaderCorrelationID] = cid
	}
	if resp.Status < 200 || resp.Status > 299 {
		p.Cancel()
		answer(CommandAnswer{ResponseRequired: true, Response: resp})
		return none
	}
	p.AddResponse(ack.TwinPersisted, resp)
	if slices.Contains(exp.Labels, ack.SearchPersisted) {
		// The search reads the store the write went to: the change is
		// searchable once it is persisted (Ditto's search updater answers
		// 204 once it indexed it).
		p.Add(ack.Ack{Label: ack.SearchPersisted, Status: http.StatusNoContent, Headers: resp.Headers})
	}
	p.Arm()
	return p.Cancel
}

// Session side.

// parseDeclaredAcks reads the labels a WebSocket handshake declares: the
// declared-acks query parameter, else the header of that name (Ditto reads
// its headers from both). An invalid label is acknowledgement:label.invalid
// and refuses the upgrade.
func parseDeclaredAcks(r *http.Request) ([]string, error) {
	v, ok := "", false
	if vs := r.URL.Query()["declared-acks"]; len(vs) > 0 {
		v, ok = vs[len(vs)-1], true
	} else if vs := r.Header.Values("declared-acks"); len(vs) > 0 {
		v, ok = vs[len(vs)-1], true
	}
	if !ok {
		return nil, nil
	}
	return ack.ParseDeclared(v)
}

// ackOwner names s in the gateway's label declarations and, as the owner
// of its requests, in the acknowledgement registry.
func (s *session) ackOwner() string { return "ws-" + strconv.FormatUint(s.id, 10) }

// reasonLabelNotUnique ends a session whose declared labels another session
// holds.
var reasonLabelNotUnique = closeReason{label: "acks", code: websocket.ClosePolicyViolation,
	text: "acknowledgement:label.not.unique: a declared label is taken by another subscriber"}

// declare gives s the labels it declared at the handshake and reports
// whether it may go on. When another session holds one of them, s gets the
// error (acknowledgement:label.not.unique) as its only message, and the
// caller closes it (reasonLabelNotUnique), as Ditto closes such a
// WebSocket. It runs before the session is registered and its loops start:
// the error frame is written here directly, and nobody reads s.declared
// yet.
func (s *session) declare(labels []string) bool {
	if len(labels) == 0 {
		return true
	}
	if err := s.g.acks.declared.Declare(s.ackOwner(), labels); err != nil {
		env := protocol.ErrorEnvelope(protocol.AsError(err), protocol.Topic{}, nil)
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.g.cfg.WriteTimeout))
		if werr := s.conn.WriteMessage(websocket.TextMessage, env.AppendJSON(nil)); werr != nil {
			s.logAt(slog.LevelDebug, "error frame not sent", "err", werr)
		}
		return false
	}
	s.declared = labels
	return true
}

// declares tells whether s declared label.
func (s *session) declares(label string) bool {
	return slices.Contains(s.declared, label)
}

// handleAck routes an acknowledgement the client issued
// (<ns>/<name>/things/<twin|live>/acks/<label>) to the request waiting
// under its correlation-id. A malformed one, or one whose label the session
// did not declare (acknowledgement:label.not.declared), is answered with an
// error; one that no request waits for any more (answered, timed out,
// never asked for) is dropped, as Ditto drops it.
func (s *session) handleAck(env protocol.Envelope, topic protocol.Topic) {
	_, a, err := ack.Parse(env)
	if err == nil && !s.declares(a.Label) {
		err = ack.NotDeclared(a.Label)
	}
	if err != nil {
		s.reply(protocol.ErrorEnvelope(protocol.AsError(err), topic, env.Headers))
		return
	}
	// The acknowledgement is the session's, whatever originator it names.
	setOriginator(a.Headers, s.who)
	if !s.g.acks.deliver(a.Headers[protocol.HeaderCorrelationID], a) {
		s.logAt(slog.LevelDebug, "acknowledgement for no pending request dropped",
			"label", a.Label, "correlation-id", a.Headers[protocol.HeaderCorrelationID])
	}
}

// handleTwinCommand runs a twin command on things for the session (see
// runCommand): the read loop goes on as soon as the command ran; an answer
// that waits for acknowledgements is queued when they are in.
func (s *session) handleTwinCommand(env protocol.Envelope, topic protocol.Topic, kind ack.Kind) {
	handle := func(cmd protocol.Envelope) protocol.Envelope {
		resp := s.handle(cmd, topic)
		s.countCommand(topic, resp.Status)
		return resp
	}
	s.g.runCommand(env, topic, kind, ack.WebSocket, sessionRequester(s), handle, func(a CommandAnswer) {
		if a.refused {
			s.countCommand(topic, a.Status())
		}
		if a.ResponseRequired {
			s.reply(a.Envelope())
		}
	})
}

// Fan-out side.

// signalAcks is what one fan-out of a signal that requests custom labels
// keeps track of: which label's declaring session got the signal, and the
// signal's bytes per requested-acks variant. A nil *signalAcks (a signal
// requesting no custom label: the common case) does nothing and changes
// nothing, so that every session shares the same bytes.
//
// Which session gets a weak acknowledgement, and why, follows Ditto: its
// pubsub issues one (ack.WeakNotAuthorized) for a declared label whose
// session did not subscribe to the signal's stream, may not read the signal
// or asked for other namespaces (AbstractSubscriber, Publisher, and
// ReadSubjectExtractor, whose topics combine namespace and subject); the
// WebSocket route issues one (ack.WeakFiltered) when the session's RQL
// filter drops the signal or partial access leaves nothing of it
// (WebSocketRoute.issuePotentialWeakAcknowledgements). A label nobody
// declared gets none: the request waits for it until its timeout.
type signalAcks struct {
	g       *Gateway
	cid     string
	headers protocol.Headers
	labels  []string // the custom labels requested
	fates   []string // per label: "" not seen, fateReached, or the weak acknowledgement's payload
	// variants are the encoded signals per delivery and requested-acks value.
	variants map[variantKey][]byte
}

// fateReached marks a label whose declaring session got the signal: it owes
// the acknowledgement.
const fateReached = "\x00reached"

type variantKey struct {
	d    *delivery
	acks string
}

// eventAcks prepares the fan-out of ev; nil when ev requests no custom
// label.
func (g *Gateway) eventAcks(ev *twin.Event) *signalAcks {
	return g.signalAcks(ev.Envelope.Headers)
}

// signalAcks prepares the fan-out of a signal with headers; nil when it
// requests no custom label. Live signals use it the same way as events.
func (g *Gateway) signalAcks(headers protocol.Headers) *signalAcks {
	v, ok := headers[protocol.HeaderRequestedAcks]
	if !ok {
		return nil
	}
	labels, err := ack.ParseRequested(v)
	if err != nil {
		return nil
	}
	custom := labels[:0]
	for _, l := range labels {
		if !ack.IsBuiltIn(l) {
			custom = append(custom, l)
		}
	}
	if len(custom) == 0 {
		return nil
	}
	return &signalAcks{g: g, cid: headers[protocol.HeaderCorrelationID], headers: headers, labels: custom,
		fates: make([]string, len(custom))}
}

// requestedFor is the requested-acks header a receiver that declared
// declared gets: the JSON array of the requested labels it declared, "[]"
// for none (Ditto's AcknowledgementForwarderActorStarter keeps only the
// labels the session may issue).
func (a *signalAcks) requestedFor(declared []string) string {
	b := []byte{'['}
	for _, l := range a.labels {
		if slices.Contains(declared, l) {
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, l) // labels are ASCII without quotes or backslashes
		}
	}
	return string(append(b, ']'))
}

// encoded is the delivery's event as a session that declared declared gets
// it: the shared bytes when no custom label is requested, else encoded once
// per requested-acks variant.
func (a *signalAcks) encoded(d *delivery, ev *twin.Event, declared []string) []byte {
	if a == nil {
		return d.encoded(ev)
	}
	k := variantKey{d: d, acks: a.requestedFor(declared)}
	if b, ok := a.variants[k]; ok {
		return b
	}
	headers := ev.Envelope.Headers.Clone()
	headers[protocol.HeaderRequestedAcks] = k.acks
	b := d.encode(ev, headers)
	if a.variants == nil {
		a.variants = map[variantKey][]byte{}
	}
	a.variants[k] = b
	return b
}

// reached records that the session that declared declared gets the signal.
func (a *signalAcks) reached(declared []string) {
	a.mark(declared, fateReached)
}

// missed records that the session that declared declared does not get the
// signal; why is the weak acknowledgement's payload.
func (a *signalAcks) missed(declared []string, why string) {
	a.mark(declared, why)
}

func (a *signalAcks) mark(declared []string, fate string) {
	if a == nil || len(declared) == 0 {
		return
	}
	for i, l := range a.labels {
		if slices.Contains(declared, l) {
			a.fates[i] = fate
		}
	}
}

// issueWeak issues, at the end of the fan-out, a weak acknowledgement for
// each requested label whose declaring session did not get the signal.
func (a *signalAcks) issueWeak() {
	if a == nil {
		return
	}
	for i, l := range a.labels {
		fate := a.fates[i]
		if fate == fateReached {
			continue
		}
		if _, declared := a.g.acks.declared.Owner(l); !declared {
			continue
		}
		if fate == "" {
			// The declaring session did not subscribe to the signal's
			// stream.
			fate = ack.WeakNotAuthorized
		}
		if weak, ok := ack.Weak(l, a.headers, fate); ok {
			a.g.acks.deliver(a.cid, weak)
		}
	}
}

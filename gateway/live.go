package gateway

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// The live channel (SPEC.md §7): messages, live commands and live events
// travel between sessions (and HTTP requests) through the gateway without
// touching the store. The way of one:
//
//	asker ──▶ liveRouter.ask: headers (ack.Expect), sender's permission
//	          (LiveThings), live.Pending.Register, deliver to the sessions of
//	          the stream that may read the resource (live_deliver.go)
//	device ─▶ liveRouter.reply: the reply must come from a session the
//	          signal reached and match its command (liveCall.matches),
//	          then Pending.ResolveFrom: first reply wins
//	asker ◀── liveCall.wait: the reply, a 408 at the deadline, the twin's
//	          answer (live-channel-timeout-strategy use-twin), or the
//	          aggregated acknowledgements
//
// A WebSocket asker's read loop never waits: one goroutine per awaited
// answer (bounded by the pending registry's limits, ended at the latest at
// the deadline) queues the answer. An HTTP asker waits in its own request.
// When a session closes it stops being a responder (an asker whose last
// responder left gets its 408 at once) and an asker (its waiters end), so no
// request outlives the sessions that could end it.
//
// Files: live.go (wiring, the session's entry, HTTP's entry), live_call.go
// (one request and its answer), live_deliver.go (fan-out of live signals, to
// sessions and to the SSE message streams of sse_messages.go).

// LiveThings authorises live signals against the things' policies; a
// *twin.Handler is one. Each method makes the sender's checks and returns
// what the gateway needs to address the receivers.
type LiveThings interface {
	AuthorizeMessage(ctx context.Context, who auth.Context, thingID, resource string, claim bool, headers protocol.Headers) (*twin.LiveTarget, error)
	AuthorizeLiveCommand(ctx context.Context, who auth.Context, cmd protocol.Envelope) (*twin.LiveTarget, error)
	AuthorizeLiveEvent(ctx context.Context, who auth.Context, ev protocol.Envelope) (*twin.LiveTarget, error)
	MatchLiveCondition(ctx context.Context, who auth.Context, thingID, condition string) (bool, error)
}

// liveRouter routes the live channel of a Gateway.
type liveRouter struct {
	g       *Gateway
	things  LiveThings
	pending *live.Pending
	log     *slog.Logger

	// Bounds per caller (see liveRouter.admit): of the requests through the
	// HTTP door, and of claim messages.
	maxPerCaller, maxClaimsPerCaller int

	mu      sync.Mutex
	calls   map[string]*liveCall  // requests waiting for a reply, by routing id
	callers map[string]callerLoad // what each caller waits for, by callerKey; none when nothing

	httpSeq atomic.Uint64 // owner ids of HTTP requests
	closing atomic.Bool   // Shutdown started: no new requests
}

func newLiveRouter(g *Gateway, cfg Config) (*liveRouter, error) {
	p, err := live.NewPending(live.Config{MaxPerOwner: cfg.LiveMaxPerSession, MaxTotal: cfg.LiveMaxPending})
	if err != nil {
		return nil, err
	}
	g.metrics.ObserveLivePending(p.Len)
	perCaller := cfg.LiveMaxPerSession
	if perCaller == 0 {
		perCaller = live.DefaultMaxPerOwner
	}
	return &liveRouter{g: g, things: cfg.Live, pending: p, log: g.log, calls: make(map[string]*liveCall),
		callers: make(map[string]callerLoad), maxPerCaller: perCaller, maxClaimsPerCaller: cfg.LiveMaxClaimsPerCaller}, nil
}

// LivePending is the number of live commands and messages waiting for their
// answer (also exported as twinway_live_requests_pending); 0 without live
// routing.
func (g *Gateway) LivePending() int {
	if g.live == nil {
		return 0
	}
	return g.live.pending.Len()
}

// liveOwner is the session's name in the pending registry.
func (s *session) liveOwner() live.OwnerID {
	return live.OwnerID("ws:" + strconv.FormatUint(s.id, 10))
}

// liveSessionGone is called when s starts closing and again once its read
// loop has ended (a request it registered in between is ended then): s can
// no longer answer (ResponderGone) and nobody waits for its answers
// (CancelOwner).
func (g *Gateway) liveSessionGone(s *session) {
	if g.live == nil {
		return
	}
	owner := s.liveOwner()
	g.live.pending.ResponderGone(owner)
	g.live.pending.CancelOwner(owner)
}

// liveShutdown refuses new live requests and ends the waiting ones with
// gateway:service.unavailable, so that HTTP callers waiting for a device do
// not hold the shutdown for up to their timeout (a minute, ten for claims).
func (g *Gateway) liveShutdown() {
	r := g.live
	if r == nil {
		return
	}
	r.closing.Store(true)
	r.mu.Lock()
	reqs := make([]*live.Request, 0, len(r.calls))
	for _, c := range r.calls {
		reqs = append(reqs, c.req)
	}
	r.mu.Unlock()
	for _, req := range reqs {
		r.pending.Cancel(req, errShuttingDown())
	}
}

// liveKind is what an inbound envelope is to live routing.
type liveKind int

const (
	notLive   liveKind = iota
	liveAsk            // a message or live command (or a retrieve that may go live)
	liveReply          // a reply to one: a message or command response, or an error, with status
	liveEvent          // an event a device publishes
)

// classifyLive tells what env is to live routing. A twin command is only
// live routing's when it carries a live-channel-condition (the smart channel
// selection of retrieves; on other commands the condition is refused there).
// Acknowledgements are not live routing's.
func classifyLive(env *protocol.Envelope, topic *protocol.Topic) liveKind {
	if topic.Group != protocol.GroupThings {
		return notLive
	}
	if topic.Channel == protocol.ChannelTwin {
		if _, ok := env.Headers[twin.HeaderLiveChannelCondition]; ok && topic.Criterion == protocol.CriterionCommands {
			return liveAsk
		}
		return notLive
	}
	switch topic.Criterion {
	case protocol.CriterionMessages, protocol.CriterionCommands:
		// The presence of status marks a response (SPEC.md §16).
		if env.Status != 0 {
			return liveReply
		}
		return liveAsk
	case protocol.CriterionErrors:
		if env.Status != 0 {
			return liveReply
		}
	case protocol.CriterionEvents:
		return liveEvent
	}
	return notLive
}

// handleLive handles env if it is a live signal and reports whether it was.
// required is the command's response-required: without it errors are not
// answered either (as twin commands).
func (s *session) handleLive(env protocol.Envelope, topic protocol.Topic, required bool) bool {
	r := s.g.live
	if r == nil {
		return false
	}
	switch classifyLive(&env, &topic) {
	case liveAsk:
		s.askLive(r, env, topic, required)
	case liveReply:
		r.reply(s, env, topic, required)
	case liveEvent:
		if err := r.publishLiveEvent(s.ctx, s.who, env, s); err != nil {
			// Ditto drops the refusal of an event (it has no return
			// address); telling the device why is kinder, and it can
			// opt out with response-required=false.
			s.countCommand(topic, protocol.AsError(err).Status)
			if required {
				s.reply(protocol.ErrorEnvelope(protocol.AsError(err), topic, env.Headers))
			}
		}
	default:
		return false
	}
	return true
}

// askLive sends a live command or message of s and queues its answer when
// it comes, on a goroutine of its own: the read loop goes on at once.
func (s *session) askLive(r *liveRouter, env protocol.Envelope, topic protocol.Topic, required bool) {
	call, err := r.ask(s.ctx, s.who, env, topic, ack.WebSocket, s, s.liveOwner())
	if err != nil {
		e := protocol.AsError(err)
		s.countCommand(liveMetricTopic(topic), e.Status)
		if required {
			s.reply(protocol.ErrorEnvelope(e, topic, env.Headers))
		}
		return
	}
	if call.immediate != nil || call.req == nil {
		s.answerLive(call.wait(s.ctx), topic)
		return
	}
	go func() { s.answerLive(call.wait(s.ctx), topic) }()
}

// answerLive queues the answer a WebSocket asker is owed, if any.
func (s *session) answerLive(a LiveAnswer, topic protocol.Topic) {
	env, ok := a.envelope()
	if !ok {
		return
	}
	s.countCommand(liveMetricTopic(topic), env.Status)
	if a.ResponseRequired {
		s.reply(env)
	}
}

// liveMetricTopic labels messages, which have no action, "messages".
func liveMetricTopic(t protocol.Topic) protocol.Topic {
	if t.Action == "" {
		t.Action = t.Criterion
	}
	return t
}

// AskLive sends a live command or message through the HTTP door and waits
// for its answer, or until ctx is done (the client went away: the request
// is dropped). cmd is a message (<ns>/<name>/things/live/messages/<subject>),
// a live command (<ns>/<name>/things/live/commands/<action>), or a twin
// retrieve with a live-channel-condition. Timeouts and defaults are the HTTP
// door's (SPEC.md §4, §6).
func (g *Gateway) AskLive(ctx context.Context, who auth.Context, cmd protocol.Envelope) LiveAnswer {
	topic, err := protocol.ParseTopic(cmd.Topic)
	if err == nil && g.live == nil {
		err = protocol.Errorf(protocol.CodeSignalUnsupported, "The live channel is not served by this gateway.")
	}
	if err == nil && classifyLive(&cmd, &topic) != liveAsk {
		err = protocol.Errorf(protocol.CodeSignalUnsupported, "The signal '%s' is neither a live command nor a message.", cmd.Topic)
	}
	if err != nil {
		return errorAnswer(protocol.AsError(err), topic, cmd.Headers)
	}
	owner := live.OwnerID("http:" + strconv.FormatUint(g.live.httpSeq.Add(1), 10))
	call, err := g.live.ask(ctx, who, cmd, topic, ack.HTTP, nil, owner)
	if err != nil {
		return errorAnswer(protocol.AsError(err), topic, cmd.Headers)
	}
	return call.wait(ctx)
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// Headers of the smart channel selection (Ditto's SupervisorSmartChannelDispatching).
const (
	headerLiveTimeoutStrategy  = "live-channel-timeout-strategy"
	headerLiveConditionMatched = "live-channel-condition-matched"
	strategyUseTwin            = "use-twin"
	strategyFail               = "fail"
)

// LiveAnswer is how a live command or message ended, as the asker is told.
type LiveAnswer struct {
	// Accepted: nobody waits for an answer (timeout 0, or response-required
	// false without acknowledgements); HTTP answers 202.
	Accepted bool
	// ResponseRequired is the request's response-required once Ditto's
	// defaults are applied: without it HTTP turns a success into 202 and
	// the WebSocket sends nothing.
	ResponseRequired bool
	// Message: the request was a message, so Response's value is a payload
	// to render by its content type (live.HTTPReply), not JSON.
	Message bool
	// Response is the answer: the device's reply, the twin's answer (a
	// live-channel-condition that did not match, or the use-twin fallback),
	// or an error envelope. Unset when Acks is.
	Response protocol.Envelope
	// Err is the error Response carries, if it is one.
	Err *protocol.Error
	// Acks is the answer when acknowledgements besides live-response were
	// aggregated (ack.Result.HTTP and Envelope render it).
	Acks *ack.Result

	canceled bool   // the asker went away: nobody to tell
	cid      string // the asker's correlation-id, when Acks carries the routing id
}

// envelope is the answer as a WebSocket client receives it; ok is false when
// there is none to send.
func (a LiveAnswer) envelope() (protocol.Envelope, bool) {
	switch {
	case a.canceled, a.Accepted:
		return protocol.Envelope{}, false
	case a.Acks != nil:
		env := a.Acks.Envelope()
		if a.cid != "" && env.Headers[protocol.HeaderCorrelationID] != a.cid {
			env.Headers = env.Headers.Clone()
			env.Headers[protocol.HeaderCorrelationID] = a.cid
		}
		return env, true
	}
	return a.Response, a.Response.Topic != ""
}

// errorAnswer answers with e, in the error envelope of topic.
func errorAnswer(e *protocol.Error, topic protocol.Topic, headers protocol.Headers) LiveAnswer {
	return LiveAnswer{ResponseRequired: true, Err: e, Response: protocol.ErrorEnvelope(e, topic, headers)}
}

// callKind is what a live request is.
type callKind int

const (
	callMessage callKind = iota
	callCommand
)

// liveCall is one live command or message whose answer someone waits for.
// Its fields are set by ask and read-only afterwards, but for invalid.
type liveCall struct {
	r        *liveRouter
	kind     callKind
	exp      ack.Expectation
	topic    protocol.Topic   // the live signal's topic
	path     string           // commands: the resource path, normalised
	msg      live.Message     // messages
	headers  protocol.Headers // the asker's headers, for errors
	asker    *policy.View     // prunes a live retrieve's answer; nil reads all
	smart    bool             // a retrieve that went live by its live-channel-condition
	fallback *protocol.Envelope

	req *live.Request // nil: nothing awaited
	// route is the correlation-id the signal carries and its replies and
	// acknowledgements carry back (see liveRouter.register).
	route string
	// The asker, for the bounds per caller (see liveRouter.admit): its
	// callerKey, whether it asks through the HTTP door, whether the request
	// is a claim message, and whether it is counted (until forget).
	caller  string
	http    bool
	claim   bool
	counted bool
	// acks aggregates the acknowledgements when more than live-response is
	// requested (acks.go); its answer arrives on acksDone. nil otherwise:
	// the reply itself is the answer.
	acks     *PendingAcks
	acksDone chan ack.Result

	// immediate is an answer known without waiting (the twin answered
	// instead of the device).
	immediate *LiveAnswer

	// invalid is the reason a reply was refused (it did not match the
	// command): Ditto tells it in the 408 at the deadline.
	invalid atomic.Pointer[string]
}

// ask authorises and routes a live command or message of who through door
// and returns the call to wait for. origin is the session it came from
// (never its receiver), nil for HTTP; owner names the asker in the pending
// registry.
func (r *liveRouter) ask(ctx context.Context, who auth.Context, env protocol.Envelope, topic protocol.Topic, door ack.Door, origin receiver, owner live.OwnerID) (*liveCall, error) {
	if r.closing.Load() {
		return nil, errShuttingDown()
	}
	if topic.Channel == protocol.ChannelTwin {
		return r.askSmart(ctx, who, env, topic, door, origin, owner)
	}
	if topic.Criterion == protocol.CriterionMessages {
		return r.askMessage(ctx, who, env, topic, door, origin, owner)
	}
	strategy, err := timeoutStrategy(env.Headers)
	if err != nil {
		return nil, err
	}
	if strategy == strategyUseTwin && topic.Action == protocol.ActionRetrieve {
		return r.askSmart(ctx, who, env, topic, door, origin, owner)
	}
	return r.askCommand(ctx, who, env, topic, door, origin, owner)
}

// timeoutStrategy reads live-channel-timeout-strategy: fail (default) or
// use-twin; anything else is header.invalid (Ditto's enum validator).
func timeoutStrategy(h protocol.Headers) (string, error) {
	v, ok := h[headerLiveTimeoutStrategy]
	if !ok || v == strategyFail || v == strategyUseTwin {
		return v, nil
	}
	return "", protocol.Errorf(protocol.CodeHeaderInvalid, "The value '%s' of the header '%s' is not a valid live channel timeout strategy.", v, headerLiveTimeoutStrategy).
		WithDescription("Use 'fail' or 'use-twin'.")
}

// askMessage routes a message to the sessions that started messages.
func (r *liveRouter) askMessage(ctx context.Context, who auth.Context, env protocol.Envelope, topic protocol.Topic, door ack.Door, origin receiver, owner live.OwnerID) (*liveCall, error) {
	m, err := live.ParseMessage(topic, env.Path)
	if err != nil {
		return nil, err
	}
	kind := ack.LiveMessage
	if m.Claim {
		kind = ack.ClaimMessage
	}
	exp, err := ack.Expect(env.Headers, kind, door)
	if err != nil {
		return nil, err
	}
	target, err := r.things.AuthorizeMessage(ctx, who, m.ThingID(), m.Resource(), m.Claim, env.Headers)
	if err != nil {
		return nil, err
	}
	contentType := env.Headers[protocol.HeaderContentType]
	out := protocol.Envelope{Topic: m.Topic(), Path: m.Path(), Value: live.NormalizeValue(contentType, env.Value),
		Headers: outboundHeaders(env.Headers, exp, who)}
	// Ditto merges the message's own headers into the signal: receivers
	// learn the direction, subject, thing and feature from them too.
	out.Headers["ditto-message-direction"] = m.Direction()
	out.Headers["ditto-message-subject"] = m.Subject
	out.Headers["ditto-message-thing-id"] = m.ThingID()
	if m.FeatureID != "" {
		out.Headers["ditto-message-feature-id"] = m.FeatureID
	}
	if _, ok := out.Headers[protocol.HeaderTimeout]; !ok && door == ack.HTTP && exp.Timeout > 0 {
		// Ditto's HTTP door tells the receiver how long the sender waits
		// (MessagesRoute.enhanceHeaders), also when it waits by default.
		out.Headers[protocol.HeaderTimeout] = formatTimeout(exp.Timeout)
	}
	c := &liveCall{r: r, kind: callMessage, exp: exp, topic: topic, msg: m, headers: env.Headers,
		caller: callerKey(who), http: door == ack.HTTP, claim: m.Claim}
	if err := r.register(c, origin, owner, env.Headers[protocol.HeaderCorrelationID], out.Headers); err != nil {
		return nil, err
	}
	typ, path := twin.LiveResourcePointer(m.Resource())
	r.deliver(streamMessages, &liveSignal{env: out, topic: topic, target: target, resType: typ, resPath: path, featureID: m.FeatureID}, origin, c.req)
	c.sent()
	return c, nil
}

// askCommand routes a live command to the sessions that started live
// commands.
func (r *liveRouter) askCommand(ctx context.Context, who auth.Context, env protocol.Envelope, topic protocol.Topic, door ack.Door, origin receiver, owner live.OwnerID) (*liveCall, error) {
	if topic.Action == protocol.ActionCreate {
		return nil, twin.LiveCreateError()
	}
	if _, ok := env.Headers[twin.HeaderLiveChannelCondition]; ok && topic.Action != protocol.ActionRetrieve {
		return nil, twin.LiveConditionNotAllowedError()
	}
	exp, err := ack.Expect(env.Headers, ack.LiveCommand, door)
	if err != nil {
		return nil, err
	}
	target, err := r.things.AuthorizeLiveCommand(ctx, who, env)
	if err != nil {
		return nil, err
	}
	ptr, err := protocol.ParsePointer(env.Path)
	if err != nil {
		return nil, err
	}
	out := protocol.Envelope{Topic: topic.String(), Path: ptr.String(), Value: env.Value, Fields: env.Fields,
		Headers: outboundHeaders(env.Headers, exp, who)}
	c := &liveCall{r: r, kind: callCommand, exp: exp, topic: topic, path: ptr.String(), headers: env.Headers,
		caller: callerKey(who), http: door == ack.HTTP}
	if topic.Action == protocol.ActionRetrieve && target.Policy != nil {
		// Ditto filters a live retrieve's answer by the asker's policy view,
		// as it filters the twin's (LiveSignalEnforcement.filterResponse).
		c.asker = target.Policy.View(who.Subjects, target.Namespace)
	}
	if err := r.register(c, origin, owner, env.Headers[protocol.HeaderCorrelationID], out.Headers); err != nil {
		return nil, err
	}
	featureID := ""
	if len(ptr) > 1 && ptr[0] == "features" {
		featureID = ptr[1]
	}
	r.deliver(streamLiveCommands, &liveSignal{env: out, topic: topic, target: target, resType: "thing", resPath: ptr, featureID: featureID}, origin, c.req)
	c.sent()
	return c, nil
}

// askSmart is Ditto's smart channel selection of a retrieve: the twin
// answers first; the retrieve then goes to the device when its
// live-channel-condition matched the twin, or when it came on the live
// channel with live-channel-timeout-strategy use-twin. With use-twin the
// twin's answer stands in for a device that does not answer in time.
func (r *liveRouter) askSmart(ctx context.Context, who auth.Context, env protocol.Envelope, topic protocol.Topic, door ack.Door, origin receiver, owner live.OwnerID) (*liveCall, error) {
	condition, hasCondition := env.Headers[twin.HeaderLiveChannelCondition]
	if topic.Action != protocol.ActionRetrieve {
		return nil, twin.LiveConditionNotAllowedError()
	}
	strategy, err := timeoutStrategy(env.Headers)
	if err != nil {
		return nil, err
	}
	twinTopic, liveTopic := topic, topic
	twinTopic.Channel, liveTopic.Channel = protocol.ChannelTwin, protocol.ChannelLive
	twinEnv := env
	twinEnv.Topic = twinTopic.String()
	twinEnv.Headers = env.Headers.Clone()
	for _, h := range []string{twin.HeaderLiveChannelCondition, headerLiveTimeoutStrategy, protocol.HeaderChannel} {
		delete(twinEnv.Headers, h)
	}
	twinResp := r.g.cfg.Twins.Handle(ctx, who, twinEnv)
	if twinResp.Status >= http.StatusMultipleChoices {
		return &liveCall{immediate: &LiveAnswer{ResponseRequired: true, Response: twinResp}}, nil
	}
	goLive := true
	if hasCondition && topic.Channel == protocol.ChannelTwin {
		if goLive, err = r.things.MatchLiveCondition(ctx, who, topic.EntityID(), condition); err != nil {
			return nil, err
		}
	}
	twinResp.Headers = twinResp.Headers.Clone()
	twinResp.Headers[protocol.HeaderChannel] = protocol.ChannelTwin
	twinResp.Headers[headerLiveConditionMatched] = boolText(goLive)
	if !goLive {
		required, _ := env.Headers.ResponseRequired()
		return &liveCall{immediate: &LiveAnswer{ResponseRequired: required, Response: twinResp}}, nil
	}
	liveEnv := env
	liveEnv.Topic = liveTopic.String()
	liveEnv.Headers = twinEnv.Headers
	c, err := r.askCommand(ctx, who, liveEnv, liveTopic, door, origin, owner)
	if err != nil {
		return nil, err
	}
	c.smart = true
	if strategy == strategyUseTwin {
		c.fallback = &twinResp
	}
	return c, nil
}

// formatTimeout writes d as Ditto's timeout header: whole seconds as a
// number, anything else in milliseconds.
func formatTimeout(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// outboundHeaders are the headers a live signal carries to its receivers:
// the asker's external headers with the effective requested-acks and
// response-required (Ditto's ack request setters) and the originator.
func outboundHeaders(h protocol.Headers, exp ack.Expectation, who auth.Context) protocol.Headers {
	applied := h.Clone()
	exp.Apply(applied)
	out := protocol.ExternalHeaders(applied)
	// The channel is the topic's; an HTTP request's channel header is not
	// the receiver's business.
	delete(out, protocol.HeaderChannel)
	setOriginator(out, who)
	return out
}

// setOriginator makes who the originator of a signal with headers h (a
// live signal, a reply, an acknowledgement): its default subject, never the
// ditto-originator the sender wrote.
func setOriginator(h protocol.Headers, who auth.Context) {
	if originator := who.DefaultSubject(); originator != "" {
		h[protocol.HeaderOriginator] = originator
	} else {
		delete(h, protocol.HeaderOriginator)
	}
}

// register records c in the pending registry unless nothing is awaited, and
// gives out (the signal's headers) the routing id its replies must carry:
// c.route, the asker's correlation-id unless another request waits under
// it (then with "_<uuid>" appended, as the pending registry and the
// acknowledgement registry rename a colliding id; see acks.go). Replies are
// found by it (lookup), acknowledgements too, so it is unique among the
// calls waiting and, when acknowledgements are awaited, among the requests
// of the acknowledgement registry.
func (r *liveRouter) register(c *liveCall, origin receiver, owner live.OwnerID, correlationID string, out protocol.Headers) error {
	if c.exp.FireAndForget() {
		return nil
	}
	if err := r.admit(c); err != nil {
		return err
	}
	req, err := r.pending.Register(owner, correlationID, time.Now().Add(c.exp.Timeout))
	if err != nil {
		r.forget(c)
		return err
	}
	c.req = req
	r.mu.Lock()
	c.route = req.RoutingID()
	for r.calls[c.route] != nil {
		c.route = correlationID + "_" + uuid.NewString()
	}
	r.calls[c.route] = c
	r.mu.Unlock()
	if !onlyLiveResponse(c.exp.Labels) {
		// The acknowledgements that sessions issue find the request by
		// the routing id the signal carries.
		headers := out.Clone()
		headers[protocol.HeaderCorrelationID] = c.route
		c.exp.Apply(headers)
		asker := requester{s: sessionOf(origin)}
		if asker.s == nil {
			asker.caller = c.caller
		}
		c.acksDone = make(chan ack.Result, 1) // the answer never waits for the reader
		p, err := r.g.acks.await(c.topic, headers, c.exp, asker, func(res ack.Result) { c.acksDone <- res })
		if err == nil && p.RoutingID() != c.route && !r.reroute(c, p.RoutingID()) {
			// The acknowledgement registry's fresh id is taken here: only
			// an asker that knew the UUID beforehand could have done so.
			p.Cancel()
			err = protocol.Errorf(protocol.CodeAckDuplicateCorrelationID,
				"Correlation-id <%s> for acknowledgement request was already used very recently.", correlationID)
		}
		if err != nil {
			r.pending.Cancel(req, err)
			r.forget(c)
			return err
		}
		c.acks = p
	}
	out[protocol.HeaderCorrelationID] = c.route
	return nil
}

// reroute moves c to the routing id route, unless a call waits there.
func (r *liveRouter) reroute(c *liveCall, route string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls[route] != nil {
		return false
	}
	if r.calls[c.route] == c {
		delete(r.calls, c.route)
	}
	c.route = route
	r.calls[route] = c
	return true
}

// Bounds per caller of live requests waiting for their answer.
//
// The pending registry bounds the requests of each owner (a WebSocket
// session, Config.LiveMaxPerSession) and of the whole gateway
// (Config.LiveMaxPending). On the HTTP door every request is an owner of its
// own (its correlation-ids are its own, as in Ditto), so that bound never
// binds there: one user sending many requests in parallel could take every
// slot of the gateway, and everyone's live requests would get 429 until
// they time out. The caller is therefore the unit on the HTTP door: the
// requests of one caller (callerKey: its default subject, the identity the
// credentials prove, which a caller cannot vary as it can vary the further
// subjects of its tokens) waiting at once are bounded like those of one
// session. A caller needing more waits for answers, or spreads them over
// WebSocket sessions, each bounded on its own.
//
// Claim messages need no permission at all: any authenticated caller may
// send one to any thing and have it wait up to ten minutes. They are
// bounded tighter, per caller over both doors together
// (Config.LiveMaxClaimsPerCaller): claiming is a rare, human-paced step,
// and a caller opening more sessions gains no more claims.

// admit counts c against the bounds of its caller, or refuses it with
// too.many.requests (429).
func (r *liveRouter) admit(c *liveCall) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	load := r.callers[c.caller]
	if c.claim && load.claims >= r.maxClaimsPerCaller {
		return tooManyLive(fmt.Sprintf("You already wait for answers to %d claim messages, the most you may; wait for them before claiming more.", r.maxClaimsPerCaller))
	}
	if c.http && load.http >= r.maxPerCaller {
		return tooManyLive(fmt.Sprintf("You already wait for %d answers over HTTP, the most you may; wait for answers before sending more.", r.maxPerCaller))
	}
	if c.claim {
		load.claims++
	}
	if c.http {
		load.http++
	}
	if load != (callerLoad{}) {
		r.callers[c.caller] = load
	}
	c.counted = true
	return nil
}

// callerLoad is what one caller waits for: requests through the HTTP door,
// and claim messages through either door.
type callerLoad struct {
	http, claims int
}

func tooManyLive(description string) *protocol.Error {
	return protocol.Errorf(protocol.CodeTooManyRequests, "You made too many requests.").WithDescription(description)
}

// sessionOf is the session behind r, nil for any other receiver.
func sessionOf(r receiver) *session {
	s, _ := r.(*session)
	return s
}

// sent tells the acknowledgements that the signal went out: from now on they
// may complete (and weak ones, issued while it went out, count).
func (c *liveCall) sent() {
	if c.acks != nil {
		c.acks.Arm()
	}
}

// onlyLiveResponse tells whether the answer is the reply itself: no label
// or live-response alone.
func onlyLiveResponse(labels []string) bool {
	return len(labels) == 0 || (len(labels) == 1 && labels[0] == ack.LiveResponse)
}

// forget removes c once its request ended (or was not registered after
// all) and gives its caller's slot back.
func (r *liveRouter) forget(c *liveCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.route != "" && r.calls[c.route] == c {
		delete(r.calls, c.route)
	}
	if !c.counted {
		return
	}
	c.counted = false
	load := r.callers[c.caller]
	if c.claim {
		load.claims--
	}
	if c.http {
		load.http--
	}
	if load == (callerLoad{}) {
		delete(r.callers, c.caller)
	} else {
		r.callers[c.caller] = load
	}
}

// lookup is the call waiting under routing id cid.
func (r *liveRouter) lookup(cid string) *liveCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[cid]
}

// reply takes a reply that session from sent. Only a session the request
// was delivered to may answer it (a responder, see deliver), and the first
// reply of one that matches its command goes to the asker, with from as its
// originator. A reply for no waiting request (too late, never asked, or
// already answered) is dropped, as in Ditto, and so is one from any other
// session, which may have guessed a short or sequential correlation-id: to
// it the request does not exist. A reply with a status that is no HTTP
// status the asker could be given (see validReplyStatus) is refused to its
// sender (required: with an error) and ends the request it answers with
// UnusableReplyError.
func (r *liveRouter) reply(from *session, env protocol.Envelope, topic protocol.Topic, required bool) {
	cid := env.Headers[protocol.HeaderCorrelationID]
	statusErr := validReplyStatus(env.Status)
	if statusErr != nil && required {
		from.reply(protocol.ErrorEnvelope(statusErr, topic, env.Headers))
	}
	responder := from.liveOwner()
	c := r.lookup(cid)
	if c == nil || !c.req.HasResponder(responder) {
		r.log.Debug("live reply without a waiting request it may answer dropped", "topic", env.Topic, "correlation-id", cid,
			"session", from.id, "subject", from.who.DefaultSubject())
		return
	}
	if detail, ok := c.matches(env, topic); !ok {
		c.invalid.Store(&detail)
		r.log.Info("live reply not matching its command dropped", "reason", detail, "correlation-id", cid)
		return
	}
	if statusErr != nil {
		r.log.Info("live reply with an invalid status refused", "status", env.Status, "correlation-id", cid)
		r.pending.Cancel(c.req, UnusableReplyError(env.Status))
		return
	}
	env.Headers = env.Headers.Clone()
	setOriginator(env.Headers, from.who)
	if !r.pending.ResolveFrom(c.req, responder, env) {
		r.log.Debug("live reply after its request ended dropped", "correlation-id", cid)
	}
}

// validReplyStatus checks the status of a reply: a final HTTP status,
// 200–599. Beyond 100–599 it is no HTTP status at all (Ditto's HttpStatus
// refuses it, as ack.Parse does for acknowledgements); a 1xx is an interim
// response, which an HTTP asker cannot be given as the answer. The error
// is the sender's.
func validReplyStatus(status int) *protocol.Error {
	if status >= 200 && status <= 599 {
		return nil
	}
	return protocol.Errorf(protocol.CodeJSONFormatInvalid, "The status <%d> is not a valid HTTP status code of a response.", status).
		WithDescription("Answer with a final HTTP status, 200 to 599.")
}

// UnusableReplyError ends a request whose reply had an invalid status
// (see validReplyStatus): the asker learns at once that the device
// answered, and that its answer could not be used. The code is Ditto's
// IllegalAdaptableException (protocoladapter:illegal.adaptable, 422), the
// error it has for a live response it cannot take; waiting for the timeout
// would only hide the device's fault. The HTTP door answers with it too
// for any answer whose status it cannot send.
func UnusableReplyError(status int) *protocol.Error {
	return protocol.Errorf(protocol.CodeIllegalAdaptable,
		"The live response could not be used: its status <%d> is not a valid HTTP status code of a response.", status).
		WithDescription("The device answered with an invalid status; answer with a status from 200 to 599.")
}

// matches checks a reply against its command as Ditto's
// CommandAndCommandResponseMatchingValidator: the same thing, a reply of
// the same kind (a message reply to the same subject and the thing or a
// feature alike; a command response to the same action and resource path),
// or an error. It returns why not.
func (c *liveCall) matches(env protocol.Envelope, topic protocol.Topic) (string, bool) {
	if topic.EntityID() != c.topic.EntityID() {
		return "Entity ID of live response <" + topic.EntityID() + "> differs from entity ID of command <" + c.topic.EntityID() + ">.", false
	}
	if topic.Criterion == protocol.CriterionErrors {
		return "", true
	}
	mismatch := "Type of live response <" + topic.String() + "> is not related to type of command <" + c.topic.String() + ">."
	switch c.kind {
	case callMessage:
		if topic.Criterion != protocol.CriterionMessages || topic.Subject != c.msg.Subject {
			return mismatch, false
		}
		m, err := live.ParseMessage(topic, env.Path)
		if err != nil || (m.FeatureID == "") != (c.msg.FeatureID == "") {
			return mismatch, false
		}
	default:
		if topic.Criterion != protocol.CriterionCommands || topic.Action != c.topic.Action {
			return mismatch, false
		}
		ptr, err := protocol.ParsePointer(env.Path)
		if err != nil || ptr.String() != c.path {
			return "Resource path of live response <" + env.Path + "> differs from resource path of command <" + c.path + ">.", false
		}
	}
	return "", true
}

// wait waits for the answer, or until ctx is done (the asker went away).
func (c *liveCall) wait(ctx context.Context) LiveAnswer {
	if c.immediate != nil {
		return *c.immediate
	}
	if c.req == nil {
		return LiveAnswer{Accepted: true, Message: c.kind == callMessage}
	}
	defer c.r.forget(c)
	if c.acks != nil {
		return c.waitAcks(ctx)
	}
	select {
	case <-c.req.Done():
	case <-ctx.Done():
		c.r.pending.Cancel(c.req, live.ErrCanceled)
	}
	<-c.req.Done() // Cancel may have lost to another end; the request has ended either way
	reply, err := c.req.Result()
	switch {
	case errors.Is(err, live.ErrCanceled):
		return LiveAnswer{canceled: true}
	case err != nil:
		return c.failed(protocol.AsError(err))
	}
	return c.answer(c.replyEnvelope(reply))
}

// waitAcks waits for the aggregated acknowledgements, feeding them the
// reply as live-response (or its failure, so that a reply that cannot come
// does not hold the others until the timeout).
func (c *liveCall) waitAcks(ctx context.Context) LiveAnswer {
	replied := c.req.Done()
	for {
		select {
		case <-replied:
			replied = nil
			reply, err := c.req.Result()
			switch {
			case err == nil:
				c.acks.AddResponse(ack.LiveResponse, c.replyEnvelope(reply))
			case errors.Is(err, live.ErrCanceled):
			case slices.Contains(c.exp.Labels, ack.LiveResponse):
				e := protocol.AsError(err)
				c.acks.Add(ack.Ack{Label: ack.LiveResponse, Status: e.Status, Payload: errorJSON(e), Headers: protocol.ExternalHeaders(c.headers)})
			}
		case res := <-c.acksDone:
			// The reply is not awaited any more (it came, or was not
			// requested and the acknowledgements completed first).
			c.r.pending.Cancel(c.req, live.ErrCanceled)
			return LiveAnswer{ResponseRequired: c.exp.ResponseRequired, Message: c.kind == callMessage, Acks: &res, cid: c.req.CorrelationID()}
		case <-ctx.Done():
			c.acks.Cancel()
			c.r.pending.Cancel(c.req, live.ErrCanceled)
			return LiveAnswer{canceled: true}
		}
	}
}

// errorJSON is e as the payload of an acknowledgement.
func errorJSON(e *protocol.Error) json.RawMessage {
	b, _ := json.Marshal(e) // an Error holds only strings and an int
	return b
}

// failed answers a request that ended without a reply: the twin's answer
// for use-twin, else the error (command.timeout saying why, when an
// unmatched reply came).
func (c *liveCall) failed(e *protocol.Error) LiveAnswer {
	if e.Code == protocol.CodeCommandTimeout {
		if c.fallback != nil {
			return LiveAnswer{ResponseRequired: c.exp.ResponseRequired, Response: *c.fallback}
		}
		if detail := c.invalid.Load(); detail != nil {
			e = e.WithDescription("Received no appropriate live response within the specified timeout. An invalid response was received, though: " + *detail)
		}
	}
	a := errorAnswer(e, c.topic, c.headers)
	a.ResponseRequired = c.exp.ResponseRequired
	if c.smart {
		a.Response.Headers[protocol.HeaderChannel] = protocol.ChannelLive
		a.Response.Headers[headerLiveConditionMatched] = "true"
	}
	return a
}

// answer is the reply as the asker's answer.
func (c *liveCall) answer(reply protocol.Envelope) LiveAnswer {
	a := LiveAnswer{ResponseRequired: c.exp.ResponseRequired, Message: c.kind == callMessage, Response: reply}
	if reply.Status >= http.StatusBadRequest && reply.Value != nil && (c.kind == callCommand || strings.HasSuffix(reply.Topic, "/"+protocol.CriterionErrors)) {
		// A message reply's value is the device's payload, whatever its
		// status; an error or a command response's is Ditto's error.
		var e protocol.Error
		if json.Unmarshal(reply.Value, &e) == nil && e.Code != "" {
			a.Err = &e
		}
	}
	return a
}

// replyEnvelope is the device's reply as the asker receives it: its external
// headers with the asker's correlation-id (Pending.Resolve restored it), a
// message payload normalised by its content type, a retrieve's value pruned
// to what the asker may read.
func (c *liveCall) replyEnvelope(reply protocol.Envelope) protocol.Envelope {
	h := protocol.ExternalHeaders(reply.Headers)
	h[protocol.HeaderCorrelationID] = c.req.CorrelationID()
	out := protocol.Envelope{Topic: reply.Topic, Headers: h, Path: reply.Path, Value: reply.Value, Status: reply.Status}
	if c.kind == callMessage && c.topic.Criterion == protocol.CriterionMessages && reply.Value != nil {
		if t, err := protocol.ParseTopic(reply.Topic); err == nil && t.Criterion == protocol.CriterionMessages {
			out.Value = live.NormalizeValue(h[protocol.HeaderContentType], reply.Value)
		}
	}
	if c.asker != nil && reply.Value != nil && reply.Status < http.StatusMultipleChoices {
		out.Value = pruneReply(c.asker, c.path, reply.Value)
	}
	if c.smart {
		h[protocol.HeaderChannel] = protocol.ChannelLive
		h[headerLiveConditionMatched] = "true"
	}
	return out
}

// pruneReply narrows the value of a live retrieve's answer at path to what
// view may read. Ditto filters objects only (buildJsonView on the entity).
func pruneReply(view *policy.View, path string, value []byte) []byte {
	decoded, err := protocol.DecodeValue(value)
	if err != nil {
		return value
	}
	if _, isObject := decoded.(map[string]any); !isObject {
		return value
	}
	ptr, _ := protocol.ParsePointer(path)
	readable, ok := twin.Readable(view, ptr, decoded)
	if !ok {
		readable = map[string]any{}
	}
	return protocol.EncodeValue(readable)
}

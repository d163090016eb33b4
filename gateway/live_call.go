package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

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
	c := &liveCall{r: r, kind: callMessage, exp: exp, topic: topic, msg: m, headers: env.Headers}
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
	c := &liveCall{r: r, kind: callCommand, exp: exp, topic: topic, path: ptr.String(), headers: env.Headers}
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
	if originator := who.DefaultSubject(); originator != "" {
		out[protocol.HeaderOriginator] = originator
	}
	return out
}

// register records c in the pending registry unless nothing is awaited, and
// gives out (the signal's headers) the routing id its replies must carry.
func (r *liveRouter) register(c *liveCall, origin receiver, owner live.OwnerID, correlationID string, out protocol.Headers) error {
	if c.exp.FireAndForget() {
		return nil
	}
	req, err := r.pending.Register(owner, correlationID, time.Now().Add(c.exp.Timeout))
	if err != nil {
		return err
	}
	c.req = req
	out[protocol.HeaderCorrelationID] = req.RoutingID()
	if !onlyLiveResponse(c.exp.Labels) {
		// The acknowledgements that sessions issue find the request by
		// the routing id the signal carries.
		headers := out.Clone()
		c.exp.Apply(headers)
		c.acksDone = make(chan ack.Result, 1) // the answer never waits for the reader
		p, err := r.g.acks.await(c.topic, headers, c.exp, sessionOf(origin), func(res ack.Result) { c.acksDone <- res })
		if err != nil {
			r.pending.Cancel(req, err)
			return err
		}
		c.acks = p
	}
	r.mu.Lock()
	r.calls[req.RoutingID()] = c
	r.mu.Unlock()
	return nil
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

// forget removes c once its request ended.
func (r *liveRouter) forget(c *liveCall) {
	r.mu.Lock()
	if r.calls[c.req.RoutingID()] == c {
		delete(r.calls, c.req.RoutingID())
	}
	r.mu.Unlock()
}

// lookup is the call waiting under routing id cid.
func (r *liveRouter) lookup(cid string) *liveCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[cid]
}

// reply takes a reply from any session: the first that matches its command
// goes to the asker; one for no waiting request (too late, never asked, or
// already answered) is dropped, as in Ditto.
func (r *liveRouter) reply(env protocol.Envelope, topic protocol.Topic) {
	cid := env.Headers[protocol.HeaderCorrelationID]
	c := r.lookup(cid)
	if c == nil {
		r.log.Debug("live reply without a waiting request dropped", "topic", env.Topic, "correlation-id", cid)
		return
	}
	if detail, ok := c.matches(env, topic); !ok {
		c.invalid.Store(&detail)
		r.log.Info("live reply not matching its command dropped", "reason", detail, "correlation-id", cid)
		return
	}
	r.pending.Resolve(cid, env)
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

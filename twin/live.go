package twin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

// Live signals (SPEC.md §7) never touch the store, but the thing they are
// about must exist and its policy decides who may send and who may receive
// them (Ditto's LiveSignalEnforcement). The methods below make the sender's
// checks, with Ditto's errors, and hand the gateway what it needs to address
// the receivers: the LiveTarget.

// LiveTarget is the thing a live signal is about, once its sender was allowed
// to send it.
type LiveTarget struct {
	ThingID   string
	Namespace string
	// Policy is the thing's compiled policy: a receiver needs READ on the
	// signal's resource. nil when the handler runs without policies: every
	// receiver may read everything.
	Policy *policy.Enforcer

	// rec is the stored thing, decoded (st) only when a condition or the
	// extra fields need its content: most messages need neither.
	h       *Handler
	rec     Record
	decoded bool
	st      state
	thing   map[string]any // withSpecialFields(st), built on first use
}

// NewLiveTarget builds a target from its parts, for implementations of live
// authorisation other than the Handler's (tests, embedders); thing is what
// Thing returns.
func NewLiveTarget(thingID, namespace string, pol *policy.Enforcer, thing map[string]any) *LiveTarget {
	return &LiveTarget{ThingID: thingID, Namespace: namespace, Policy: pol, thing: thing}
}

// Thing is the thing's current state with its special fields (_namespace,
// _revision, _created, _modified), as extraFields select from it. It is built
// on first use and then shared: callers must not modify it, and must not call
// Thing from two goroutines at once.
func (t *LiveTarget) Thing() map[string]any {
	if t.thing == nil {
		if st, err := t.state(); err == nil && st.exists {
			t.thing = withSpecialFields(st)
		}
	}
	return t.thing
}

// state is the thing's decoded state, decoded on first use.
func (t *LiveTarget) state() (state, error) {
	if !t.decoded && t.h != nil {
		st, err := t.h.stateOf(t.rec)
		if err != nil {
			return state{}, err
		}
		t.st, t.decoded = st, true
	}
	return t.st, nil
}

// LiveResourcePointer is the path of a policy resource such as
// "message:/inbox/messages/a/b" as the policy trie reads it: its type and
// the keys between slashes (empty keys skipped). Message subjects may hold
// characters a JSON key may not, so the path is not validated as a pointer.
func LiveResourcePointer(resource string) (typ string, path protocol.Pointer) {
	typ, rest, _ := strings.Cut(resource, ":")
	for key := range strings.SplitSeq(rest, "/") {
		if key != "" {
			path = append(path, key)
		}
	}
	return typ, path
}

// loadLive reads the thing a live signal is about and its policy. A thing that
// does not exist is things:thing.notfound, as in Ditto (no enforcer: the
// signal cannot be dispatched).
func (h *Handler) loadLive(ctx context.Context, thingID string) (*LiveTarget, error) {
	if err := protocol.ValidateThingID(thingID); err != nil {
		return nil, err
	}
	rec, err := h.store.Get(ctx, thingID)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && rec.Deleted):
		return nil, thingNotFound(thingID)
	case err != nil:
		h.log.Warn("store read failed", "thing", thingID, "err", err)
		return nil, unavailable(thingID)
	}
	enf, err := h.enforcer(ctx, thingID, rec.PolicyID, false)
	if err != nil {
		return nil, err
	}
	return &LiveTarget{ThingID: thingID, Namespace: rec.Namespace, Policy: enf, h: h, rec: rec}, nil
}

// AuthorizeMessage checks that who may send a message to thingID's resource
// (a message: resource, see live.Message.Resource) and returns its target.
// Sending needs unrestricted WRITE on the resource; a claim message needs no
// permission at all (Ditto's SendClaimMessage). Errors:
//
//   - things:thing.notfound (404) when the thing does not exist, or when the
//     sender may neither send nor read any of it: the thing's existence is
//     not told to a stranger (Ditto's HTTP documentation promises 404 to a
//     caller with "insufficient permissions to interact with the messages");
//   - messages:send.notallowed (403) when the sender may read the thing but
//     not write the message;
//   - with a condition header: things:condition.invalid (400), or
//     things:condition.failed (412) when it does not hold or names what the
//     sender may not read (Ditto evaluates it on the sender's view of the
//     thing before dispatching the message).
func (h *Handler) AuthorizeMessage(ctx context.Context, who auth.Context, thingID, resource string, claim bool, headers protocol.Headers) (*LiveTarget, error) {
	t, err := h.loadLive(ctx, thingID)
	if err != nil {
		return nil, err
	}
	view := viewOf(t.Policy, who, t.Namespace)
	if !claim && view != nil {
		typ, path := LiveResourcePointer(resource)
		if !view.Has(policy.Write, typ, path) {
			if !view.CanRead(thingType, nil) {
				return nil, thingNotFound(thingID)
			}
			return nil, protocol.Errorf(protocol.CodeMessageSendNotAllowed, "You are not allowed to send messages for the Thing with id '%s'!", thingID)
		}
	}
	if err := h.checkLiveCondition(t, who, view, headers); err != nil {
		return nil, err
	}
	return t, nil
}

// AuthorizeLiveCommand checks a thing command on the live channel as Ditto's
// LiveSignalEnforcement does: like a twin command (ThingCommandEnforcement),
// partial READ for a retrieve and unrestricted WRITE for a modify, merge or
// delete, with the same errors; the thing must exist (things:thing.notfound);
// the device, not the gateway, decides whether the addressed part exists.
// A create is Ditto's things:thing.notcreatable with 405: a thing cannot be
// created through a device. A condition on a change is evaluated on the twin
// before the command is dispatched (Ditto's SupervisorLiveChannelDispatching).
func (h *Handler) AuthorizeLiveCommand(ctx context.Context, who auth.Context, env protocol.Envelope) (*LiveTarget, error) {
	topic, err := protocol.ParseTopic(env.Topic)
	if err != nil {
		return nil, err
	}
	if topic.Action == protocol.ActionCreate {
		return nil, LiveCreateError()
	}
	if topic.Group != protocol.GroupThings || topic.Channel != protocol.ChannelLive || topic.Criterion != protocol.CriterionCommands {
		return nil, protocol.Errorf(protocol.CodeSignalUnsupported, "The signal '%s' is not a live command.", env.Topic)
	}
	cmd := command{env: env, topic: topic, thingID: topic.EntityID(), who: who}
	if err := protocol.ValidateThingID(cmd.thingID); err != nil {
		return nil, err
	}
	if cmd.res, err = parseResource(env.Path); err != nil {
		return nil, err
	}
	modify := topic.Action != protocol.ActionRetrieve
	if modify {
		if cmd.condition, err = compileCondition(env.Headers); err != nil {
			return nil, err
		}
	}
	var value any
	if topic.Action == protocol.ActionModify || topic.Action == protocol.ActionMerge {
		if topic.Action == protocol.ActionMerge {
			if err := checkMergeContentType(env.Headers); err != nil {
				return nil, err
			}
		}
		if env.Value == nil {
			return nil, protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </value> field!")
		}
		if value, err = decodeValue(env.Value); err != nil {
			return nil, protocol.Errorf(protocol.CodeJSONInvalid, "The value is not valid JSON: %v", err)
		}
	}
	t, err := h.loadLive(ctx, cmd.thingID)
	if err != nil {
		return nil, err
	}
	view := viewOf(t.Policy, who, t.Namespace)
	if !modify {
		if !canRead(view, cmd.res.ptr) {
			return nil, cmd.res.notFound(cmd.thingID)
		}
		if text, ok := env.Headers[HeaderLiveChannelCondition]; ok {
			if err := checkLiveConditionReadable(text, view); err != nil {
				return nil, err
			}
		}
		return t, nil
	}
	if err := checkWrite(cmd, view, value); err != nil {
		return nil, err
	}
	if err := checkConditionReadable(cmd, view); err != nil {
		return nil, err
	}
	if cmd.condition != nil {
		st, err := t.state()
		if err != nil {
			return nil, err
		}
		if err := checkCondition(cmd, st); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// AuthorizeLiveEvent checks an event a device sends on the live channel
// (<ns>/<name>/things/live/events/<action>): the thing must exist and the
// sender needs unrestricted WRITE on thing:<path>, else
// things:event.notallowed (403), as Ditto's LiveSignalEnforcement.
func (h *Handler) AuthorizeLiveEvent(ctx context.Context, who auth.Context, env protocol.Envelope) (*LiveTarget, error) {
	topic, err := protocol.ParseTopic(env.Topic)
	if err != nil {
		return nil, err
	}
	if topic.Group != protocol.GroupThings || topic.Channel != protocol.ChannelLive || topic.Criterion != protocol.CriterionEvents {
		return nil, protocol.Errorf(protocol.CodeSignalUnsupported, "The signal '%s' is not a live event.", env.Topic)
	}
	res, err := parseResource(env.Path)
	if err != nil {
		return nil, err
	}
	t, err := h.loadLive(ctx, topic.EntityID())
	if err != nil {
		return nil, err
	}
	if view := viewOf(t.Policy, who, t.Namespace); view != nil && !view.CanWrite(thingType, res.ptr) {
		return nil, protocol.Errorf(protocol.CodeEventSendNotAllowed, "You are not allowed to send events for the Thing with id '%s'!", t.ThingID)
	}
	return t, nil
}

// HeaderLiveChannelCondition is the RQL condition that sends a twin retrieve
// to the device when the twin matches it (SPEC.md §13.3).
const HeaderLiveChannelCondition = "live-channel-condition"

// MatchLiveCondition evaluates the live-channel-condition of a retrieve of
// thingID on the twin, as Ditto's AbstractThingCommandStrategy does before
// its smart channel selection: the caller must have unrestricted READ on
// every field the condition names (else things:condition.failed, 412,
// worded for the live channel condition); an invalid condition is
// things:condition.invalid (400). The caller retrieves the twin first, so a
// missing or unreadable thing has been answered already; here it is
// things:thing.notfound.
func (h *Handler) MatchLiveCondition(ctx context.Context, who auth.Context, thingID, condition string) (bool, error) {
	pred, err := compileCondition(protocol.Headers{protocol.HeaderCondition: condition})
	if err != nil {
		return false, err
	}
	t, err := h.loadLive(ctx, thingID)
	if err != nil {
		return false, err
	}
	view := viewOf(t.Policy, who, t.Namespace)
	if !canRead(view, nil) {
		return false, thingNotFound(thingID)
	}
	if err := checkLiveConditionReadable(condition, view); err != nil {
		return false, err
	}
	thing := t.Thing()
	if thing == nil {
		return false, protocol.Errorf(protocol.CodeInternal, "The stored Thing with ID '%s' could not be read.", thingID)
	}
	return pred.Match(rql.Input{Thing: thing}), nil
}

// checkLiveCondition evaluates the condition header of a message on the
// thing (see AuthorizeMessage).
func (h *Handler) checkLiveCondition(t *LiveTarget, who auth.Context, view *policy.View, headers protocol.Headers) error {
	pred, err := compileCondition(headers)
	if err != nil || pred == nil {
		return err
	}
	cmd := command{env: protocol.Envelope{Headers: headers}, thingID: t.ThingID, who: who, condition: pred}
	if err := checkConditionReadable(cmd, view); err != nil {
		return err
	}
	st, err := t.state()
	if err != nil {
		return err
	}
	return checkCondition(cmd, st)
}

// checkLiveConditionReadable refuses a live-channel-condition that names a
// field view may not read without restriction (Ditto's
// ThingConditionFailedException for insufficient live channel permission).
func checkLiveConditionReadable(condition string, view *policy.View) error {
	if view == nil {
		return nil
	}
	filter, err := rql.ParseFilter(condition)
	if err != nil {
		return protocol.Errorf(protocol.CodeConditionInvalid, "The specified condition '%s' is invalid: %s", condition, protocol.AsError(err).Message)
	}
	for _, property := range rql.Properties(filter) {
		ptr, err := protocol.ParsePointer("/" + strings.TrimPrefix(property, "/"))
		if err != nil || !view.Has(policy.Read, thingType, ptr) {
			return protocol.Errorf(protocol.CodeConditionFailed,
				"The specified resource in the live channel condition could not be found or the requester had insufficient permissions to access it.").
				WithDescription("Check if you have sufficient permissions to access the specified resource (READ permission is required).")
		}
	}
	return nil
}

// LiveCreateError is Ditto's refusal to create a thing through the live
// channel (ThingNotCreatableException.forLiveChannel): 405, unlike the other
// things:thing.notcreatable errors.
func LiveCreateError() *protocol.Error {
	e := protocol.Errorf(protocol.CodeThingNotCreatable, "Thing could not be created via channel <live>.").
		WithDescription("Creating a thing via <live> channel is not supported. If you want to create a digital twin instead, please use channel <twin>.")
	e.Status = http.StatusMethodNotAllowed
	return e
}

// LiveConditionNotAllowedError is Ditto's LiveChannelConditionNotAllowedException
// (405): a live-channel-condition on a command that is not a retrieve.
func LiveConditionNotAllowedError() *protocol.Error {
	return &protocol.Error{Status: http.StatusMethodNotAllowed, Code: "things:live.channelcondition.notallowed",
		Message:     "The specified 'live-channel-condition' is only allowed to be used for retrieving API calls.",
		Description: "For modifying API calls the 'live-channel-condition' cannot be used, please remove the condition."}
}

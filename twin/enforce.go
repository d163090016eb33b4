package twin

import (
	"context"
	"errors"
	"strings"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

// Policies is what the handler needs of the policy handler
// (policies.Handler): the compiled policy of a thing, and the policies that
// creating a thing creates (SPEC.md §11.5).
type Policies interface {
	// Enforcer is the compiled current revision of policy id; an error
	// wrapping ErrNotFound when there is none, ErrUnavailable when the
	// store failed.
	Enforcer(ctx context.Context, id string) (*policy.Enforcer, error)
	// Policy is the current policy id, a copy the caller may change.
	Policy(ctx context.Context, id string) (*policy.Policy, error)
	// Create stores a new policy without a permission check.
	Create(ctx context.Context, p *policy.Policy) error
	// Delete deletes a policy without a permission check.
	Delete(ctx context.Context, id string) error
}

// thingType is the policy resource type of things.
const thingType = "thing"

// alwaysShown are the fields a reader of a thing is shown whatever its
// policy grants, as Ditto's allowlist for retrieves and events does.
var alwaysShown = []string{"thingId", "_namespace", "_revision", "_modified", "_created"}

// enforcer returns the compiled policy policyID of thing thingID, or nil
// when the handler runs without policies. A missing policy makes the thing
// inaccessible (Ditto: "Recreate/create the Policy … to get access to the
// Thing again").
func (h *Handler) enforcer(ctx context.Context, thingID, policyID string, modify bool) (*policy.Enforcer, error) {
	if h.policies == nil {
		return nil, nil
	}
	enf, err := h.policies.Enforcer(ctx, policyID)
	switch {
	case errors.Is(err, ErrNotFound):
		code := protocol.CodeThingNotFound
		if modify {
			code = protocol.CodeThingNotModifiable
		}
		return nil, protocol.Errorf(code, "The Thing with ID '%s' could not be accessed as its Policy with ID '%s' is not or no longer existing.", thingID, policyID).
			WithDescription("Recreate/create the Policy with ID '" + policyID + "' in order to get access to the Thing again.")
	case err != nil:
		h.log.Warn("policy read failed", "policy", policyID, "err", err)
		return nil, unavailable(thingID)
	}
	return enf, nil
}

// viewOf is the caller's view of a thing under enf (nil without policies).
func viewOf(enf *policy.Enforcer, who auth.Context, namespace string) *policy.View {
	if enf == nil {
		return nil
	}
	return enf.View(who.Subjects, namespace)
}

// readsAll tells whether view may read the whole thing, so that nothing
// needs pruning (a nil view is the handler without policies).
func readsAll(view *policy.View) bool {
	return view == nil || view.Has(policy.Read, thingType, nil)
}

// canRead tells whether view may read something at or below ptr.
func canRead(view *policy.View, ptr protocol.Pointer) bool {
	return view == nil || view.CanRead(thingType, ptr)
}

// pruneThing narrows a whole thing (special fields included) to what view
// may read, keeping the fields every reader is shown.
func pruneThing(view *policy.View, thing map[string]any) map[string]any {
	if readsAll(view) {
		return thing
	}
	pruned, _ := view.Prune(thingType, nil, thing)
	out, _ := pruned.(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	for _, k := range alwaysShown {
		if v, ok := thing[k]; ok {
			out[k] = v
		}
	}
	return out
}

// pruneAt narrows a value found at ptr of a thing to what view may read.
func pruneAt(view *policy.View, ptr protocol.Pointer, value any) any {
	if ptr.IsRoot() {
		if obj, ok := value.(map[string]any); ok {
			return pruneThing(view, obj)
		}
	}
	if view == nil || view.Has(policy.Read, thingType, ptr) {
		return value
	}
	pruned, _ := view.Prune(thingType, ptr, value)
	return pruned
}

// checkWrite enforces a write command on an existing thing: unrestricted
// WRITE on the addressed resource; for a merge, partial WRITE there and
// unrestricted WRITE on every leaf the patch touches (Ditto's
// ThingCommandEnforcement).
func checkWrite(cmd command, view *policy.View, value any) error {
	if view == nil || view.CanWrite(thingType, cmd.res.ptr) {
		return nil
	}
	if cmd.topic.Action == protocol.ActionMerge && view.HasPartial(policy.Write, thingType, cmd.res.ptr) {
		allowed := true
		patchLeaves(cmd.res.ptr, value, func(leaf protocol.Pointer) {
			allowed = allowed && view.CanWrite(thingType, leaf)
		})
		if allowed {
			return nil
		}
	}
	return notModifiable(cmd)
}

// patchLeaves calls fn with the pointer of every leaf of a merge patch at
// path: scalars, arrays and nulls; an object's members recursively. An empty
// object is a leaf too: merging it replaces a non-object there (or creates
// the member), so it writes at its path.
func patchLeaves(path protocol.Pointer, value any, fn func(protocol.Pointer)) {
	obj, ok := value.(map[string]any)
	if !ok || len(obj) == 0 {
		fn(path)
		return
	}
	for k, v := range obj {
		patchLeaves(append(path[:len(path):len(path)], k), v, fn)
	}
}

// checkConditionReadable refuses a condition that names a field the caller
// may not read without restriction, as Ditto does, so that a condition
// cannot be used to probe hidden values.
func checkConditionReadable(cmd command, view *policy.View) error {
	if cmd.condition == nil || view == nil {
		return nil
	}
	filter, err := rql.ParseFilter(cmd.env.Headers[protocol.HeaderCondition])
	if err != nil {
		return nil // compileCondition reported it already
	}
	for _, property := range rql.Properties(filter) {
		ptr, err := protocol.ParsePointer("/" + strings.TrimPrefix(property, "/"))
		if err != nil || !view.Has(policy.Read, thingType, ptr) {
			return protocol.Errorf(protocol.CodeConditionFailed,
				"The specified resource in the condition could not be found or the requester had insufficient permissions to access it.").
				WithDescription("Check if you have sufficient permissions to access the specified resource (READ permission is required).")
		}
	}
	return nil
}

// notModifiable is Ditto's refusal of a write for want of WRITE, worded for
// the command's level (ThingCommandToModifyExceptionRegistry).
func notModifiable(cmd command) *protocol.Error {
	id, f, sub := cmd.thingID, cmd.res.featureID, cmd.res.subPath().String()
	const write = "('WRITE' is required)."
	switch cmd.res.level {
	case levelThing:
		if cmd.topic.Action == protocol.ActionDelete {
			return protocol.Errorf(protocol.CodeThingNotDeletable, "The Thing with ID '%s' could not be deleted as the requester had insufficient permissions ( 'WRITE' on root resource is required).", id)
		}
		return protocol.Errorf(protocol.CodeThingNotModifiable, "The Thing with ID '%s' could not be modified as the requester had insufficient permissions %s", id, write)
	case levelPolicyID:
		return protocol.Errorf(protocol.CodePolicyIDNotModifiable, "The Policy ID of the Thing with ID '%s' could not be modified as the requester had insufficient permissions %s", id, write)
	case levelDefinition:
		return protocol.Errorf(protocol.CodeDefinitionNotModifiable, "The Definition on the Thing with ID '%s' could not be modified as the requester had insufficient permissions %s", id, write)
	case levelAttributes:
		return protocol.Errorf(protocol.CodeAttributesNotModifiable, "The Attributes on the Thing with ID '%s' could not be modified as the requester had insufficient permissions %s", id, write)
	case levelAttribute:
		return protocol.Errorf(protocol.CodeAttributeNotModifiable, " The Attribute with name '%s' on the Thing with ID '%s' could not be modified as the requester had insufficient permissions %s", sub, id, write)
	case levelFeatures:
		return protocol.Errorf(protocol.CodeFeaturesNotModifiable, "The Features on the Thing with ID '%s' cannot be modified as requester had insufficient permissions to modify it %s", id, write)
	case levelFeature:
		return protocol.Errorf(protocol.CodeFeatureNotModifiable, "The Feature with ID '%s' on the Thing with ID '%s' could not be modified as the requester had insufficient permissions to modify it %s", f, id, write)
	case levelFeatureDefinition:
		return protocol.Errorf(protocol.CodeFeatureDefinitionNotModifiable, "The Definition of the Feature with ID '%s' on the Thing with ID '%s' cannot be modified as the requester had insufficient permissions to modify it %s", f, id, write)
	case levelProperties:
		return protocol.Errorf(protocol.CodeFeaturePropertiesNotModifiable, "The Properties of the Feature with ID '%s' on the Thing with ID '%s' cannot be modified as the requester had insufficient permissions to modify it %s", f, id, write)
	case levelProperty:
		return protocol.Errorf(protocol.CodeFeaturePropertyNotModifiable, "The Property with JSON Pointer '%s' of the Feature with ID '%s' on the Thing with ID '%s' could not be modified as the requester had insufficient permissions to modify it %s", sub, f, id, write)
	case levelDesiredProperties:
		return protocol.Errorf(protocol.CodeFeatureDesiredPropertiesNotModifiable, "The desired properties of the Feature with ID '%s' on the Thing with ID '%s' cannot be modified as the requester had insufficient permissions to modify it %s", f, id, write)
	case levelDesiredProperty:
		return protocol.Errorf(protocol.CodeFeatureDesiredPropertyNotModifiable, "The desired property with JSON Pointer '%s' of the Feature with ID '%s' on the Thing with ID '%s' could not be modified as the requester had insufficient permissions to modify it %s", sub, f, id, write)
	}
	return protocol.Errorf(protocol.CodeThingNotModifiable, "The Thing with ID '%s' could not be modified as the requester had insufficient permissions %s", id, write)
}

// PolicyIDOf is the policy id of thing thingID (for permission checks of
// other doors); an error wrapping ErrNotFound when the thing does not exist.
func (h *Handler) PolicyIDOf(ctx context.Context, thingID string) (string, error) {
	rec, err := h.store.Get(ctx, thingID)
	if err != nil {
		return "", err
	}
	if rec.Deleted {
		return "", ErrNotFound
	}
	return rec.PolicyID, nil
}

// authorizeWrite enforces a write on the thing's current state and returns
// the thing's compiled policy (nil for a thing that does not exist yet: its
// policy is settled by policyForNewThing once the write is valid).
func (h *Handler) authorizeWrite(ctx context.Context, cmd command, st state, value any) (*policy.Enforcer, error) {
	if !st.exists {
		return nil, nil
	}
	// An existing thing keeps its policy: Ditto ignores the directives of
	// a command that does not create the thing.
	enf, err := h.enforcer(ctx, cmd.thingID, st.rec.PolicyID, true)
	if err != nil {
		return nil, err
	}
	view := viewOf(enf, cmd.who, st.rec.Namespace)
	if err := checkWrite(cmd, view, value); err != nil {
		return nil, err
	}
	if err := checkConditionReadable(cmd, view); err != nil {
		return nil, err
	}
	return enf, nil
}

// rollbackPolicy deletes the policy a failed thing creation created, as
// Ditto does.
func (h *Handler) rollbackPolicy(ctx context.Context, id string) {
	if id == "" || h.policies == nil {
		return
	}
	if err := h.policies.Delete(ctx, id); err != nil {
		h.log.Warn("could not delete the policy of a thing that was not created", "policy", id, "err", err)
	}
}

// Readable narrows value, found at path of a thing, to what view may read,
// as retrieves and events show it: a whole thing keeps thingId, _namespace,
// _revision, _modified and _created whatever the policy says. ok is false
// when nothing of value is readable. A nil view reads everything.
func Readable(view *policy.View, path protocol.Pointer, value any) (readable any, ok bool) {
	if view == nil || view.Has(policy.Read, thingType, path) {
		return value, true
	}
	if !view.CanRead(thingType, path) {
		return nil, false
	}
	if obj, isObject := value.(map[string]any); isObject && path.IsRoot() {
		return pruneThing(view, obj), true
	}
	return view.Prune(thingType, path, value)
}

// ReadsAll tells whether view may read every part of a thing, so that
// nothing it is shown needs pruning. A nil view reads everything.
func ReadsAll(view *policy.View) bool { return readsAll(view) }

package twin

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// policyDirectives are the fields of a thing-creating command that say which
// policy the new thing gets: an inline policy (_policy) or the id of one to
// copy (_copyPolicyFrom). Without either, the thing's policyId names an
// existing policy, or the thing gets its implicit default policy.
type policyDirectives struct {
	inline   map[string]any
	copyFrom string
	// namesPolicy: the thing has a policyId, which must exist unless one of
	// the directives creates it.
	namesPolicy bool
}

// parsePolicyDirectives reads the directives of a command at the thing's
// root; both at once are things:policy.conflicting, as in Ditto's CreateThing.
func parsePolicyDirectives(cmd command, value any) (policyDirectives, error) {
	obj, ok := value.(map[string]any)
	if !ok || !cmd.res.ptr.IsRoot() || cmd.topic.Action == protocol.ActionDelete {
		return policyDirectives{}, nil
	}
	var d policyDirectives
	_, d.namesPolicy = obj["policyId"]
	if v, ok := obj["_policy"]; ok {
		inline, isObject := v.(map[string]any)
		if !isObject {
			return d, protocol.Errorf(protocol.CodeJSONFormatInvalid, "The field '_policy' must be a JSON object.")
		}
		d.inline = inline
	}
	if v, ok := obj["_copyPolicyFrom"]; ok {
		s, isString := v.(string)
		if !isString || s == "" {
			return d, protocol.Errorf(protocol.CodeJSONFormatInvalid, "The field '_copyPolicyFrom' must be a policy id or a reference to a thing's policy id.")
		}
		d.copyFrom = s
	}
	if d.inline != nil && d.copyFrom != "" {
		return d, protocol.Errorf(protocol.CodeThingPoliciesConflicting,
			"The Thing with ID '%s' could not be created as it contained an inline Policy as well as a policyID to copy.", cmd.thingID)
	}
	return d, nil
}

// thingRefPlaceholder is the reference _copyPolicyFrom may hold instead of a
// policy id: the policy of another thing.
var thingRefPlaceholder = regexp.MustCompile(`^\{\{\s*ref:things/([^/\s]+)/policyId\s*\}\}$`)

// policyForNewThing makes sure the policy policyID of a thing being created
// exists, creating it as the directives say (SPEC.md §11.5), and that the
// caller may write the new thing under it. created is the id of a policy it
// created, which the caller deletes again when the thing is not stored.
func (h *Handler) policyForNewThing(ctx context.Context, cmd command, policyID string, d policyDirectives) (enf *policy.Enforcer, created string, err error) {
	if h.policies == nil {
		return nil, "", nil
	}
	var p *policy.Policy
	switch {
	case d.copyFrom != "":
		if p, err = h.copiedPolicy(ctx, cmd, d.copyFrom, policyID); err != nil {
			return nil, "", err
		}
	case d.inline != nil:
		body := make(map[string]any, len(d.inline)+1)
		for k, v := range d.inline {
			body[k] = v
		}
		body["policyId"] = policyID
		if p, err = policy.Parse(policyID, protocol.EncodeValue(body)); err != nil {
			return nil, "", err
		}
	case d.namesPolicy:
		// The thing names an existing policy.
	default:
		subject := cmd.who.DefaultSubject()
		if subject == "" {
			return nil, "", protocol.Errorf(protocol.CodeThingNotCreatable,
				"The Thing with ID '%s' could not be created with implicit Policy because no authorization subject is present.", cmd.thingID)
		}
		p = policy.DefaultPolicy(policyID, subject)
	}
	if p != nil {
		if err := h.policies.Create(ctx, p); err != nil {
			return nil, "", policyCreationFailed(cmd.thingID, policyID, err)
		}
		created = policyID
	}
	enf, err = h.policies.Enforcer(ctx, policyID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, created, protocol.Errorf(protocol.CodeThingNotCreatable,
			"The Thing with ID '%s' could not be created as the Policy with ID '%s' is not existing.", cmd.thingID, policyID).
			WithDescription("Check if the ID of the Policy you created the Thing with is correct and that the Policy is existing.")
	case err != nil:
		h.log.Warn("policy read failed", "policy", policyID, "err", err)
		return nil, created, unavailable(cmd.thingID)
	}
	if !enf.View(cmd.who.Subjects, cmd.topic.Namespace).CanWrite(thingType, nil) {
		return nil, created, notModifiable(cmd)
	}
	return enf, created, nil
}

// copiedPolicy is the policy _copyPolicyFrom names, as far as the caller may
// read it, under the new id.
func (h *Handler) copiedPolicy(ctx context.Context, cmd command, from, newID string) (*policy.Policy, error) {
	sourceID := from
	if m := thingRefPlaceholder.FindStringSubmatch(from); m != nil {
		st, err := h.load(ctx, m[1])
		if err != nil {
			return nil, err
		}
		if !st.exists {
			return nil, thingNotFound(m[1])
		}
		enf, err := h.enforcer(ctx, m[1], st.rec.PolicyID, false)
		if err != nil {
			return nil, err
		}
		if !canRead(viewOf(enf, cmd.who, st.rec.Namespace), protocol.Pointer{"policyId"}) {
			return nil, thingNotFound(m[1])
		}
		sourceID = st.rec.PolicyID
	}
	notFound := protocol.Errorf(protocol.CodePolicyNotFound,
		"The Policy with ID '%s' could not be found or requester had insufficient permissions to access it.", sourceID)
	source, err := h.policies.Policy(ctx, sourceID)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, unavailable(cmd.thingID)
	}
	enf, err := h.policies.Enforcer(ctx, sourceID)
	if err != nil {
		return nil, notFound
	}
	view := enf.View(cmd.who.Subjects, source.Namespace())
	if !view.CanRead("policy", nil) {
		return nil, notFound
	}
	readable := source.JSON()
	if !view.Has(policy.Read, "policy", nil) {
		v, err := protocol.DecodeValue(readable)
		if err != nil {
			return nil, err
		}
		pruned, _ := view.Prune("policy", nil, v)
		readable = protocol.EncodeValue(pruned)
	}
	p, err := policy.Parse("", readable)
	if err != nil {
		return nil, err
	}
	p.ID = newID
	return p, nil
}

// policyCreationFailed words a failed creation of a new thing's policy as
// Ditto's ThingEnforcerActor does.
func policyCreationFailed(thingID, policyID string, err error) *protocol.Error {
	e := protocol.AsError(err)
	switch {
	case e.Status == http.StatusConflict:
		return protocol.Errorf(protocol.CodeThingNotCreatable,
			"The Thing with ID '%s' could not be created because creation of its implicit Policy ID '%s' failed.", thingID, policyID).
			WithDescription("If you want to use an existing Policy, specify it as 'policyId' in the Thing JSON you create.")
	case e.Status >= 500:
		return e
	}
	out := protocol.Errorf(protocol.CodeThingNotCreatable,
		"The Thing with ID '%s' could not be created as the Policy with ID '%s' could not be created due to: '%s'", thingID, policyID, e.Message).
		WithDescription("Either check if the ID of the Policy you created the Thing with is correct and that the Policy is existing or If you want to use the existing Policy, specify it as 'policyId' in the Thing JSON you create.")
	out.Status = e.Status
	return out
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// POST /api/2/checkPermissions, as Ditto's CheckPermissionsRoute and
// CheckPermissionsActor answer it: for each named check
// {"resource":"thing:/…","entityId":"ns:x","hasPermissions":["READ"]}, whether
// the caller holds all the permissions on the resource without restriction
// (granted there and revoked nowhere below), under the policy of the entity:
// the policy itself for policy: resources, the thing's policy for thing: and
// message: resources. An entity that does not exist (or whose policy does
// not) makes its checks false.

// checkPermissionsAction is the metrics label of a permission check.
const checkPermissionsAction = "checkPermissions"

const allowCheckPermissions = "POST"

// checkedResourceTypes are the resource types Ditto checks (policy, thing,
// message), in the order its error message lists them.
var checkedResourceTypes = []string{policy.TypePolicy, policy.TypeThing, policy.TypeMessage}

func (a *API) checkPermissionsRoutes(mux *http.ServeMux) {
	for _, p := range []string{"/api/2/checkPermissions", "/api/2/checkPermissions/{$}"} {
		mux.HandleFunc("POST "+p, a.authed(a.checkPermissions))
		mux.HandleFunc(p, a.authed(methodNotAllowed(allowCheckPermissions)))
	}
}

// permissionCheck is one named check of the request.
type permissionCheck struct {
	name        string
	resource    policy.ResourceKey
	entityID    string
	namespace   string
	permissions []string
}

func (a *API) checkPermissions(c *call) {
	body, err := a.readBody(c, bodyJSON, nil)
	if err != nil {
		a.reject(c, checkPermissionsAction, err)
		return
	}
	checks, err := parsePermissionChecks(body)
	if err != nil {
		a.reject(c, checkPermissionsAction, err)
		return
	}
	policyIDs := map[string]string{} // thing id → its policy id ("" : none)
	var out bytes.Buffer
	out.WriteByte('{')
	for i, chk := range checks {
		if i > 0 {
			out.WriteByte(',')
		}
		granted, err := a.permitted(c.r.Context(), c.who, chk, policyIDs)
		if err != nil {
			a.reject(c, checkPermissionsAction, err)
			return
		}
		name, _ := json.Marshal(chk.name) // a string always marshals
		out.Write(name)
		if granted {
			out.WriteString(":true")
		} else {
			out.WriteString(":false")
		}
	}
	out.WriteByte('}')
	a.metrics.CountCommand(door, checkPermissionsAction, http.StatusOK)
	writeJSON(c.w, http.StatusOK, out.Bytes())
}

// permitted decides one check. Only a store failure is an error.
func (a *API) permitted(ctx context.Context, who auth.Context, chk permissionCheck, thingPolicies map[string]string) (bool, *protocol.Error) {
	policyID := chk.entityID
	if chk.resource.Type() != policy.TypePolicy {
		id, known := thingPolicies[chk.entityID]
		if !known {
			id = a.thingPolicyID(ctx, chk.entityID)
			thingPolicies[chk.entityID] = id
		}
		if id == "" {
			return false, nil
		}
		policyID = id
	}
	enf, err := a.policies.Enforcer(ctx, policyID)
	switch {
	case errors.Is(err, twin.ErrNotFound):
		return false, nil
	case err != nil:
		a.log.Warn("permission check: policy unavailable", "policy", policyID, "err", err)
		return false, protocol.Errorf(protocol.CodePolicyUnavailable, "The Policy with ID '%s' is not available, please try again later.", policyID)
	}
	if len(chk.permissions) == 0 {
		return false, nil
	}
	for _, name := range chk.permissions {
		perm, ok := policy.ParsePermission(name)
		if !ok || !enf.Has(who.Subjects, string(chk.resource), chk.namespace, perm) {
			return false, nil
		}
	}
	return true, nil
}

// thingPolicyID is the policy id of thing id, "" when it has none: a thing
// that does not exist (or cannot be read) makes its checks false, as in Ditto.
func (a *API) thingPolicyID(ctx context.Context, thingID string) string {
	if a.thingPols == nil {
		return ""
	}
	id, err := a.thingPols.PolicyIDOf(ctx, thingID)
	if err != nil {
		if !errors.Is(err, twin.ErrNotFound) {
			a.log.Warn("permission check: thing unavailable", "thing", thingID, "err", err)
		}
		return ""
	}
	return id
}

// parsePermissionChecks reads the request body as Ditto's CheckPermissions
// and ImmutablePermissionCheck do: an object of named checks (or such an
// object under "permissionChecks"); members that are not objects are left
// out; resource, entityId and hasPermissions are required. Every check is
// validated before any is decided.
func parsePermissionChecks(body []byte) ([]permissionCheck, *protocol.Error) {
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return nil, nil
	}
	members, err := objectMembers(body)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.name == "permissionChecks" && kindOf(m.value) == '{' {
			if members, err = objectMembers(m.value); err != nil {
				return nil, err
			}
			break
		}
	}
	var checks []permissionCheck
	seen := map[string]bool{}
	for _, m := range members {
		if kindOf(m.value) != '{' || seen[m.name] {
			continue // Ditto keeps the first of a repeated name
		}
		seen[m.name] = true
		chk, err := parsePermissionCheck(m.name, m.value)
		if err != nil {
			return nil, err
		}
		checks = append(checks, chk)
	}
	return checks, nil
}

func parsePermissionCheck(name string, data []byte) (permissionCheck, *protocol.Error) {
	chk := permissionCheck{name: name}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(data, &fields) // an object, checked by the caller
	str := func(key string) (string, *protocol.Error) {
		raw, ok := fields[key]
		if !ok {
			return "", protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </%s> field!", key)
		}
		var s string
		if kindOf(raw) != '"' || json.Unmarshal(raw, &s) != nil {
			return "", protocol.Errorf(protocol.CodeJSONInvalid, "Value <%s> for </%s> is not of type <String>!", compactJSON(raw), key)
		}
		return s, nil
	}
	resource, err := str("resource")
	if err != nil {
		return chk, err
	}
	if chk.entityID, err = str("entityId"); err != nil {
		return chk, err
	}
	raw, ok := fields["hasPermissions"]
	if !ok {
		return chk, protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </hasPermissions> field!")
	}
	if kindOf(raw) != '[' || json.Unmarshal(raw, &chk.permissions) != nil {
		return chk, protocol.Errorf(protocol.CodeJSONInvalid, "Value <%s> for </hasPermissions> is not an array of strings!", compactJSON(raw))
	}
	key, perr := policy.ParseResourceKey(resource)
	if perr != nil {
		return chk, protocol.AsError(perr)
	}
	chk.resource = key
	switch key.Type() {
	case policy.TypePolicy:
		if err := protocol.ValidatePolicyID(chk.entityID); err != nil {
			return chk, err
		}
	case policy.TypeThing, policy.TypeMessage:
		if err := protocol.ValidateThingID(chk.entityID); err != nil {
			return chk, err
		}
	default:
		return chk, protocol.Errorf(protocol.CodeJSONInvalid,
			"Unsupported resource type '%s' in check '%s'. Supported resource types are: [%s, %s, %s]",
			key.Type(), name, checkedResourceTypes[0], checkedResourceTypes[1], checkedResourceTypes[2])
	}
	chk.namespace, _, _ = protocol.SplitEntityID(chk.entityID)
	return chk, nil
}

// member is one member of a JSON object, in document order.
type member struct {
	name  string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members in order; anything
// else is json.invalid, worded as Ditto's JsonFactory.newObject.
func objectMembers(data []byte) ([]member, *protocol.Error) {
	notObject := protocol.Errorf(protocol.CodeJSONInvalid, "<%s> is not a valid JSON object!", preview(compactJSON(data)))
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, notObject
		}
		out = append(out, member{name, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notObject
	}
	return out, nil
}

func kindOf(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func compactJSON(raw []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

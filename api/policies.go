package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/twinway/twinway/protocol"
)

// The /api/2/policies routes (SPEC.md §9): each request becomes a command of
// the policies group at the path it names, handled by Config.Policies.

// Allowed methods of the policy routes, for the Allow header of a 405.
const (
	allowPolicies     = "POST"
	allowReadWrite    = "GET, PUT"
	allowReadWriteDel = "GET, PUT, DELETE"
	allowAction       = "POST"
)

// tokenIntegrationActions are Ditto's policy actions; this gateway has no
// JWT-bound subjects to activate, so they are refused (see policyAction).
var tokenIntegrationActions = map[string]bool{"activateTokenIntegration": true, "deactivateTokenIntegration": true}

func (a *API) policyRoutes(mux *http.ServeMux) {
	// POST /api/2/policies creates a policy with a generated id.
	for _, p := range []string{"/api/2/policies", "/api/2/policies/{$}"} {
		mux.HandleFunc("POST "+p, a.authed(a.createPolicy))
		mux.HandleFunc(p, a.authed(methodNotAllowed(allowPolicies)))
	}
	// /api/2/policies/{policyId}[/{path...}]: one policy at any level.
	mux.HandleFunc("/api/2/policies/{policyId}", a.authed(a.policyCommand))
	mux.HandleFunc("/api/2/policies/{policyId}/{path...}", a.authed(a.policyCommand))
}

// policyMethods are the methods Ditto's policy routes serve at a path below a
// policy (PoliciesRoute, PolicyEntriesRoute, PolicyImportsRoute); ok is false
// for a path no route serves. action marks the token integration actions.
func policyMethods(segs []string) (allow string, action, ok bool) {
	n := len(segs)
	switch {
	case n == 0:
		return allowReadWriteDel, false, true
	case segs[0] == "actions":
		return allowAction, true, n == 2 && tokenIntegrationActions[segs[1]]
	case segs[0] == "imports":
		switch {
		case n <= 2:
			return allowReadWriteDel, false, true
		case n == 3 && (segs[2] == "entries" || segs[2] == "transitiveImports"):
			return allowReadWrite, false, true
		}
	case segs[0] == "entries":
		switch {
		case n == 1:
			return allowReadWrite, false, true
		case n == 2:
			return allowReadWriteDel, false, true
		case segs[2] == "subjects" || segs[2] == "resources":
			if n == 3 {
				return allowReadWrite, false, true
			}
			return allowReadWriteDel, false, true
		case n == 3 && (segs[2] == "namespaces" || segs[2] == "importable"):
			return allowReadWrite, false, true
		case n == 3 && (segs[2] == "allowedAdditions" || segs[2] == "references"):
			return allowReadWriteDel, false, true
		case n == 4 && segs[2] == "actions":
			return allowAction, true, tokenIntegrationActions[segs[3]]
		}
	}
	return "", false, false
}

// policyCommand serves /api/2/policies/{policyId}[/{path...}]: GET retrieve,
// PUT modify, DELETE delete; POST on the token integration actions.
func (a *API) policyCommand(c *call) {
	policyID := c.r.PathValue("policyId")
	segs, err := pathKeys(c.r)
	if err != nil {
		writeError(c, err)
		return
	}
	allow, isAction, ok := policyMethods(segs)
	if !ok {
		notFound(c)
		return
	}
	if !slices.Contains(strings.Split(allow, ", "), c.r.Method) {
		methodNotAllowed(allow)(c)
		return
	}
	if isAction {
		policyAction(c, segs[len(segs)-1])
		return
	}
	action := map[string]string{http.MethodGet: protocol.ActionRetrieve, http.MethodPut: protocol.ActionModify,
		http.MethodDelete: protocol.ActionDelete}[c.r.Method]
	headers, responseRequired, perr := commandHeaders(c)
	if perr != nil {
		a.reject(c, action, perr)
		return
	}
	namespace, name, valid := protocol.SplitEntityID(policyID)
	if !valid {
		a.reject(c, action, protocol.ValidatePolicyID(policyID))
		return
	}
	env := protocol.Envelope{Topic: policyTopic(namespace, name, action), Headers: headers, Path: "/" + strings.Join(segs, "/")}
	query := c.r.URL.Query()
	switch action {
	case protocol.ActionRetrieve:
		if len(segs) == 0 {
			env.Fields = query.Get("fields")
			if v, ok := query["policy-view"]; ok && len(v) > 0 {
				headers["policy-view"] = v[len(v)-1]
			}
		}
	case protocol.ActionModify:
		if env.Value, perr = a.readBody(c, bodyJSON, nil); perr != nil {
			a.reject(c, action, perr)
			return
		}
	}
	// A PUT that creates answers with the request's own URL, as Ditto does.
	a.runOn(a.policies, c, action, env, responseRequired, absoluteURL(c.r, c.r.URL.EscapedPath()))
}

// createPolicy serves POST /api/2/policies: it creates the policy in the
// body under a generated id in Ditto's default policy namespace, the empty
// one (PolicyId.generateRandom).
func (a *API) createPolicy(c *call) {
	headers, responseRequired, err := commandHeaders(c)
	if err != nil {
		a.reject(c, protocol.ActionCreate, err)
		return
	}
	body, err := a.readBody(c, bodyJSON, nil)
	if err != nil {
		a.reject(c, protocol.ActionCreate, err)
		return
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		a.reject(c, protocol.ActionCreate, protocol.Errorf(protocol.CodeJSONInvalid, "<%s> is not a valid JSON object!", preview(body)))
		return
	}
	if _, ok := fields["policyId"]; ok {
		a.reject(c, protocol.ActionCreate, protocol.Errorf(protocol.CodePolicyIDNotSettable,
			"It is not allowed to provide a Policy ID in the request body for method POST. The method POST will generate the Policy ID by itself.").
			WithDescription("To provide your own Policy ID use a PUT request instead."))
		return
	}
	name := uuid.NewString()
	env := protocol.Envelope{Topic: policyTopic("", name, protocol.ActionCreate), Headers: headers, Path: "/", Value: body}
	location := absoluteURL(c.r, (&url.URL{Path: "/api/2/policies/:" + name}).EscapedPath())
	a.runOn(a.policies, c, protocol.ActionCreate, env, responseRequired, location)
}

// policyAction answers Ditto's token integration actions, which bind the
// subjects of the caller's JWT to policy entries. This gateway does not have
// them; it refuses them with the error Ditto gives when an action cannot be
// applied (policies:action.failed), with status 400 as Ditto's refusal for a
// caller without a JWT.
func policyAction(c *call, action string) {
	e := protocol.Errorf(protocol.CodePolicyActionFailed, "Failed to execute action '%s'.", action).
		WithDescription("Policy actions are not supported by this gateway yet.")
	e.Status = http.StatusBadRequest
	writeError(c, e)
}

// policyTopic is the command topic of the policy <namespace>:<name>.
func policyTopic(namespace, name, action string) string {
	return protocol.Topic{Namespace: namespace, Name: name, Group: protocol.GroupPolicies,
		Criterion: protocol.CriterionCommands, Action: action}.String()
}

package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/twinway/twinway/protocol"
)

// door is the metrics label of the HTTP door.
const door = "http"

// retrieveManyTopic is the topic of a retrieve of several things.
var retrieveManyTopic = protocol.Topic{Namespace: protocol.Placeholder, Name: protocol.Placeholder,
	Group: protocol.GroupThings, Channel: protocol.ChannelTwin, Criterion: protocol.CriterionCommands,
	Action: protocol.ActionRetrieve}.String()

// retrieveThings serves GET /api/2/things?ids=a,b&fields=…: the readable
// things among ids, in their order, as a JSON array.
//
// Without ids the twin handler answers things:things.ids.missing (400).
// Listing the visible things without ids (Ditto pages them with
// option/namespaces) comes with search and RQL.
func (a *API) retrieveThings(c *call) {
	headers, responseRequired, err := commandHeaders(c)
	if err != nil {
		a.reject(c, protocol.ActionRetrieve, err)
		return
	}
	query := c.r.URL.Query()
	ids := []string{}
	for _, list := range query["ids"] {
		for _, id := range strings.Split(list, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	}
	value, _ := json.Marshal(struct { // strings always marshal
		ThingIDs []string `json:"thingIds"`
	}{ids})
	env := protocol.Envelope{Topic: retrieveManyTopic, Headers: headers, Path: "/", Value: value, Fields: query.Get("fields")}
	a.run(c, protocol.ActionRetrieve, env, responseRequired, "")
}

// createThing serves POST /api/2/things[?namespace=ns]: it creates a thing
// with the generated id <ns>:<uuid>, in Config.DefaultNamespace when the
// request names none.
func (a *API) createThing(c *call) {
	headers, responseRequired, err := commandHeaders(c)
	if err != nil {
		a.reject(c, protocol.ActionCreate, err)
		return
	}
	namespace := c.r.URL.Query().Get("namespace")
	if namespace == "" {
		namespace = a.defaultNamespace
	}
	thingID := namespace + ":" + uuid.NewString()
	if err := protocol.ValidateThingID(thingID); err != nil {
		a.reject(c, protocol.ActionCreate, err)
		return
	}
	body, err := a.readBody(c, bodyJSON, json.RawMessage(`{}`))
	if err != nil {
		a.reject(c, protocol.ActionCreate, err)
		return
	}
	// The id is the gateway's to choose: any thingId in the body is refused.
	// A body that is not an object is left to the twin handler to refuse.
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		if _, ok := fields["thingId"]; ok {
			a.reject(c, protocol.ActionCreate, protocol.Errorf(protocol.CodeThingIDNotSettable,
				"It is not allowed to provide a Thing ID in the request body for method POST. The method POST will generate the Thing ID by itself.").
				WithDescription("To provide your own Thing ID use a PUT request instead."))
			return
		}
	}
	_, name, _ := protocol.SplitEntityID(thingID)
	env := protocol.Envelope{Topic: thingTopic(namespace, name, protocol.ActionCreate), Headers: headers, Path: "/", Value: body}
	location := absoluteURL(c.r, (&url.URL{Path: "/api/2/things/" + thingID}).EscapedPath())
	a.run(c, protocol.ActionCreate, env, responseRequired, location)
}

// thingCommand serves /api/2/things/{thingId}[/{path...}] for one action:
// GET retrieve, PUT modify, PATCH merge, DELETE delete.
func (a *API) thingCommand(action string) func(c *call) {
	return func(c *call) {
		headers, responseRequired, err := commandHeaders(c)
		if err != nil {
			a.reject(c, action, err)
			return
		}
		thingID, path, err := thingTarget(c.r)
		if err != nil {
			a.reject(c, action, err)
			return
		}
		namespace, name, ok := protocol.SplitEntityID(thingID)
		if !ok {
			a.reject(c, action, protocol.ValidateThingID(thingID))
			return
		}
		if action == protocol.ActionDelete && path == "/policyId" {
			// Ditto has no route to delete the policy id.
			methodNotAllowed(allowPolicyID)(c)
			return
		}
		env := protocol.Envelope{Topic: thingTopic(namespace, name, action), Headers: headers, Path: path}
		switch action {
		case protocol.ActionRetrieve:
			env.Fields = c.r.URL.Query().Get("fields")
		case protocol.ActionModify:
			env.Value, err = a.readBody(c, bodyJSON, nil)
		case protocol.ActionMerge:
			env.Value, err = a.readBody(c, bodyMergePatch, nil)
		}
		if err != nil {
			a.reject(c, action, err)
			return
		}
		// A PUT that creates answers with the request's own URL, as Ditto does.
		location := absoluteURL(c.r, c.r.URL.EscapedPath())
		a.run(c, action, env, responseRequired, location)
	}
}

// thingTopic is the twin command topic of the thing <namespace>:<name>.
func thingTopic(namespace, name, action string) string {
	return protocol.Topic{Namespace: namespace, Name: name, Group: protocol.GroupThings, Channel: protocol.ChannelTwin,
		Criterion: protocol.CriterionCommands, Action: action}.String()
}

// run hands the command to the twin handler, counts it and answers. With
// responseRequired false the answer is 202 without a body, once the command
// has been applied (a write is then already durable).
//
// A write runs on a context that the client's going away does not cancel: a
// write abandoned half-way could be stored without its event being published.
func (a *API) run(c *call, action string, env protocol.Envelope, responseRequired bool, location string) {
	ctx := c.r.Context()
	if action != protocol.ActionRetrieve {
		ctx = context.WithoutCancel(ctx)
	}
	resp := a.twins.Handle(ctx, c.who, env)
	a.metrics.CountCommand(door, action, resp.Status)
	if !responseRequired {
		c.w.WriteHeader(http.StatusAccepted)
		return
	}
	writeResponse(c, resp, location)
}

// reject answers a command the door refused before it reached the twin
// handler, and counts it.
func (a *API) reject(c *call, action string, err *protocol.Error) {
	a.metrics.CountCommand(door, action, err.Status)
	writeError(c, err)
}

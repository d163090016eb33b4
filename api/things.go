package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/gateway"
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
	if a.events != nil && acceptsEventStream(c.r) {
		a.streamEvents(c, "", "")
		return
	}
	headers, responseRequired, err := commandHeaders(c)
	if err != nil {
		a.reject(c, protocol.ActionRetrieve, err)
		return
	}
	if a.liveRefused(c, protocol.ActionRetrieve, headers) {
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
	if a.liveRefused(c, protocol.ActionCreate, headers) {
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
		if action == protocol.ActionRetrieve && a.events != nil && acceptsEventStream(c.r) {
			thingID, path, err := thingTarget(c.r)
			if err != nil {
				writeError(c, err)
				return
			}
			a.streamEvents(c, thingID, path)
			return
		}
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
		if a.liveThingCommand(c, action, env) {
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

// run hands the command to the twin handler, counts it and answers (see
// runOn).
//
// With Config.Commands the command runs there instead (see runAcked).
func (a *API) run(c *call, action string, env protocol.Envelope, responseRequired bool, location string) {
	if a.commands != nil {
		a.runAcked(c, action, env, location)
		return
	}
	a.runOn(a.twins, c, action, env, responseRequired, location)
}

// commandHandler applies a command and returns its response: the twin
// handler for thing commands, the policy handler for policy commands.
type commandHandler interface {
	Handle(ctx context.Context, who auth.Context, cmd protocol.Envelope) protocol.Envelope
}

// runOn hands the command to h, counts it and answers. With
// responseRequired false the answer is 202 without a body, once the command
// has been applied (a write is then already durable).
//
// A write runs on a context that the client's going away does not cancel: a
// write abandoned half-way could be stored without its event being published.
func (a *API) runOn(h commandHandler, c *call, action string, env protocol.Envelope, responseRequired bool, location string) {
	ctx := c.r.Context()
	if action != protocol.ActionRetrieve {
		ctx = context.WithoutCancel(ctx)
	}
	resp := h.Handle(ctx, c.who, env)
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

// EventStreams serves Server-Sent Events of twin changes; *gateway.Gateway
// is one.
type EventStreams interface {
	// ServeSSE streams the changes until the stream ends; an error (a
	// *protocol.Error) means it wrote nothing and the caller answers.
	ServeSSE(w http.ResponseWriter, r *http.Request, who auth.Context, req gateway.SSERequest) error
}

// acceptsEventStream tells whether a request asks for Server-Sent Events:
// a GET (not HEAD) one of whose Accept media ranges matches
// text/event-stream and is not */*, as Ditto's gateway decides.
func acceptsEventStream(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, h := range r.Header.Values("Accept") {
		for mediaRange := range strings.SplitSeq(h, ",") {
			mediaType, _, _ := strings.Cut(mediaRange, ";")
			switch strings.ToLower(strings.TrimSpace(mediaType)) {
			case "text/event-stream", "text/*":
				return true
			}
		}
	}
	return false
}

// sseHistoryParams ask Ditto's SSE routes to replay persisted events, a
// history this gateway does not keep.
var sseHistoryParams = []string{"from-historical-revision", "to-historical-revision", "from-historical-timestamp", "to-historical-timestamp"}

// streamEvents serves GET /api/2/things (thingID "") and
// /api/2/things/{thingId}[/{path}] with Accept: text/event-stream: the
// changes as Server-Sent Events. The parameters ids, namespaces, filter,
// fields and extraFields select them; on the per-thing routes the thing
// replaces ids and a sub-path replaces fields, as in Ditto. Invalid
// parameters are answered with Ditto's error JSON before the stream starts.
// A mailbox sub-path, (/features/{featureId})?/(inbox|outbox)/messages[/{subject}],
// streams that mailbox's messages instead (gateway.IsMessagePath), whatever
// the parameters, as Ditto reads none there.
func (a *API) streamEvents(c *call, thingID, path string) {
	query := c.r.URL.Query()
	for _, p := range sseHistoryParams {
		if query.Has(p) && !gateway.IsMessagePath(path) {
			writeError(c, protocol.Errorf(protocol.CodeHeaderUnsupported, "The parameter '%s' is not supported: this gateway keeps no history of events.", p))
			return
		}
	}
	req := gateway.SSERequest{ThingIDs: query.Get("ids"), Namespaces: query.Get("namespaces"), Filter: query.Get("filter"),
		Fields: query.Get("fields"), ExtraFields: query.Get("extraFields")}
	if thingID != "" {
		req.ThingIDs, req.Path = thingID, path
	}
	if err := a.events.ServeSSE(c.w, c.r, c.who, req); err != nil {
		writeError(c, protocol.AsError(err))
	}
}

// Commands runs a command with Ditto's acknowledgement rules and returns its
// answer (an error only when ctx ended first: nobody to answer);
// *gateway.Gateway is one.
type Commands interface {
	Command(ctx context.Context, who auth.Context, cmd protocol.Envelope, door ack.Door) (gateway.CommandAnswer, error)
}

// runAcked runs the command through Config.Commands and answers as Ditto's
// HTTP door does (SPEC.md §6): refused headers with their error; without
// acknowledgements beyond twin-persisted, the twin's response (202 when
// response-required is false, as run); with them, the aggregated
// acknowledgements once all arrived or the timeout passed (200 when all
// succeeded, else 424; a single one is its own status and payload), or 202
// when response-required is false and all succeeded.
func (a *API) runAcked(c *call, action string, env protocol.Envelope, location string) {
	ans, err := a.commands.Command(c.r.Context(), c.who, env, ack.HTTP)
	if err != nil {
		a.log.Debug("client gone before the answer", "correlation-id", c.cid, "err", err)
		return
	}
	a.metrics.CountCommand(door, action, ans.Status())
	if ans.Result != nil && ans.Result.Outcome != ack.AnswerResponse {
		writeAcks(c, *ans.Result, ans.ResponseRequired)
		return
	}
	resp := ans.Response
	if ans.Result != nil {
		resp = ans.Result.Response
	}
	if !ans.ResponseRequired {
		c.w.WriteHeader(http.StatusAccepted)
		return
	}
	writeResponse(c, resp, location)
}

// writeAcks writes aggregated acknowledgements (or the command.timeout that
// ends a wait for the response alone) as Ditto's HTTP door does
// (ack.Result.HTTP), with the headers a response carries.
func writeAcks(c *call, r ack.Result, responseRequired bool) {
	status, headers, contentType, body := r.HTTP(responseRequired)
	if status < 200 || status > 599 {
		// A single acknowledgement is its own answer; an interim (1xx)
		// status cannot be one.
		writeError(c, protocol.Errorf(protocol.CodeIllegalAdaptable,
			"The acknowledgement could not be used as the answer: its status <%d> is not a valid HTTP status code of a response.", status))
		return
	}
	h := c.w.Header()
	for _, name := range responseHeaderNames {
		if v, ok := headers[name]; ok && v != "" {
			h.Set(name, v)
		}
	}
	if contentType == "" {
		c.w.WriteHeader(status)
		return
	}
	writeJSON(c.w, status, body)
}

package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/gateway"
	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// The live channel over HTTP (SPEC.md §7, §9): messages to a thing's or a
// feature's inbox or outbox, claim messages, and the thing routes with
// channel=live (live commands) or a live-channel-condition (retrieves that
// may go to the device). The door builds the signal; Config.Live routes it
// and waits for the device's answer.

// Live sends live commands and messages and waits for their answers;
// *gateway.Gateway is one.
type Live interface {
	AskLive(ctx context.Context, who auth.Context, cmd protocol.Envelope) gateway.LiveAnswer
}

// maxMessageBytes is Ditto's message payload limit (limits.messages.max-size
// 250k, which HOCON reads as 250 × 1024 bytes).
const maxMessageBytes = 250 * 1024

// messageRoutes adds the message routes; they serve POST only (a GET of a
// mailbox is a stream of messages, Server-Sent Events).
func (a *API) messageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/2/things/{thingId}/inbox/claim", a.authed(a.sendClaim))
	for _, box := range []string{live.Inbox, live.Outbox} {
		mux.HandleFunc("POST /api/2/things/{thingId}/"+box+"/messages/{subject...}", a.authed(a.sendMessage(box, false)))
		mux.HandleFunc("POST /api/2/things/{thingId}/features/{featureId}/"+box+"/messages/{subject...}", a.authed(a.sendMessage(box, true)))
	}
}

// sendMessage serves POST /api/2/things/{thingId}[/features/{featureId}]/{box}/messages/{subject}.
func (a *API) sendMessage(box string, feature bool) func(c *call) {
	return func(c *call) {
		featureID := ""
		if feature {
			featureID = c.r.PathValue("featureId")
		}
		m, err := live.HTTPMessage(c.r.PathValue("thingId"), featureID, box, c.r.PathValue("subject"))
		if err != nil {
			a.reject(c, protocol.CriterionMessages, protocol.AsError(err))
			return
		}
		a.askMessage(c, m)
	}
}

// sendClaim serves POST /api/2/things/{thingId}/inbox/claim.
func (a *API) sendClaim(c *call) {
	m, err := live.HTTPClaim(c.r.PathValue("thingId"))
	if err != nil {
		a.reject(c, protocol.CriterionMessages, protocol.AsError(err))
		return
	}
	a.askMessage(c, m)
}

// askMessage sends m with the request's body as its payload and answers with
// the device's reply: its status, headers and payload under its content
// type (202 at timeout=0; 408 when nobody answers in time). The body may be
// of any content type: JSON travels as JSON, text as a string, anything
// else in base64 (live.ValueFromBody). A request without Content-Type is
// application/octet-stream, as Ditto's HTTP server reads it.
func (a *API) askMessage(c *call, m live.Message) {
	headers := requestHeaders(c)
	if _, err := headers.ResponseRequired(); err != nil {
		a.reject(c, protocol.CriterionMessages, protocol.AsError(err))
		return
	}
	if v, ok := headers[protocol.HeaderRequestedAcks]; ok {
		acks, err := normalizeArrayHeader(protocol.HeaderRequestedAcks, v)
		if err != nil {
			a.reject(c, protocol.CriterionMessages, err)
			return
		}
		headers[protocol.HeaderRequestedAcks] = acks
	}
	contentType := c.r.Header.Get("Content-Type")
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	headers[protocol.HeaderContentType] = contentType
	body, perr := a.readMessageBody(c)
	if perr != nil {
		a.reject(c, protocol.CriterionMessages, perr)
		return
	}
	value, err := live.ValueFromBody(contentType, body)
	if err != nil {
		a.reject(c, protocol.CriterionMessages, protocol.AsError(err))
		return
	}
	env := protocol.Envelope{Topic: m.Topic(), Headers: headers, Path: m.Path(), Value: value}
	a.writeLive(c, protocol.CriterionMessages, a.live.AskLive(c.r.Context(), c.who, env), "")
}

// readMessageBody reads a message payload, at most Ditto's limit
// (messages:payload.toolarge, 413).
func (a *API) readMessageBody(c *call) ([]byte, *protocol.Error) {
	limit := min(int64(maxMessageBytes), a.maxBody)
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, protocol.Errorf(protocol.CodeMessageTooLarge,
			"The message payload size exceeds the maximal allowed size of '%d' kB.", limit/1024)
	case err != nil:
		return nil, protocol.Errorf(protocol.CodeJSONInvalid, "The request body could not be read.")
	}
	return body, nil
}

// liveRefused refuses channel=live on the routes that have no live form: a
// thing cannot be created through a device (405, Ditto's
// ThingNotCreatableException.forLiveChannel), and several things are not
// retrieved live here. It reports whether it answered.
func (a *API) liveRefused(c *call, action string, headers protocol.Headers) bool {
	if headers[protocol.HeaderChannel] != protocol.ChannelLive {
		return false
	}
	e := protocol.Errorf(protocol.CodeHeaderUnsupported, "The channel 'live' is not supported for retrieving several things.")
	if action == protocol.ActionCreate {
		e = twin.LiveCreateError()
	}
	a.reject(c, action, e)
	return true
}

// liveThingCommand serves a thing route's command env on the live channel
// when the request asks for it (channel=live as query parameter or
// header), and a retrieve with a live-channel-condition (the twin answers,
// or the device when the condition holds). It reports whether it answered.
func (a *API) liveThingCommand(c *call, action string, env protocol.Envelope) bool {
	_, conditional := env.Headers[twin.HeaderLiveChannelCondition]
	liveChannel := env.Headers[protocol.HeaderChannel] == protocol.ChannelLive
	switch {
	case !liveChannel && !conditional:
		return false
	case a.live == nil && !liveChannel:
		return false // the twin handler refuses the condition
	case a.live == nil:
		a.reject(c, action, protocol.Errorf(protocol.CodeHeaderUnsupported, "The channel 'live' is not supported over HTTP by this gateway."))
		return true
	}
	if liveChannel {
		topic, _ := protocol.ParseTopic(env.Topic)
		topic.Channel = protocol.ChannelLive
		env.Topic = topic.String()
	}
	a.writeLive(c, action, a.live.AskLive(c.r.Context(), c.who, env), "")
	return true
}

// writeLive answers with a live request's answer, as Ditto's HTTP door
// does: an error as its JSON; 202 when nobody waits, or when no response
// was required and the answer is a success; aggregated acknowledgements as
// writeAcks; a message reply with its own status, headers and payload under
// its content type (204 never has a body; Ditto ignores a device's 502,
// which it uses itself, and answers 200); a command response as the twin's
// response would be. A reply whose status is no final HTTP status (the
// gateway refuses such replies; this is the door's own guard, since
// WriteHeader panics beyond 999 and sends an interim response for 1xx) is
// answered with gateway.UnusableReplyError.
func (a *API) writeLive(c *call, action string, ans gateway.LiveAnswer, location string) {
	resp := ans.Response
	switch {
	case ans.Acks != nil && ans.Acks.Outcome != ack.AnswerResponse:
		a.metrics.CountCommand(door, action, ans.Acks.Status)
		writeAcks(c, *ans.Acks, ans.ResponseRequired)
		return
	case ans.Acks != nil:
		resp = ans.Acks.Response
	case ans.Accepted:
		a.metrics.CountCommand(door, action, http.StatusAccepted)
		c.w.WriteHeader(http.StatusAccepted)
		return
	case ans.Err != nil && resp.Topic == "":
		a.reject(c, action, ans.Err)
		return
	}
	status := resp.Status
	if status == 0 || status == http.StatusBadGateway {
		status = http.StatusOK
	}
	if status < 200 || status > 599 {
		a.reject(c, action, gateway.UnusableReplyError(status))
		return
	}
	a.metrics.CountCommand(door, action, status)
	if !ans.ResponseRequired && status < http.StatusMultipleChoices {
		c.w.WriteHeader(http.StatusAccepted)
		return
	}
	if !ans.Message || strings.HasSuffix(resp.Topic, "/"+protocol.CriterionErrors) {
		writeResponse(c, resp, location)
		return
	}
	resp.Status = status
	writeMessageReply(c, resp)
}

// writeMessageReply writes a device's reply to a message: its status, the
// known headers of a response and the message's own (ditto-message-*), and
// its payload as bytes of its content type (live.HTTPReply).
func writeMessageReply(c *call, reply protocol.Envelope) {
	status, contentType, body := live.HTTPReply(reply)
	h := c.w.Header()
	for _, name := range responseHeaderNames {
		if v, ok := reply.Headers[name]; ok && v != "" {
			h.Set(name, v)
		}
	}
	for name, v := range reply.Headers {
		if strings.HasPrefix(name, "ditto-message-") && v != "" {
			h.Set(name, v)
		}
	}
	if body == nil {
		c.w.WriteHeader(status)
		return
	}
	if contentType == "" {
		// Not sniffed: the device said nothing about its bytes.
		contentType = "application/octet-stream"
	}
	h.Set("Content-Type", contentType)
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body) // a failed write means the client is gone
}

package ack

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twinway/twinway/protocol"
)

// Aggregator collects the acknowledgements one request waits for (Ditto's
// AcknowledgementAggregator and AcknowledgementAggregatorActor). It is safe
// for concurrent use: acknowledgements arrive from other sessions' read loops
// while the caller's timer may fire. It runs no timer itself; the caller
// calls Timeout at Expectation.Timeout.
//
// The first acknowledgement per label counts; later ones and labels that
// were not requested are ignored, as in Ditto. A twin command that fails
// (an error rather than a response) ends the request at once in Ditto:
// answer with the error and drop the aggregator instead of adding it here.
type Aggregator struct {
	topic   protocol.Topic   // the thing and channel the request is about
	headers protocol.Headers // the answer's headers (see answerHeaders)
	cid     string
	timeout time.Duration
	labels  []string

	mu       sync.Mutex
	acks     map[string]Ack
	response *protocol.Envelope // the response added with AddResponse
	done     bool
}

// NewAggregator starts collecting labels (an Expectation's Labels) for the
// command with topic and headers, for at most timeout (the Expectation's).
// The topic gives the thing and the channel of the answer; the headers, best
// taken after Expectation.Apply, give the correlation-id and the answer's
// headers.
func NewAggregator(topic protocol.Topic, commandHeaders protocol.Headers, labels []string, timeout time.Duration) *Aggregator {
	return &Aggregator{
		topic:   topic,
		headers: answerHeaders(commandHeaders),
		cid:     commandHeaders[protocol.HeaderCorrelationID],
		timeout: timeout,
		labels:  append([]string(nil), labels...),
		acks:    make(map[string]Ack, len(labels)),
		done:    len(labels) == 0,
	}
}

// answerHeaders are the headers Ditto gives aggregated acknowledgements: the
// command's external headers without requested-acks, and response-required
// false (Acknowledgements' constructor), since the answer is itself the
// response.
func answerHeaders(h protocol.Headers) protocol.Headers {
	out := protocol.ExternalHeaders(h)
	delete(out, protocol.HeaderRequestedAcks)
	if _, ok := out[protocol.HeaderResponseRequired]; ok {
		out[protocol.HeaderResponseRequired] = "false"
	}
	return out
}

// Add records the acknowledgement for label and reports whether it completed
// the request: exactly one call (Add, AddResponse or Timeout) returns true,
// and that caller sends Result.
func (a *Aggregator) Add(label string, status int, payload json.RawMessage, headers protocol.Headers) bool {
	return a.add(Ack{Label: label, Status: status, Payload: payload, Headers: protocol.ExternalHeaders(headers)}, nil)
}

// AddResponse records the response to the command as the built-in
// acknowledgement label (twin-persisted: the twin's response to a modify;
// live-response: the device's reply to a live command or message, an error
// reply included), keeping the response so that a request that asked for
// that label alone is answered with the response itself.
func (a *Aggregator) AddResponse(label string, response protocol.Envelope) bool {
	ack := Ack{Label: label, Status: response.Status, Payload: response.Value, Headers: protocol.ExternalHeaders(response.Headers)}
	return a.add(ack, &response)
}

func (a *Aggregator) add(ack Ack, response *protocol.Envelope) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done || !a.requested(ack.Label) {
		return false
	}
	if _, dup := a.acks[ack.Label]; dup {
		return false
	}
	a.acks[ack.Label] = ack
	if response != nil && a.response == nil {
		a.response = response
	}
	a.done = len(a.acks) == len(a.labels)
	return a.done
}

func (a *Aggregator) requested(label string) bool {
	for _, l := range a.labels {
		if l == label {
			return true
		}
	}
	return false
}

// Timeout ends the request: every label without an acknowledgement gets a
// 408 entry. It reports whether this call ended the request (false when it
// had completed already).
func (a *Aggregator) Timeout() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return false
	}
	a.done = true
	return true
}

// Done tells whether the request has ended.
func (a *Aggregator) Done() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done
}

// Outcome is the kind of answer a request gets.
type Outcome uint8

const (
	// AnswerResponse: the only requested label was twin-persisted or
	// live-response and the response came; the answer is that response,
	// unchanged (Result.Response).
	AnswerResponse Outcome = iota + 1
	// AnswerError: the only requested label was twin-persisted or
	// live-response and the response did not come; the answer is
	// command.timeout (Result.Error).
	AnswerError
	// AnswerAcks: the answer is the aggregated acknowledgements (Result.Acks),
	// also when a single custom label was requested.
	AnswerAcks
)

// Result is the answer to a request whose aggregation ended.
type Result struct {
	Outcome  Outcome
	Response protocol.Envelope // AnswerResponse
	Error    *protocol.Error   // AnswerError
	Acks     []Ack             // AnswerAcks: one per requested label, in request order
	Status   int               // the answer's status

	topic   protocol.Topic
	headers protocol.Headers
}

// Result is the answer (see Outcome); call it once Done.
func (a *Aggregator) Result() Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := Result{topic: a.topic, headers: a.headers}
	if len(a.labels) == 1 && (a.labels[0] == TwinPersisted || a.labels[0] == LiveResponse) {
		if a.response != nil {
			r.Outcome, r.Response, r.Status = AnswerResponse, *a.response, a.response.Status
			return r
		}
		if _, ok := a.acks[a.labels[0]]; !ok {
			r.Outcome, r.Error = AnswerError, CommandTimeoutError(a.timeout)
			r.Status = r.Error.Status
			return r
		}
	}
	r.Outcome = AnswerAcks
	r.Acks = make([]Ack, len(a.labels))
	for i, l := range a.labels {
		ack, ok := a.acks[l]
		if !ok {
			ack = a.timeoutAck(l)
		}
		r.Acks[i] = ack
	}
	r.Status = combinedStatus(r.Acks)
	return r
}

// timeoutAck is the entry of a label that did not arrive: 408, Ditto's
// acknowledgement:request.timeout as payload, only the correlation-id as
// headers (it was never really received).
func (a *Aggregator) timeoutAck(label string) Ack {
	payload, _ := json.Marshal(RequestTimeoutError(a.timeout))
	return Ack{Label: label, Status: http.StatusRequestTimeout, Payload: payload,
		Headers: protocol.Headers{protocol.HeaderCorrelationID: a.cid}}
}

// combinedStatus is Ditto's Acknowledgements status: a single
// acknowledgement's own status; for several, 200 when all succeeded, else 424.
func combinedStatus(acks []Ack) int {
	if len(acks) == 1 {
		return acks[0].Status
	}
	for _, a := range acks {
		if !a.Success() {
			return http.StatusFailedDependency
		}
	}
	return http.StatusOK
}

// Envelope is the answer as a WebSocket client receives it. For AnswerAcks
// that is Ditto's aggregated acknowledgements:
//
//	{"topic":"<ns>/<name>/things/<channel>/acks","headers":{…},"path":"/",
//	 "value":{"<label>":{"status":…,"payload":…,"headers":{…}},…},"status":…}
//
// with entries in request order, payload only when there is one, headers
// only when not empty, and the answer's headers plus content-type
// application/json. AnswerError is the error envelope
// <ns>/<name>/things/<channel>/errors; AnswerResponse the response.
func (r Result) Envelope() protocol.Envelope {
	switch r.Outcome {
	case AnswerResponse:
		return r.Response
	case AnswerError:
		return protocol.ErrorEnvelope(r.Error, r.topic, r.headers)
	}
	topic := protocol.Topic{Namespace: r.topic.Namespace, Name: r.topic.Name, Group: protocol.GroupThings,
		Channel: r.topic.Channel, Criterion: protocol.CriterionAcks}
	h := r.answerHeaders()
	h[protocol.HeaderContentType] = "application/json"
	return protocol.Envelope{Topic: topic.String(), Headers: h, Path: "/", Value: r.acksJSON(false), Status: r.Status}
}

// answerHeaders are the headers of the aggregated answer; with a single
// acknowledgement Ditto lays the request's headers over that
// acknowledgement's own.
func (r Result) answerHeaders() protocol.Headers {
	out := protocol.Headers{}
	if len(r.Acks) == 1 {
		for k, v := range r.Acks[0].Headers {
			out[k] = v
		}
	}
	for k, v := range r.headers {
		out[k] = v
	}
	return out
}

// acksJSON writes the label → entry object in request order. HTTP writes
// every entry's headers (Acknowledgements.getEntity); the protocol adapter
// leaves empty ones out (AcknowledgementsAdapter).
func (r Result) acksJSON(alwaysHeaders bool) json.RawMessage {
	b := []byte{'{'}
	for i, a := range r.Acks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, quoteJSON(a.Label)...)
		b = append(b, `:{"status":`...)
		b = strconv.AppendInt(b, int64(a.Status), 10)
		if a.Payload != nil {
			b = append(b, `,"payload":`...)
			b = append(b, a.Payload...)
		}
		if alwaysHeaders || len(a.Headers) > 0 {
			h := a.Headers
			if h == nil {
				h = protocol.Headers{}
			}
			hj, _ := h.MarshalJSON()
			b = append(b, `,"headers":`...)
			b = append(b, hj...)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// HTTP is the answer as Ditto's HTTP door gives it (AbstractHttpRequestActor),
// for the request's response-required:
//
//   - response not required and the answer succeeded (2xx): 202, no body;
//   - AnswerAcks: the combined status; with several acknowledgements the body
//     is {"<label>":{"status":…,"payload":…,"headers":{…}}} (headers always),
//     with one it is that acknowledgement's payload alone; when the response
//     was not required and some acknowledgement failed, the entries keep only
//     their status and empty headers (a single one: no body);
//   - AnswerError: the error's status and JSON;
//   - AnswerResponse: the response's status and value as JSON; message
//     replies need their content type instead (live.HTTPReply);
//   - 204 never has a body.
//
// The headers are the answer's (external) headers without content-type;
// contentType is "application/json" whenever there is a body.
func (r Result) HTTP(responseRequired bool) (status int, headers protocol.Headers, contentType string, body []byte) {
	status = r.Status
	switch r.Outcome {
	case AnswerResponse:
		headers, body = protocol.ExternalHeaders(r.Response.Headers), r.Response.Value
	case AnswerError:
		headers = protocol.Headers{}
		for k, v := range r.headers {
			headers[k] = v
		}
		for k, v := range r.Error.Headers {
			headers[k] = v
		}
		body, _ = json.Marshal(r.Error)
	case AnswerAcks:
		headers = r.answerHeaders()
		acks := r
		if !responseRequired {
			acks.Acks = make([]Ack, len(r.Acks))
			for i, a := range r.Acks {
				acks.Acks[i] = Ack{Label: a.Label, Status: a.Status, Headers: protocol.Headers{}}
			}
		}
		if len(acks.Acks) == 1 {
			body = acks.Acks[0].Payload
		} else {
			body = acks.acksJSON(true)
		}
	}
	delete(headers, protocol.HeaderContentType)
	if !responseRequired && status >= 200 && status < 300 {
		return http.StatusAccepted, headers, "", nil
	}
	if status == http.StatusNoContent || len(body) == 0 {
		return status, headers, "", nil
	}
	return status, headers, "application/json", body
}

package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is a Ditto error: what a client receives as the value of an error
// envelope or as the body of an HTTP error response. Codes follow Ditto's
// catalogue (see codes.go) so that Ditto's clients recognise them.
type Error struct {
	Status      int    `json:"status"`
	Code        string `json:"error"`
	Message     string `json:"message"`
	Description string `json:"description,omitempty"`
	Href        string `json:"href,omitempty"`
	// Headers are added to the error's envelope (for example the current
	// etag of a failed precondition); they are not part of the error JSON.
	Headers Headers `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds the error with the given code; its status and description come
// from the catalogue. An unknown code is a programming error and yields a 500
// so that it is noticed in tests rather than sent with a made-up status.
func Errorf(code, format string, args ...any) *Error {
	kind, ok := catalogue[code]
	if !ok {
		return &Error{Status: http.StatusInternalServerError, Code: "internalerror",
			Message: fmt.Sprintf("unknown error code %q: "+format, append([]any{code}, args...)...)}
	}
	return &Error{Status: kind.status, Code: code, Message: fmt.Sprintf(format, args...), Description: kind.description}
}

// WithDescription returns a copy of e with another description.
func (e *Error) WithDescription(d string) *Error {
	c := *e
	c.Description = d
	return &c
}

// AsError returns err as a Ditto error; anything that is not one becomes a
// generic 500 so that internals never leak to a client.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Errorf(CodeInternal, "An unknown error occurred.")
}

// ErrorEnvelope is the envelope form of err for the entity named by topic: the
// topic's criterion becomes "errors" and the path "/". With an unknown entity
// Ditto uses unknown/unknown/things/twin/errors.
func ErrorEnvelope(err *Error, topic Topic, headers Headers) Envelope {
	t := Topic{Namespace: topic.Namespace, Name: topic.Name, Group: topic.Group, Channel: topic.Channel, Criterion: CriterionErrors}
	if t.Group == "" {
		t = Topic{Namespace: "unknown", Name: "unknown", Group: GroupThings, Channel: ChannelTwin, Criterion: CriterionErrors}
	}
	if t.Group == GroupThings && t.Channel == "" {
		t.Channel = ChannelTwin
	}
	if t.Namespace == "" && t.Name == "" {
		t.Namespace, t.Name = "unknown", "unknown"
	}
	value, _ := json.Marshal(err)
	out := responseHeaders(headers)
	for k, v := range err.Headers {
		out[k] = v
	}
	return Envelope{Topic: t.String(), Headers: out, Path: "/", Value: value, Status: err.Status}
}

// responseHeaders are the headers of an error answering a command with
// headers h: its external headers, and the JSON content type.
func responseHeaders(h Headers) Headers {
	out := ExternalHeaders(h)
	out[HeaderContentType] = "application/json"
	return out
}

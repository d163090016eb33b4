package protocol_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func TestErrorfUnknownCode(t *testing.T) {
	e := protocol.Errorf("no.such.code", "thing %s broke", "x")
	if e.Status != 500 || e.Code != "internalerror" {
		t.Fatalf("Errorf(unknown) = %d %s", e.Status, e.Code)
	}
	if e.Message != `unknown error code "no.such.code": thing x broke` {
		t.Fatalf("message %q", e.Message)
	}
	if e.Error() != `internalerror: unknown error code "no.such.code": thing x broke` {
		t.Fatalf("Error() = %q", e.Error())
	}
}

func TestErrorfCatalogue(t *testing.T) {
	tests := []struct {
		code   string
		status int
	}{
		{"internalerror", 500},
		{"json.invalid", 400},
		{"json.field.missing", 400},
		{"json.format.invalid", 400},
		{"json.pointer.invalid", 400},
		{"json.key.invalid", 400},
		{"json.fieldselector.invalid", 400},
		{"header.invalid", 400},
		{"timeout.invalid", 400},
		{"mediatype.unsupported", 415},
		{"protocoladapter:unknown.topicpath", 400},
		{"protocoladapter:illegal.adaptable", 422},
		{"things:id.invalid", 400},
		{"things:id.notsettable", 400},
		{"policies:id.invalid", 400},
		{"things:thing.conflict", 409},
		{"things:thing.toolarge", 413},
		{"things:thing.unavailable", 503},
		{"things:precondition.failed", 412},
		{"things:precondition.notmodified", 304},
		{"things:field.selection.invalid", 400},
		{"things:thing.notfound", 404},
		{"things:feature.desiredProperty.notfound", 404},
		{"gateway:authentication.failed", 401},
		{"gateway:timeout.invalid", 400},
		{"gateway:method.notallowed", 405},
		{"too.many.requests", 429},
		{"gateway:service.unavailable", 503},
	}
	for _, tc := range tests {
		e := protocol.Errorf(tc.code, "m %d", 1)
		if e.Code != tc.code || e.Status != tc.status || e.Message != "m 1" || e.Description == "" {
			t.Errorf("Errorf(%q) = %+v, want status %d", tc.code, e, tc.status)
		}
	}
}

func TestErrorJSON(t *testing.T) {
	e := protocol.Errorf(protocol.CodeThingConflict, "The Thing with ID '%s' already exists", "ns:n")
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"status": 409.0, "error": "things:thing.conflict",
		"message": "The Thing with ID 'ns:n' already exists", "description": e.Description}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("error JSON %s", data)
	}
	e2 := e.WithDescription("other")
	if e2.Description != "other" || e.Description == "other" || e.Description == "" || e2.Code != e.Code {
		t.Fatalf("WithDescription: %+v %+v", e, e2)
	}
	e2.Href = "https://example.org"
	data, _ = json.Marshal(e2)
	if !strings.Contains(string(data), `"href":"https://example.org"`) {
		t.Fatalf("href missing: %s", data)
	}
}

func TestAsError(t *testing.T) {
	base := protocol.Errorf(protocol.CodeThingNotFound, "gone")
	if got := protocol.AsError(base); got != base {
		t.Fatalf("AsError(*Error) = %v", got)
	}
	if got := protocol.AsError(fmt.Errorf("wrapped: %w", base)); got != base {
		t.Fatalf("AsError(wrapped) = %v", got)
	}
	got := protocol.AsError(errors.New("disk on fire"))
	if got.Code != "internalerror" || got.Status != 500 || strings.Contains(got.Message, "disk") {
		t.Fatalf("AsError(plain) = %+v", got)
	}
	// errors.As works on a wrapped *Error.
	wantError(t, fmt.Errorf("ctx: %w", base), protocol.CodeThingNotFound, 404)
}

func TestErrorEnvelope(t *testing.T) {
	mustTopic := func(s string) protocol.Topic {
		tp, err := protocol.ParseTopic(s)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	tests := []struct {
		name  string
		topic protocol.Topic
		want  string
	}{
		{"unknown topic", protocol.Topic{}, "unknown/unknown/things/twin/errors"},
		{"twin command", mustTopic("ns/n/things/twin/commands/retrieve"), "ns/n/things/twin/errors"},
		{"twin event", mustTopic("org.eclipse.ditto/fancy-thing/things/twin/events/modified"), "org.eclipse.ditto/fancy-thing/things/twin/errors"},
		{"live message", mustTopic("ns/n/things/live/messages/ask/question"), "ns/n/things/live/errors"},
		{"live command", mustTopic("ns/n/things/live/commands/modify"), "ns/n/things/live/errors"},
		{"policy command", mustTopic("ns/n/policies/commands/modify"), "ns/n/policies/errors"},
		{"connection", mustTopic("_/c1/connections/commands/retrieve"), "_/c1/connections/errors"},
		{"search placeholder", mustTopic("_/_/things/twin/search/subscribe"), "_/_/things/twin/errors"},
		{"things without channel", protocol.Topic{Namespace: "ns", Name: "n", Group: "things"}, "ns/n/things/twin/errors"},
		{"no namespace and name", protocol.Topic{Group: "things", Channel: "live", Criterion: "commands", Action: "modify"}, "unknown/unknown/things/live/errors"},
		{"empty namespace only", mustTopic("/n/things/twin/commands/retrieve"), "/n/things/twin/errors"},
		{"only namespace and name", protocol.Topic{Namespace: "ns", Name: "n"}, "unknown/unknown/things/twin/errors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := protocol.Errorf(protocol.CodeThingNotFound, "The Thing with ID '%s' could not be found", "ns:n")
			headers := protocol.Headers{"correlation-id": "cid-1", "x-other": "v", "response-required": "false"}
			env := protocol.ErrorEnvelope(e, tc.topic, headers)
			if env.Topic != tc.want {
				t.Fatalf("topic %q, want %q", env.Topic, tc.want)
			}
			if tp, err := protocol.ParseTopic(env.Topic); err != nil || tp.Criterion != "errors" {
				t.Fatalf("error topic %q does not parse as errors: %+v %v", env.Topic, tp, err)
			}
			if env.Path != "/" || env.Status != 404 {
				t.Fatalf("path %q status %d", env.Path, env.Status)
			}
			if cid := env.Headers["correlation-id"]; cid != "cid-1" {
				t.Fatalf("correlation-id %q not echoed: %v", cid, env.Headers)
			}
			if ct := env.Headers["content-type"]; ct != "application/json" {
				t.Fatalf("content-type %q: %v", ct, env.Headers)
			}
			wantHeaders := protocol.ExternalHeaders(headers)
			wantHeaders["content-type"] = "application/json"
			if !reflect.DeepEqual(env.Headers, wantHeaders) {
				t.Fatalf("headers %v, want %v", env.Headers, wantHeaders)
			}
			var value protocol.Error
			if err := json.Unmarshal(env.Value, &value); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(value, *e) {
				t.Fatalf("value %+v, want %+v", value, *e)
			}
			if headers["x-other"] != "v" {
				t.Fatal("ErrorEnvelope changed the command's headers")
			}
			// The whole envelope encodes and decodes.
			back, err := protocol.DecodeEnvelope(env.AppendJSON(nil))
			if err != nil || !envelopesEqual(back, env) {
				t.Fatalf("round trip: %v\n%#v\n%#v", err, back, env)
			}
		})
	}
}

func TestErrorEnvelopeWithoutCorrelationID(t *testing.T) {
	e := protocol.Errorf(protocol.CodeJSONInvalid, "bad")
	for _, h := range []protocol.Headers{nil, {}, {"if-match": "*"}} {
		env := protocol.ErrorEnvelope(e, protocol.Topic{}, h)
		if !reflect.DeepEqual(env.Headers, protocol.Headers{"content-type": "application/json"}) {
			t.Errorf("headers %#v", env.Headers)
		}
		if env.Topic != "unknown/unknown/things/twin/errors" || env.Status != 400 {
			t.Errorf("envelope %+v", env)
		}
	}
}

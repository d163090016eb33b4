package ack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/protocol"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		code string // "" = valid
		want ack.Ack
	}{
		{name: "successful ack (Ditto's example)", env: `{"topic":"org.eclipse.ditto/thing_name_3141/things/twin/acks/custom-ack",
			"headers":{"correlation-id":"a780b7b5-fdd2-4864-91fc-80df6bb0a636"},"path":"/","status":202}`,
			want: ack.Ack{Label: "custom-ack", Status: 202}},
		{name: "NACK with payload (Ditto's example)", env: `{"topic":"org.eclipse.ditto/thing_name_3141/things/twin/acks/custom-ack",
			"headers":{"correlation-id":"c"},"path":"/","value":"You better try harder","status":400}`,
			want: ack.Ack{Label: "custom-ack", Status: 400, Payload: json.RawMessage(`"You better try harder"`)}},
		{name: "live channel, label with colons", env: `{"topic":"ns/n/things/live/acks/conn:my-ack","headers":{"correlation-id":"c"},"path":"/","status":200}`,
			want: ack.Ack{Label: "conn:my-ack", Status: 200}},
		{name: "invalid label", env: `{"topic":"ns/n/things/twin/acks/ab","headers":{"correlation-id":"c"},"status":200}`,
			code: protocol.CodeAckLabelInvalid},
		{name: "built-in label", env: `{"topic":"ns/n/things/twin/acks/twin-persisted","headers":{"correlation-id":"c"},"status":200}`,
			code: protocol.CodeAckLabelForbidden},
		{name: "built-in checked before status", env: `{"topic":"ns/n/things/live/acks/live-response","headers":{}}`,
			code: protocol.CodeAckLabelForbidden},
		{name: "no status", env: `{"topic":"ns/n/things/twin/acks/custom-ack","headers":{"correlation-id":"c"},"path":"/"}`,
			code: protocol.CodeJSONFieldMissing},
		{name: "status out of range", env: `{"topic":"ns/n/things/twin/acks/custom-ack","headers":{"correlation-id":"c"},"status":42}`,
			code: protocol.CodeJSONFormatInvalid},
		{name: "no correlation-id", env: `{"topic":"ns/n/things/twin/acks/custom-ack","headers":{},"status":200}`,
			code: protocol.CodeAckCorrelationIDMissing},
		{name: "empty correlation-id", env: `{"topic":"ns/n/things/twin/acks/custom-ack","headers":{"correlation-id":""},"status":200}`,
			code: protocol.CodeAckCorrelationIDMissing},
		{name: "bad thing id", env: `{"topic":"1ns/n/things/twin/acks/custom-ack","headers":{"correlation-id":"c"},"status":200}`,
			code: protocol.CodeThingIDInvalid},
		{name: "aggregated acks from a client", env: `{"topic":"ns/n/things/twin/acks","headers":{"correlation-id":"c"},"status":200,"value":{}}`,
			code: protocol.CodeUnknownTopicPath},
		{name: "not an ack", env: `{"topic":"ns/n/things/twin/commands/modify","headers":{"correlation-id":"c"},"status":200}`,
			code: protocol.CodeUnknownTopicPath},
		{name: "policies acks", env: `{"topic":"ns/n/policies/acks/custom-ack","headers":{"correlation-id":"c"},"status":200}`,
			code: protocol.CodeUnknownTopicPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := protocol.DecodeEnvelope([]byte(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			topic, got, err := ack.Parse(env)
			if tc.code != "" {
				wantError(t, err, tc.code, protocol.Errorf(tc.code, "x").Status)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Label != tc.want.Label || got.Status != tc.want.Status || string(got.Payload) != string(tc.want.Payload) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got.Headers["correlation-id"] == "" || topic.Subject != got.Label {
				t.Errorf("headers %v, topic %+v", got.Headers, topic)
			}
		})
	}
}

func TestAckEnvelope(t *testing.T) {
	a := ack.Ack{Label: "custom-ack", Status: 400, Payload: json.RawMessage(`"You better try harder"`),
		Headers: protocol.Headers{"correlation-id": "c", "ditto-internal": "x"}}
	sameJSON(t, envelopeJSON(t, a.Envelope("org.eclipse.ditto", "thing_name_3141", "twin")),
		`{"topic":"org.eclipse.ditto/thing_name_3141/things/twin/acks/custom-ack","headers":{"correlation-id":"c"},
		  "path":"/","value":"You better try harder","status":400}`)
	if a.Success() || !(ack.Ack{Status: 204}).Success() || (ack.Ack{Status: 300}).Success() {
		t.Error("Success is 2xx")
	}
}

func TestWeak(t *testing.T) {
	signal := protocol.Headers{"correlation-id": "c", "requested-acks": `["my-ack"]`, "custom": "v", "ditto-auth": "secret"}
	for _, tc := range []struct {
		label, reason string
		ok            bool
	}{
		{"my-ack", ack.WeakFiltered, true},
		{"conn:other", ack.WeakNotAuthorized, true},
		{"twin-persisted", ack.WeakFiltered, false},
		{"live-response", ack.WeakFiltered, false},
	} {
		a, ok := ack.Weak(tc.label, signal, tc.reason)
		if ok != tc.ok {
			t.Fatalf("Weak(%s) ok = %v", tc.label, ok)
		}
		if !ok {
			continue
		}
		if a.Label != tc.label || a.Status != 200 || !a.Weak() || !a.Success() {
			t.Errorf("weak ack %+v", a)
		}
		if a.Headers["correlation-id"] != "c" || a.Headers["custom"] != "v" || a.Headers["ditto-weak-ack"] != "true" {
			t.Errorf("headers %v", a.Headers)
		}
		if _, leaked := a.Headers["ditto-auth"]; leaked {
			t.Error("internal header leaked into the weak ack")
		}
		var payload string
		if json.Unmarshal(a.Payload, &payload) != nil || !strings.HasPrefix(payload, "Acknowledgement was issued automatically as weak ack") {
			t.Errorf("payload %s", a.Payload)
		}
	}
	if _, ok := signal["ditto-weak-ack"]; ok {
		t.Error("Weak changed the signal's headers")
	}
}

package twin_test

import (
	"testing"

	"github.com/twinway/twinway/protocol"
)

// Headers whose feature the gateway lacks are refused rather than ignored.
func TestUnsupportedHeaders(t *testing.T) {
	f := newFixture(t)
	id := "org.example:hdr"
	f.mustCreate(id, `{"attributes":{"a":1}}`)
	f.events.take()
	refused := []struct{ name, value string }{
		{"live-channel-condition", "eq(attributes/a,1)"},
		{"put-metadata", `[{"key":"/attributes/a/unit","value":"m"}]`},
		{"get-metadata", "attributes/a"},
		{"delete-metadata", "attributes/a"},
		{"at-historical-revision", "1"},
		{"at-historical-timestamp", "2024-01-01T00:00:00Z"},
		{"merge-thing-patch-conditions", `{"attributes/a":"eq(attributes/a,1)"}`},
		{"if-equal", "skip"},
		{"if-equal", "skip-minimizing-merge"},
	}
	for _, h := range refused {
		for _, action := range []string{"modify", "merge", "retrieve", "delete"} {
			value := ""
			if action == "modify" || action == "merge" {
				value = `2`
			}
			resp := f.send(action, id, "/attributes/a", value, h.name, h.value, "correlation-id", "u")
			wantError(t, resp, 400, "header.notsupported")
			if resp.Headers["correlation-id"] != "u" {
				t.Errorf("%s %s: headers %v", action, h.name, resp.Headers)
			}
		}
	}
	noEvent(t, f)
	// What is supported passes: if-equal update, twin-persisted alone
	// (custom labels: TestRequestedAcks).
	for _, h := range []struct{ name, value string }{
		{"if-equal", "update"}, {"requested-acks", `["twin-persisted"]`}, {"requested-acks", "twin-persisted"}, {"requested-acks", "[]"},
	} {
		resp := f.modify(id, "/attributes/a", `3`, h.name, h.value)
		wantStatus(t, resp, 204)
		if _, ok := resp.Headers[h.name]; ok && h.name != "requested-acks" {
			t.Errorf("%s echoed", h.name)
		}
		if h.name == "requested-acks" && resp.Headers[h.name] != "" {
			t.Errorf("built-in requested-acks echoed: %v", resp.Headers)
		}
	}
}

// Only twin commands on things are handled; the rest is signal.unsupported,
// an unparsable topic protocoladapter:unknown.topicpath.
func TestUnsupportedSignals(t *testing.T) {
	f := newFixture(t)
	f.mustCreate("org.example:sig", `{}`)
	f.events.take()
	cases := []struct {
		topic, path, value string
		code, errTopic     string
	}{
		{"org.example/pol/policies/commands/retrieve", "/", "", "signal.unsupported", "org.example/pol/policies/errors"},
		{"org.example/pol/policies/commands/create", "/", `{}`, "signal.unsupported", "org.example/pol/policies/errors"},
		{"org.example/sig/things/live/commands/modify", "/attributes/a", `1`, "signal.unsupported", "org.example/sig/things/live/errors"},
		{"org.example/sig/things/live/commands/retrieve", "/", "", "signal.unsupported", "org.example/sig/things/live/errors"},
		{"org.example/sig/things/live/messages/hello", "/inbox/messages/hello", `1`, "signal.unsupported", "org.example/sig/things/live/errors"},
		{"org.example/sig/things/twin/events/modified", "/attributes/a", `1`, "signal.unsupported", "org.example/sig/things/twin/errors"},
		{"org.example/sig/things/twin/errors", "/", `{}`, "signal.unsupported", "org.example/sig/things/twin/errors"},
		{"_/_/things/twin/search/subscribe", "/", `{}`, "signal.unsupported", "_/_/things/twin/errors"},
		{"org.example/sig/things/twin/acks/custom", "/", `{}`, "signal.unsupported", "org.example/sig/things/twin/errors"},
		{"org.example/sig/things/twin/commands/frobnicate", "/", "", "protocoladapter:unknown.topicpath", "unknown/unknown/things/twin/errors"},
		{"org.example/sig/things/commands/retrieve", "/", "", "protocoladapter:unknown.topicpath", "unknown/unknown/things/twin/errors"},
		{"nonsense", "/", "", "protocoladapter:unknown.topicpath", "unknown/unknown/things/twin/errors"},
		{"org.example/sig/things/twin/commands/migrate", "/", `{}`, "protocoladapter:unknown.command", "org.example/sig/things/twin/errors"},
	}
	for _, tc := range cases {
		t.Run(tc.topic, func(t *testing.T) {
			resp := f.handle(protocol.Envelope{Topic: tc.topic, Headers: hdrs("correlation-id", "s"), Path: tc.path, Value: raw(tc.value)})
			wantError(t, resp, 400, tc.code)
			if resp.Topic != tc.errTopic {
				t.Errorf("error topic %s, want %s", resp.Topic, tc.errTopic)
			}
			if resp.Headers["correlation-id"] != "s" {
				t.Errorf("headers %v", resp.Headers)
			}
		})
	}
	noEvent(t, f)
}

// Paths: create only at /, no other path outside the thing's resources.
func TestUnknownPaths(t *testing.T) {
	f := newFixture(t)
	id := "org.example:paths"
	f.mustCreate(id, `{"attributes":{"a":1},"features":{"f":{"properties":{"p":1}}}}`)
	f.events.take()
	cases := []struct{ action, path, value, code string }{
		{"create", "/attributes", `{}`, "protocoladapter:unknown.path"},
		{"create", "/attributes/a", `1`, "protocoladapter:unknown.path"},
		{"create", "/features/f", `{}`, "protocoladapter:unknown.path"},
		{"modify", "/foo", `1`, "protocoladapter:unknown.path"},
		{"modify", "/thingId", `"org.example:paths"`, "protocoladapter:unknown.path"},
		{"retrieve", "/definition/x", "", "protocoladapter:unknown.path"},
		{"retrieve", "/policyId/x", "", "protocoladapter:unknown.path"},
		{"modify", "/features/f/bogus", `1`, "protocoladapter:unknown.path"},
		{"modify", "/features/f/definition/0", `"a:b:c"`, "protocoladapter:unknown.path"},
		{"delete", "/_revision", "", "protocoladapter:unknown.path"},
	}
	for _, tc := range cases {
		wantError(t, f.send(tc.action, id, tc.path, tc.value), 400, tc.code)
	}
	// A trailing slash is ignored and the leading one optional.
	wantStatus(t, f.retrieve(id, "attributes/a/", ""), 200)
	noEvent(t, f)
}

// Values and content types of writes.
func TestWriteValues(t *testing.T) {
	f := newFixture(t)
	id := "org.example:vals"
	f.mustCreate(id, `{}`)
	f.events.take()
	wantError(t, f.modify(id, "/attributes/a", ""), 400, "json.field.missing")
	wantError(t, f.merge(id, "/attributes/a", ""), 400, "json.field.missing")
	wantError(t, f.modify(id, "/attributes", `5`), 400, "json.format.invalid")
	wantError(t, f.modify(id, "/", `[1]`), 400, "json.format.invalid")
	wantError(t, f.merge(id, "/attributes", `{}`, "content-type", ""), 415, "mediatype.unsupported")
	wantError(t, f.merge(id, "/attributes", `{}`, "content-type", "application/json"), 415, "mediatype.unsupported")
	noEvent(t, f)
	wantStatus(t, f.merge(id, "/attributes", `{"a":1}`, "content-type", "application/merge-patch+json; charset=utf-8"), 204)
	// Numbers keep their text.
	wantStatus(t, f.modify(id, "/attributes/n", `12345678901234567890.5e-3`), 201)
	if got := f.retrieve(id, "/attributes/n", ""); string(got.Value) != `12345678901234567890.5e-3` {
		t.Errorf("number %s", got.Value)
	}
}

// requested-acks: any valid labels are accepted; the event names only the
// custom ones (the sessions that declared them owe an acknowledgement), the
// response none, and a malformed value is header.invalid.
func TestRequestedAcks(t *testing.T) {
	f := newFixture(t)
	id := "org.example:acks"
	f.mustCreate(id, `{"attributes":{"a":1}}`)
	f.events.take()
	cases := []struct{ value, want string }{
		{`["twin-persisted","my-app:done"]`, `["my-app:done"]`},
		{`twin-persisted, custom-ack ,other`, `["custom-ack","other"]`},
		{`["live-response","search-persisted"]`, ""},
		{`["twin-persisted"]`, ""},
	}
	for _, tc := range cases {
		resp := f.modify(id, "/attributes/a", `2`, "requested-acks", tc.value)
		wantStatus(t, resp, 204)
		ev := onlyEvent(t, f)
		if got := ev.Envelope.Headers["requested-acks"]; got != tc.want {
			t.Errorf("%s: event requested-acks %q, want %q", tc.value, got, tc.want)
		}
		if got, ok := resp.Headers["requested-acks"]; ok {
			t.Errorf("%s: response requested-acks %q", tc.value, got)
		}
	}
	for _, bad := range []string{`["x"]`, `[1]`, `["ok-label","no spaces"]`} {
		wantError(t, f.modify(id, "/attributes/a", `3`, "requested-acks", bad), 400, "header.invalid")
	}
	noEvent(t, f)
}

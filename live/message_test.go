package live_test

import (
	"testing"
	"time"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
)

func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		name, topic, path string
		want              live.Message
		resource          string
		code              string
		description       string
	}{
		{name: "thing inbox (Ditto's example)", topic: "org.eclipse.ditto/smartcoffee/things/live/messages/ask", path: "/inbox/messages/ask",
			want:     live.Message{Namespace: "org.eclipse.ditto", Name: "smartcoffee", Box: "inbox", Subject: "ask"},
			resource: "message:/inbox/messages/ask"},
		{name: "reply on the outbox", topic: "org.eclipse.ditto/smartcoffee/things/live/messages/ask", path: "/outbox/messages/ask",
			want:     live.Message{Namespace: "org.eclipse.ditto", Name: "smartcoffee", Box: "outbox", Subject: "ask"},
			resource: "message:/outbox/messages/ask"},
		{name: "feature outbox", topic: "ns/lamp-1/things/live/messages/switched", path: "/features/lamp/outbox/messages/switched",
			want:     live.Message{Namespace: "ns", Name: "lamp-1", FeatureID: "lamp", Box: "outbox", Subject: "switched"},
			resource: "message:/features/lamp/outbox/messages/switched"},
		{name: "subject with slashes", topic: "ns/n/things/live/messages/ask/question", path: "/inbox/messages/ask/question",
			want:     live.Message{Namespace: "ns", Name: "n", Box: "inbox", Subject: "ask/question"},
			resource: "message:/inbox/messages/ask/question"},
		{name: "path without leading slash", topic: "ns/n/things/live/messages/ask", path: "inbox/messages/ask",
			want: live.Message{Namespace: "ns", Name: "n", Box: "inbox", Subject: "ask"}, resource: "message:/inbox/messages/ask"},
		{name: "claim", topic: "ns/n/things/live/messages/claim", path: "/inbox/messages/claim",
			want: live.Message{Namespace: "ns", Name: "n", Box: "inbox", Subject: "claim", Claim: true}, resource: "message:/inbox/messages/claim"},
		{name: "claim subject on a feature outbox is an ordinary message", topic: "ns/n/things/live/messages/claim", path: "/features/f/outbox/messages/claim",
			want: live.Message{Namespace: "ns", Name: "n", FeatureID: "f", Box: "outbox", Subject: "claim"}, resource: "message:/features/f/outbox/messages/claim"},
		{name: "claim subject on the outbox is an ordinary message", topic: "ns/n/things/live/messages/claim", path: "/outbox/messages/claim",
			want: live.Message{Namespace: "ns", Name: "n", Box: "outbox", Subject: "claim"}, resource: "message:/outbox/messages/claim"},

		{name: "path repeats another subject", topic: "ns/n/things/live/messages/ask", path: "/inbox/messages/other",
			code: protocol.CodeInvalidPath, description: "It should match the pattern: (/features/[^/]+)?/(inbox|outbox)/messages/ask"},
		{name: "root path", topic: "ns/n/things/live/messages/ask", path: "/", code: protocol.CodeInvalidPath},
		{name: "unknown box", topic: "ns/n/things/live/messages/ask", path: "/mailbox/messages/ask", code: protocol.CodeInvalidPath},
		{name: "feature path too deep", topic: "ns/n/things/live/messages/ask", path: "/features/a/b/inbox/messages/ask", code: protocol.CodeInvalidPath},
		{name: "feature without id", topic: "ns/n/things/live/messages/ask", path: "/features//inbox/messages/ask", code: protocol.CodeInvalidPath},
		{name: "features without box", topic: "ns/n/things/live/messages/ask", path: "/features/inbox/messages/ask", code: protocol.CodeInvalidPath},
		{name: "two boxes", topic: "ns/n/things/live/messages/ask", path: "/outbox/messages/inbox/messages/ask", code: protocol.CodeInvalidPath},
		{name: "no subject", topic: "ns/n/things/live/messages", path: "/inbox/messages/", code: protocol.CodeUnknownTopicPath,
			description: "Missing message subject."},
		{name: "bad thing id", topic: "ns/bad\x01name/things/live/messages/ask", path: "/inbox/messages/ask", code: protocol.CodeThingIDInvalid},
		{name: "control character in subject", topic: "ns/n/things/live/messages/a\u00e4", path: "/inbox/messages/a\u00e4", code: protocol.CodeHeaderInvalid},
		{name: "control character in feature", topic: "ns/n/things/live/messages/ask", path: "/features/l\x7famp/inbox/messages/ask",
			code: protocol.CodeMessageFeatureIDInvalid},
		{name: "not a message", topic: "ns/n/things/live/commands/modify", path: "/inbox/messages/ask", code: protocol.CodeUnknownTopicPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, err := protocol.ParseTopic(tc.topic)
			if err != nil {
				t.Fatal(err)
			}
			got, err := live.ParseMessage(topic, tc.path)
			if tc.code != "" {
				e := wantError(t, err, tc.code, 400)
				if tc.description != "" && e.Description != tc.description {
					t.Errorf("description %q", e.Description)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if got.Resource() != tc.resource {
				t.Errorf("resource %q, want %q", got.Resource(), tc.resource)
			}
			if got.Topic() != tc.topic {
				t.Errorf("topic %q", got.Topic())
			}
		})
	}
}

func TestMessageParts(t *testing.T) {
	m := live.Message{Namespace: "ns", Name: "n", FeatureID: "f", Box: live.Outbox, Subject: "s/t"}
	if m.ThingID() != "ns:n" || m.Direction() != "FROM" || m.Path() != "/features/f/outbox/messages/s/t" ||
		m.Topic() != "ns/n/things/live/messages/s/t" {
		t.Errorf("%s %s %s %s", m.ThingID(), m.Direction(), m.Path(), m.Topic())
	}
	m.Box = live.Inbox
	if m.Direction() != "TO" {
		t.Error("inbox is TO")
	}
}

func TestHTTPMessage(t *testing.T) {
	for _, tc := range []struct {
		name, thing, feature, box, subject string
		want                               live.Message
		code                               string
		status                             int
		message                            string
	}{
		{name: "thing inbox", thing: "org.eclipse.ditto:smartcoffee", box: "inbox", subject: "ask",
			want: live.Message{Namespace: "org.eclipse.ditto", Name: "smartcoffee", Box: "inbox", Subject: "ask"}},
		{name: "feature outbox, subject with slash", thing: "ns:n", feature: "lamp", box: "outbox", subject: "a/b",
			want: live.Message{Namespace: "ns", Name: "n", FeatureID: "lamp", Box: "outbox", Subject: "a/b"}},
		{name: "leading slash dropped", thing: "ns:n", box: "inbox", subject: "/ask",
			want: live.Message{Namespace: "ns", Name: "n", Box: "inbox", Subject: "ask"}},
		{name: "claim subject is an ordinary message over HTTP", thing: "ns:n", box: "inbox", subject: "claim",
			want: live.Message{Namespace: "ns", Name: "n", Box: "inbox", Subject: "claim"}},
		{name: "empty subject", thing: "ns:n", box: "inbox", subject: "", code: protocol.CodeMessageSubjectInvalid, status: 400,
			message: "Subject '' is not valid!"},
		{name: "slash subject", thing: "ns:n", box: "inbox", subject: "/", code: protocol.CodeMessageSubjectInvalid, status: 400,
			message: "Subject '/' is not valid!"},
		{name: "control character", thing: "ns:n", box: "inbox", subject: "a\nb", code: protocol.CodeHeaderInvalid, status: 400,
			message: "The value 'a\nb' of the header 'ditto-message-subject' is not a valid message subject."},
		{name: "bad thing id", thing: "no-colon", box: "inbox", subject: "ask", code: protocol.CodeThingIDInvalid, status: 400},
		{name: "bad feature id", thing: "ns:n", feature: "a\x00", box: "inbox", subject: "ask", code: protocol.CodeMessageFeatureIDInvalid, status: 400},
		{name: "bad box", thing: "ns:n", box: "mailbox", subject: "ask", code: protocol.CodeNotFound, status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := live.HTTPMessage(tc.thing, tc.feature, tc.box, tc.subject)
			if tc.code != "" {
				e := wantError(t, err, tc.code, tc.status)
				if tc.message != "" && e.Message != tc.message {
					t.Errorf("message %q", e.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHTTPClaim(t *testing.T) {
	m, err := live.HTTPClaim("ns:n")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Claim || m.Box != live.Inbox || m.Subject != "claim" || m.Path() != "/inbox/messages/claim" {
		t.Errorf("claim %+v", m)
	}
	_, err = live.HTTPClaim("bad")
	wantError(t, err, protocol.CodeThingIDInvalid, 400)
}

func TestMessageTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout string
		door    ack.Door
		claim   bool
		want    time.Duration
		code    string
	}{
		{name: "HTTP default", door: ack.HTTP, want: 10 * time.Second},
		{name: "HTTP seconds", timeout: "30", door: ack.HTTP, want: 30 * time.Second},
		{name: "HTTP zero", timeout: "0", door: ack.HTTP, want: 0},
		{name: "HTTP above max", timeout: "61", door: ack.HTTP, code: protocol.CodeTimeoutInvalid},
		{name: "HTTP claim default", door: ack.HTTP, claim: true, want: time.Minute},
		{name: "HTTP claim 600", timeout: "600", door: ack.HTTP, claim: true, want: 10 * time.Minute},
		{name: "HTTP claim above max", timeout: "601", door: ack.HTTP, claim: true, code: protocol.CodeTimeoutInvalid},
		{name: "WS default", door: ack.WebSocket, want: 65 * time.Second},
		{name: "WS cut", timeout: "5m", door: ack.WebSocket, want: 65 * time.Second},
		{name: "WS bad", timeout: "-1", door: ack.WebSocket, code: protocol.CodeTimeoutInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := protocol.Headers{}
			if tc.timeout != "" {
				h["timeout"] = tc.timeout
			}
			got, err := live.MessageTimeout(h, tc.door, tc.claim)
			if tc.code != "" {
				wantError(t, err, tc.code, 400)
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

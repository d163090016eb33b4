package protocol_test

import (
	"testing"

	"github.com/twinway/twinway/protocol"
)

func TestParseTopicValid(t *testing.T) {
	type T = protocol.Topic
	tests := []struct {
		in   string
		want T
	}{}
	add := func(in string, want T) {
		tests = append(tests, struct {
			in   string
			want T
		}{in, want})
	}

	// Commands and events on both channels, every action.
	for _, ch := range []string{"twin", "live"} {
		for _, a := range []string{"create", "retrieve", "modify", "merge", "delete", "migrate", "checkPermissions"} {
			add("org.eclipse.ditto/fancy-thing/things/"+ch+"/commands/"+a,
				T{Namespace: "org.eclipse.ditto", Name: "fancy-thing", Group: "things", Channel: ch, Criterion: "commands", Action: a})
		}
		for _, a := range []string{"created", "modified", "merged", "deleted", "migrated"} {
			add("org.eclipse.ditto/fancy-thing/things/"+ch+"/events/"+a,
				T{Namespace: "org.eclipse.ditto", Name: "fancy-thing", Group: "things", Channel: ch, Criterion: "events", Action: a})
		}
		add("ns/n/things/"+ch+"/errors", T{Namespace: "ns", Name: "n", Group: "things", Channel: ch, Criterion: "errors"})
		add("ns/n/things/"+ch+"/acks/twin-persisted", T{Namespace: "ns", Name: "n", Group: "things", Channel: ch, Criterion: "acks", Subject: "twin-persisted"})
		add("ns/n/things/"+ch+"/acks", T{Namespace: "ns", Name: "n", Group: "things", Channel: ch, Criterion: "acks"})
	}
	// Search (twin only) and streaming.
	for _, a := range []string{"subscribe", "request", "cancel", "created", "next", "complete", "failed", "error"} {
		add("_/_/things/twin/search/"+a, T{Namespace: "_", Name: "_", Group: "things", Channel: "twin", Criterion: "search", Action: a})
	}
	for _, a := range []string{"subscribeForPersistedEvents", "request", "cancel", "created", "next", "complete", "failed", "error"} {
		add("ns/n/things/twin/streaming/"+a, T{Namespace: "ns", Name: "n", Group: "things", Channel: "twin", Criterion: "streaming", Action: a})
		add("ns/p/policies/streaming/"+a, T{Namespace: "ns", Name: "p", Group: "policies", Criterion: "streaming", Action: a})
	}
	// Policies and connections have no channel.
	for _, a := range []string{"create", "retrieve", "modify", "merge", "delete"} {
		add("ns/p/policies/commands/"+a, T{Namespace: "ns", Name: "p", Group: "policies", Criterion: "commands", Action: a})
	}
	add("ns/p/policies/events/deleted", T{Namespace: "ns", Name: "p", Group: "policies", Criterion: "events", Action: "deleted"})
	add("ns/p/policies/errors", T{Namespace: "ns", Name: "p", Group: "policies", Criterion: "errors"})
	add("ns/p/policies/announcements/subjectDeletion", T{Namespace: "ns", Name: "p", Group: "policies", Criterion: "announcements", Subject: "subjectDeletion"})
	add("_/conn-1/connections/announcements/opened", T{Namespace: "_", Name: "conn-1", Group: "connections", Criterion: "announcements", Subject: "opened"})
	add("_/conn-1/connections/commands/retrieve", T{Namespace: "_", Name: "conn-1", Group: "connections", Criterion: "commands", Action: "retrieve"})
	add("_/conn-1/connections/errors", T{Namespace: "_", Name: "conn-1", Group: "connections", Criterion: "errors"})
	// Messages: live only, subjects may contain '/', may be empty.
	add("ns/n/things/live/messages/ask", T{Namespace: "ns", Name: "n", Group: "things", Channel: "live", Criterion: "messages", Subject: "ask"})
	add("ns/n/things/live/messages/ask/question", T{Namespace: "ns", Name: "n", Group: "things", Channel: "live", Criterion: "messages", Subject: "ask/question"})
	add("ns/n/things/live/messages/a/b/c/d", T{Namespace: "ns", Name: "n", Group: "things", Channel: "live", Criterion: "messages", Subject: "a/b/c/d"})
	add("ns/n/things/live/messages/a//b", T{Namespace: "ns", Name: "n", Group: "things", Channel: "live", Criterion: "messages", Subject: "a//b"})
	add("ns/n/things/live/messages", T{Namespace: "ns", Name: "n", Group: "things", Channel: "live", Criterion: "messages"})
	add("ns/n/things/live/messages/%E2%9C%93?x=1#f", T{Namespace: "ns", Name: "n", Group: "things", Channel: "live", Criterion: "messages", Subject: "%E2%9C%93?x=1#f"})
	// Placeholders and unusual but legal names.
	add("ns/_/things/twin/commands/retrieve", T{Namespace: "ns", Name: "_", Group: "things", Channel: "twin", Criterion: "commands", Action: "retrieve"})
	add("_/_/things/twin/commands/retrieve", T{Namespace: "_", Name: "_", Group: "things", Channel: "twin", Criterion: "commands", Action: "retrieve"})
	add("/no-namespace/things/twin/commands/create", T{Name: "no-namespace", Group: "things", Channel: "twin", Criterion: "commands", Action: "create"})
	add("ns/温度:x/things/twin/commands/modify", T{Namespace: "ns", Name: "温度:x", Group: "things", Channel: "twin", Criterion: "commands", Action: "modify"})

	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := protocol.ParseTopic(tc.in)
			if err != nil {
				t.Fatalf("ParseTopic(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseTopic(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.in {
				t.Fatalf("String() = %q, want %q", s, tc.in)
			}
		})
	}
}

// Inputs that parse but are not in canonical form: String() normalises them
// and re-parsing gives the same topic.
func TestParseTopicNormalises(t *testing.T) {
	tests := []struct {
		in, canonical string
		want          protocol.Topic
	}{
		{"ns/n/things/live/messages/", "ns/n/things/live/messages",
			protocol.Topic{Namespace: "ns", Name: "n", Group: "things", Channel: "live", Criterion: "messages"}},
		{"ns/n/things/twin/acks/", "ns/n/things/twin/acks",
			protocol.Topic{Namespace: "ns", Name: "n", Group: "things", Channel: "twin", Criterion: "acks"}},
	}
	for _, tc := range tests {
		got, err := protocol.ParseTopic(tc.in)
		if err != nil {
			t.Fatalf("ParseTopic(%q): %v", tc.in, err)
		}
		if got != tc.want {
			t.Fatalf("ParseTopic(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.canonical {
			t.Fatalf("String() = %q, want %q", s, tc.canonical)
		}
		again, err := protocol.ParseTopic(got.String())
		if err != nil || again != got {
			t.Fatalf("re-parse of %q = %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseTopicInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"one segment", "ns"},
		{"three segments", "ns/n/things"},
		{"things without criterion", "ns/n/things/twin"},
		{"policies without criterion", "ns/n/policies"},
		{"unknown group", "ns/n/devices/twin/commands/modify"},
		{"group case", "ns/n/Things/twin/commands/modify"},
		{"things missing channel", "ns/n/things/commands/modify"},
		{"things unknown channel", "ns/n/things/digital/commands/modify"},
		{"channel case", "ns/n/things/TWIN/commands/modify"},
		{"channel none for things", "ns/n/things/none/commands/modify"},
		{"policies with channel", "ns/n/policies/twin/commands/modify"},
		{"policies with live channel", "ns/n/policies/live/events/modified"},
		{"connections with channel", "_/c/connections/twin/commands/retrieve"},
		{"unknown criterion", "ns/n/things/twin/orders/modify"},
		{"commands without action", "ns/n/things/twin/commands"},
		{"commands empty action", "ns/n/things/twin/commands/"},
		{"unknown command action", "ns/n/things/twin/commands/explode"},
		{"event action on commands", "ns/n/things/twin/commands/modified"},
		{"command action on events", "ns/n/things/twin/events/modify"},
		{"events without action", "ns/n/things/twin/events"},
		{"action case", "ns/n/things/twin/commands/Modify"},
		{"extra segment after action", "ns/n/things/twin/commands/modify/extra"},
		{"action after errors", "ns/n/things/twin/errors/modify"},
		{"trailing slash after errors", "ns/n/things/twin/errors/"},
		{"action after policy errors", "ns/n/policies/errors/x"},
		{"messages on twin", "ns/n/things/twin/messages/ask"},
		{"messages on policies", "ns/n/policies/messages/ask"},
		{"search on live", "_/_/things/live/search/subscribe"},
		{"search on policies", "_/_/policies/search/subscribe"},
		{"search without action", "_/_/things/twin/search"},
		{"unknown search action", "_/_/things/twin/search/subscribeForPersistedEvents"},
		{"search action extra", "_/_/things/twin/search/next/1"},
		{"streaming on live", "ns/n/things/live/streaming/request"},
		{"unknown streaming action", "ns/n/things/twin/streaming/subscribe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.ParseTopic(tc.in)
			e := wantError(t, err, protocol.CodeUnknownTopicPath, 400)
			if got != (protocol.Topic{}) {
				t.Errorf("ParseTopic(%q) returned %+v with the error", tc.in, got)
			}
			if e.Code != "protocoladapter:unknown.topicpath" {
				t.Errorf("code constant is %q", e.Code)
			}
		})
	}
}

func TestTopicEntityID(t *testing.T) {
	tp, err := protocol.ParseTopic("org.eclipse.ditto/fancy-thing_53/things/twin/commands/retrieve")
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.EntityID(); got != "org.eclipse.ditto:fancy-thing_53" {
		t.Fatalf("EntityID() = %q", got)
	}
	tp, err = protocol.ParseTopic("/no-namespace/things/twin/commands/retrieve")
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.EntityID(); got != ":no-namespace" {
		t.Fatalf("EntityID() = %q", got)
	}
}

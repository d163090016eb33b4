package server

import (
	"context"
	"strings"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/policies"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// commandRouter hands each protocol command of a WebSocket session to the
// handler of its group: policies to the policy handler, everything else
// (things, and the errors of unknown groups) to the twin handler.
type commandRouter struct {
	things   *twin.Handler
	policies *policies.Handler
}

// Handle implements gateway.Twins.
func (r commandRouter) Handle(ctx context.Context, who auth.Context, env protocol.Envelope) protocol.Envelope {
	if topicGroup(env.Topic) == protocol.GroupPolicies {
		return r.policies.Handle(ctx, who, env)
	}
	return r.things.Handle(ctx, who, env)
}

// topicGroup is the third segment of a topic (<ns>/<name>/<group>/…).
func topicGroup(topic string) string {
	for range 2 {
		_, rest, ok := strings.Cut(topic, "/")
		if !ok {
			return ""
		}
		topic = rest
	}
	group, _, _ := strings.Cut(topic, "/")
	return group
}

package gateway

import (
	"log/slog"

	"github.com/google/uuid"

	"github.com/twinway/twinway/protocol"
)

// handleMessage dispatches one inbound message: a control command (prefix
// match, as Ditto) or a protocol envelope.
func (s *session) handleMessage(data []byte) {
	if word, ok := controlWordOf(data); ok {
		s.handleControl(word, string(data))
		return
	}
	s.handleEnvelope(data)
}

// handleEnvelope decodes a protocol message, hands it to Twins and queues the
// response unless response-required is false. Every message that reaches this
// point is counted as a command, the rejected ones too (action "unknown" when
// the topic does not parse), acknowledgements excepted.
func (s *session) handleEnvelope(data []byte) {
	env, err := protocol.DecodeEnvelope(data)
	if err != nil {
		e := protocol.AsError(err)
		s.countCommand(protocol.Topic{}, e.Status)
		s.reply(protocol.ErrorEnvelope(e, protocol.Topic{}, nil))
		return
	}
	// The topic is parsed here for routing, the metrics label and errors
	// raised before Twins; Twins validates topic and path itself.
	topic, _ := protocol.ParseTopic(env.Topic)
	if topic.Criterion == protocol.CriterionAcks && topic.Group == protocol.GroupThings {
		// Before a correlation-id is made up: an acknowledgement without
		// one reaches nobody and is refused (acks.go).
		s.handleAck(env, topic)
		return
	}
	if _, ok := env.Headers[protocol.HeaderCorrelationID]; !ok {
		env.Headers[protocol.HeaderCorrelationID] = uuid.NewString()
	}
	required, err := env.Headers.ResponseRequired()
	if err != nil {
		e := protocol.AsError(err)
		s.countCommand(topic, e.Status)
		s.reply(protocol.ErrorEnvelope(e, topic, env.Headers))
		return
	}
	if topic.Criterion == protocol.CriterionSearch && topic.Group == protocol.GroupThings {
		s.handleSearch(env, topic)
		return
	}
	if s.handleLive(env, topic, required) {
		return
	}
	if kind, ok := ackKind(topic); ok {
		s.handleTwinCommand(env, topic, kind)
		return
	}
	resp := s.handle(env, topic)
	s.countCommand(topic, resp.Status)
	if required {
		s.reply(resp)
	}
}

// handle calls Twins. A panic in Twins becomes a 500 error envelope and is
// logged, so one bad command cannot take the gateway down.
func (s *session) handle(env protocol.Envelope, topic protocol.Topic) (resp protocol.Envelope) {
	defer func() {
		if p := recover(); p != nil {
			s.logAt(slog.LevelError, "twin handler panicked", "panic", p, "topic", env.Topic)
			e := protocol.Errorf(protocol.CodeInternal, "An unknown error occurred.")
			resp = protocol.ErrorEnvelope(e, topic, env.Headers)
		}
	}()
	return s.g.cfg.Twins.Handle(s.ctx, s.who, env)
}

func (s *session) countCommand(topic protocol.Topic, status int) {
	action := topic.Action
	if action == "" {
		action = "unknown"
	}
	s.g.metrics.CountCommand("ws", action, status)
}

// replyTooLarge answers a message larger than MaxMessageBytes.
func (s *session) replyTooLarge() {
	e := protocol.Errorf(protocol.CodeMessageTooLarge,
		"The message is larger than the maximum of %d bytes allowed on this WebSocket.", s.g.cfg.MaxMessageBytes)
	s.countCommand(protocol.Topic{}, e.Status)
	s.reply(protocol.ErrorEnvelope(e, protocol.Topic{}, nil))
}

// reply queues env for the client.
func (s *session) reply(env protocol.Envelope) {
	s.send(env.AppendJSON(make([]byte, 0, encodedSize(&env))))
}

// send queues b, a whole text frame; an overflow closes the session as slow.
func (s *session) send(b []byte) {
	if s.queue.push(b) == pushFull {
		s.close(reasonSlow)
	}
}

// Package live is the pure logic of the live channel (SPEC.md §7): the
// registry that correlates live commands and messages with their replies
// (Pending), the validation of message topics and paths and the policy
// resource a message needs (Message), message payloads by content type, and
// the timeouts of messages. It does no I/O; the only goroutines are the
// runtime's timer callbacks, one per request that reaches its deadline.
//
// Eclipse Ditto is the reference; the facts come from these sources of
// eclipse-ditto/ditto:
//
//   - correlation: edge/service …/acknowledgements/AcknowledgementAggregatorActor
//     (command.timeout when the response does not come),
//     AcknowledgementForwarderActorStarter (duplicate correlation-ids) and
//     things/service …/persistence/actors/ResponseReceiverCache (a colliding
//     correlation-id gets "_<uuid>" appended);
//   - messages: protocol …/mappingstrategies/AbstractMessageMappingStrategies
//     (path validation), …/adapter/things/MessageCommandAdapter (claim),
//     messages/model …/signals/commands/MessageCommand (resource path),
//     gateway/service …/routes/things/MessagesRoute (HTTP subject, timeouts)
//     and the messages model's exceptions;
//   - payloads: base/model …/headers/contenttype/ContentType (text, JSON or
//     binary), messages/model …/signals/commands/MessagePayloadSerializer and
//     MessagesRoute / AbstractHttpRequestActor (HTTP bodies).
package live

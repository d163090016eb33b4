// Package ack is Ditto's acknowledgements (SPEC.md §6) as pure logic: the
// label rules, the requested-acks and declared-acks headers, the defaults that
// response-required, requested-acks and timeout give each other on either
// door (Expect), the aggregation of the acknowledgements one request waits
// for (Aggregator), weak acknowledgements, and the single acknowledgement a
// client issues (Parse). It does no I/O and starts no goroutine: the gateway
// feeds it what arrives, runs the timer, and sends what it returns.
//
// Eclipse Ditto is the reference; the facts come from these sources of
// eclipse-ditto/ditto:
//
//   - labels: base/model …/acks/AcknowledgementLabels.java (the pattern),
//     DittoAcknowledgementLabel.java (the built-in labels) and the
//     Acknowledgement*Exception classes (codes, messages, descriptions);
//   - requested-acks: base/model …/headers/RequestedAcksValueValidator.java and
//     …/translator/ReadJsonArrayHeadersFilter.java (JSON array or comma list);
//   - defaults: base/model …/acks/AbstractCommandAckRequestSetter.java with
//     edge/service …/acknowledgements/things/ThingModifyCommandAckRequestSetter,
//     ThingLiveCommandAckRequestSetter and message/MessageCommandAckRequestSetter;
//     the forbidden combinations in edge/service …/AcknowledgementAggregatorActorStarter
//     (timeout zero) and gateway/service …/StreamingSessionActor (WebSocket,
//     response-required=false);
//   - aggregation: base/service …/acknowledgements/AcknowledgementAggregator.java,
//     edge/service …/AcknowledgementAggregatorActor.java (when the answer is the
//     response itself, a command.timeout, or the aggregated acknowledgements) and
//     base/model …/signals/acks/Acknowledgements.java (combined status 200/424);
//   - envelopes: protocol …/adapter/acknowledgements/AcknowledgementAdapter.java
//     and AcknowledgementsAdapter.java; HTTP: gateway/service
//     …/endpoints/actors/AbstractHttpRequestActor.java.
package ack

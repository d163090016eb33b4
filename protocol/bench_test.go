package protocol_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
)

// benchCommand is a typical command on the hot path: a modify of one feature
// property with a correlation-id, as the load generator's modify workload
// sends it.
var benchCommand = []byte(`{"topic":"org.example/sensor-42/things/twin/commands/modify","headers":{"correlation-id":"7-12345","content-type":"application/json"},"path":"/features/environment/properties/temperature","value":21.5}`)

func BenchmarkDecodeEnvelope(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchCommand)))
	for b.Loop() {
		env, err := protocol.DecodeEnvelope(benchCommand)
		if err != nil || env.Path == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEnvelopeThing decodes a create with a whole thing as value,
// which DecodeEnvelope keeps raw.
func BenchmarkDecodeEnvelopeThing(b *testing.B) {
	data := []byte(`{"topic":"org.example/sensor-42/things/twin/commands/create","headers":{"correlation-id":"c-1","requested-acks":["twin-persisted"],"response-required":true},"path":"/","value":` + benchThing + `}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := protocol.DecodeEnvelope(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchThing is a small twin of about 400 bytes.
const benchThing = `{"thingId":"org.example:sensor-42","policyId":"org.example:policy","attributes":{"manufacturer":"ACME","location":{"building":"B7","floor":3}},` +
	`"features":{"environment":{"properties":{"temperature":21.5,"humidity":48.2}},"battery":{"properties":{"level":87,"charging":false},"desiredProperties":{"charging":true}}}}`

// benchResponse is the response to benchCommand.
func benchResponse() protocol.Envelope {
	return protocol.Envelope{
		Topic: "org.example/sensor-42/things/twin/commands/modify",
		Headers: protocol.Headers{"correlation-id": "7-12345", "content-type": "application/json",
			"ditto-originator": "nginx:ditto", "entity-revision": "1234", "etag": `"hash:9f3a1c2b4d5e6f70"`},
		Path:   "/features/environment/properties/temperature",
		Status: 204,
	}
}

func BenchmarkEncodeEnvelope(b *testing.B) {
	env := benchResponse()
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = env.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodeEvent encodes the event of benchCommand as the hub does:
// once per event, into a fresh buffer shared by every session.
func BenchmarkEncodeEvent(b *testing.B) {
	ev := protocol.Envelope{
		Topic: "org.example/sensor-42/things/twin/events/modified",
		Headers: protocol.Headers{"correlation-id": "7-12345", "content-type": "application/json",
			"ditto-originator": "nginx:ditto", "entity-revision": "1234"},
		Path:      "/features/environment/properties/temperature",
		Value:     json.RawMessage(`21.5`),
		Revision:  1234,
		Timestamp: protocol.FormatInstant(time.Date(2026, 11, 23, 16, 0, 0, 123000000, time.UTC)),
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(ev.AppendJSON(nil))
	}
	b.SetBytes(int64(n))
}

func BenchmarkParseTopic(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		t, err := protocol.ParseTopic("org.example/sensor-42/things/twin/commands/modify")
		if err != nil || t.Action != protocol.ActionModify {
			b.Fatal(err)
		}
	}
}

func BenchmarkTopicString(b *testing.B) {
	t := protocol.Topic{Namespace: "org.example", Name: "sensor-42", Group: protocol.GroupThings,
		Channel: protocol.ChannelTwin, Criterion: protocol.CriterionEvents, Action: protocol.ActionModified}
	b.ReportAllocs()
	for b.Loop() {
		if t.String() == "" {
			b.Fatal("empty topic")
		}
	}
}

func BenchmarkDecodeValueThing(b *testing.B) {
	data := []byte(benchThing)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := protocol.DecodeValue(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeValueThing(b *testing.B) {
	v, err := protocol.DecodeValue([]byte(benchThing))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(protocol.EncodeValue(v))
	}
	b.SetBytes(int64(n))
}

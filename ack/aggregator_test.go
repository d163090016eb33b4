package ack_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/protocol"
)

// sameJSONValue asserts that got and want are equal JSON values, object key
// order aside (header objects are written sorted).
func sameJSONValue(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

// topKeys are the keys of the JSON object b in their order.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

var thingTopic = protocol.Topic{Namespace: "org.eclipse.ditto", Name: "thing-1", Group: "things", Channel: "twin",
	Criterion: "commands", Action: "modify"}

// twinResponse is the twin's 201 to a create, as in Ditto's example.
func twinResponse() protocol.Envelope {
	return protocol.Envelope{
		Topic: "org.eclipse.ditto/thing-1/things/twin/commands/modify",
		Headers: protocol.Headers{"correlation-id": "db878735-4957-4fd9-92dc-6f09bb12a093", "version": "2",
			"etag": `"rev:1"`, "location": "http://127.0.0.1:8080/api/2/things/org.eclipse.ditto:thing-1"},
		Path:   "/",
		Value:  json.RawMessage(`{"thingId":"org.eclipse.ditto:thing-1","policyId":"org.eclipse.ditto:thing-1"}`),
		Status: 201,
	}
}

// The "one acknowledgement timed out" example of Ditto's
// basic-acknowledgements page: 424, twin-persisted's entry and a 408 entry
// with the request timeout message "…of 42,000ms.".
func TestAggregatorDittoExample424(t *testing.T) {
	cmd := protocol.Headers{"correlation-id": "db878735-4957-4fd9-92dc-6f09bb12a093",
		"requested-acks": `["twin-persisted","my-custom-ack"]`, "timeout": "42s"}
	e, err := ack.Expect(cmd, ack.TwinModify, ack.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	agg := ack.NewAggregator(thingTopic, cmd, e.Labels, e.Timeout)
	if agg.AddResponse(ack.TwinPersisted, twinResponse()) {
		t.Fatal("completed with one of two acknowledgements")
	}
	if !agg.Timeout() {
		t.Fatal("Timeout did not end the request")
	}
	if agg.Timeout() {
		t.Error("second Timeout ended the request again")
	}
	r := agg.Result()
	if r.Outcome != ack.AnswerAcks || r.Status != 424 {
		t.Fatalf("outcome %v status %d", r.Outcome, r.Status)
	}
	status, _, ct, body := r.HTTP(true)
	if status != 424 || ct != "application/json" {
		t.Errorf("HTTP %d %q", status, ct)
	}
	sameJSONValue(t, body, `{
	  "twin-persisted": {
	    "status": 201,
	    "payload": {"thingId": "org.eclipse.ditto:thing-1", "policyId": "org.eclipse.ditto:thing-1"},
	    "headers": {"correlation-id": "db878735-4957-4fd9-92dc-6f09bb12a093", "version": 2, "etag": "\"rev:1\"",
	                "location": "http://127.0.0.1:8080/api/2/things/org.eclipse.ditto:thing-1"}
	  },
	  "my-custom-ack": {
	    "status": 408,
	    "payload": {"status": 408, "error": "acknowledgement:request.timeout",
	      "message": "The acknowledgement request reached the specified timeout of 42,000ms.",
	      "description": "Try increasing the timeout and make sure that the requested acknowledgement is sent back in time."},
	    "headers": {"correlation-id": "db878735-4957-4fd9-92dc-6f09bb12a093"}
	  }
	}`)
	if keys := topKeys(t, body); !slices.Equal(keys, []string{"twin-persisted", "my-custom-ack"}) {
		t.Errorf("entries in order %q, want request order", keys)
	}
}

// All acknowledgements successful: 200, and the WebSocket envelope Ditto's
// AcknowledgementsAdapter writes.
func TestAggregatorAllSuccessEnvelope(t *testing.T) {
	cmd := protocol.Headers{"correlation-id": "c-1", "requested-acks": `["custom-ack","twin-persisted"]`,
		"response-required": "true", "app-header": "v", "ditto-internal": "x"}
	agg := ack.NewAggregator(thingTopic, cmd, []string{"custom-ack", "twin-persisted"}, 30*time.Second)
	resp := protocol.Envelope{Topic: "org.eclipse.ditto/thing-1/things/twin/commands/modify",
		Headers: protocol.Headers{"correlation-id": "c-1"}, Path: "/attributes/a", Status: 204}
	if agg.AddResponse(ack.TwinPersisted, resp) {
		t.Fatal("completed early")
	}
	if !agg.Add("custom-ack", 200, json.RawMessage(`{"outcome":"green"}`), protocol.Headers{"correlation-id": "c-1", "ditto-x": "y"}) {
		t.Fatal("last acknowledgement did not complete the request")
	}
	if !agg.Done() || agg.Timeout() {
		t.Error("Done/Timeout after completion")
	}
	r := agg.Result()
	if r.Outcome != ack.AnswerAcks || r.Status != 200 {
		t.Fatalf("outcome %v status %d", r.Outcome, r.Status)
	}
	env := r.Envelope()
	sameJSON(t, envelopeJSON(t, env), `{
	  "topic": "org.eclipse.ditto/thing-1/things/twin/acks",
	  "headers": {"app-header": "v", "content-type": "application/json", "correlation-id": "c-1", "response-required": false},
	  "path": "/",
	  "value": {
	    "custom-ack": {"status": 200, "payload": {"outcome": "green"}, "headers": {"correlation-id": "c-1"}},
	    "twin-persisted": {"status": 204, "headers": {"correlation-id": "c-1"}}
	  },
	  "status": 200
	}`)
	status, headers, _, body := r.HTTP(false)
	if status != 202 || body != nil || headers["correlation-id"] != "c-1" {
		t.Errorf("HTTP without response: %d %v %s", status, headers, body)
	}
}

func TestAggregatorSingleBuiltIn(t *testing.T) {
	liveTopic := protocol.Topic{Namespace: "org.eclipse.ditto", Name: "smartcoffee", Group: "things", Channel: "live",
		Criterion: "messages", Subject: "ask"}
	cmd := protocol.Headers{"correlation-id": "c-1", "requested-acks": `["live-response"]`, "response-required": "true"}
	reply := protocol.Envelope{Topic: "org.eclipse.ditto/smartcoffee/things/live/messages/ask",
		Headers: protocol.Headers{"content-type": "text/plain", "correlation-id": "c-1"},
		Path:    "/outbox/messages/ask", Value: json.RawMessage(`"I am a coffee machine"`), Status: 418}

	t.Run("the reply is the answer", func(t *testing.T) {
		agg := ack.NewAggregator(liveTopic, cmd, []string{ack.LiveResponse}, 10*time.Second)
		if !agg.AddResponse(ack.LiveResponse, reply) {
			t.Fatal("the reply did not complete the request")
		}
		r := agg.Result()
		if r.Outcome != ack.AnswerResponse || r.Status != 418 || !reflect.DeepEqual(r.Envelope(), reply) {
			t.Errorf("result %+v", r)
		}
		if status, _, _, _ := r.HTTP(false); status != 418 {
			t.Errorf("a failed answer keeps its status without response-required: %d", status)
		}
	})
	t.Run("no reply: command.timeout", func(t *testing.T) {
		agg := ack.NewAggregator(liveTopic, cmd, []string{ack.LiveResponse}, 10*time.Second)
		agg.Add("other-label", 200, nil, nil) // not requested: ignored
		if !agg.Timeout() {
			t.Fatal("Timeout did not end the request")
		}
		r := agg.Result()
		if r.Outcome != ack.AnswerError || r.Status != 408 {
			t.Fatalf("outcome %v status %d", r.Outcome, r.Status)
		}
		if r.Error.Code != protocol.CodeCommandTimeout || r.Error.Message != "The Command reached the specified timeout of 10,000ms." {
			t.Errorf("error %+v", r.Error)
		}
		env := r.Envelope()
		if env.Topic != "org.eclipse.ditto/smartcoffee/things/live/errors" || env.Status != 408 || env.Path != "/" ||
			env.Headers["correlation-id"] != "c-1" || env.Headers["response-required"] != "false" {
			t.Errorf("error envelope %+v", env)
		}
		status, _, ct, body := r.HTTP(true)
		if status != 408 || ct != "application/json" {
			t.Errorf("HTTP %d %q", status, ct)
		}
		sameJSON(t, body, `{"status":408,"error":"command.timeout","message":"The Command reached the specified timeout of 10,000ms.","description":"Try increasing the command timeout."}`)
	})
}

// A single custom label is answered with Ditto's aggregated shape (the
// acknowledgement's own status) on the WebSocket and with its payload alone
// over HTTP.
func TestAggregatorSingleCustom(t *testing.T) {
	cmd := protocol.Headers{"correlation-id": "c-1", "requested-acks": `["custom-ack"]`, "response-required": "true"}
	agg := ack.NewAggregator(thingTopic, cmd, []string{"custom-ack"}, time.Second)
	if !agg.Add("custom-ack", 400, json.RawMessage(`"You better try harder"`), protocol.Headers{"correlation-id": "c-1", "x-app": "1"}) {
		t.Fatal("not completed")
	}
	r := agg.Result()
	if r.Outcome != ack.AnswerAcks || r.Status != 400 {
		t.Fatalf("outcome %v status %d", r.Outcome, r.Status)
	}
	sameJSON(t, envelopeJSON(t, r.Envelope()), `{
	  "topic": "org.eclipse.ditto/thing-1/things/twin/acks",
	  "headers": {"content-type": "application/json", "correlation-id": "c-1", "response-required": false, "x-app": "1"},
	  "path": "/",
	  "value": {"custom-ack": {"status": 400, "payload": "You better try harder", "headers": {"correlation-id": "c-1", "x-app": "1"}}},
	  "status": 400
	}`)
	status, _, ct, body := r.HTTP(true)
	if status != 400 || ct != "application/json" || string(body) != `"You better try harder"` {
		t.Errorf("HTTP %d %q %s", status, ct, body)
	}
	status, _, _, body = r.HTTP(false)
	if status != 400 || body != nil {
		t.Errorf("HTTP without response: %d %s (a single entry minimized has no body)", status, body)
	}
}

func TestAggregatorFirstWins(t *testing.T) {
	agg := ack.NewAggregator(thingTopic, protocol.Headers{"correlation-id": "c"}, []string{"aaa", "bbb"}, time.Second)
	for _, step := range []struct {
		label    string
		status   int
		complete bool
	}{
		{"aaa", 500, false},
		{"aaa", 200, false}, // second for the same label: ignored
		{"zzz", 200, false}, // not requested: ignored
		{"bbb", 201, true},
		{"bbb", 500, false}, // after the end: ignored
	} {
		if got := agg.Add(step.label, step.status, nil, nil); got != step.complete {
			t.Errorf("Add(%s, %d) = %v", step.label, step.status, got)
		}
	}
	r := agg.Result()
	if r.Status != 424 || r.Acks[0].Status != 500 || r.Acks[1].Status != 201 {
		t.Errorf("result %+v", r)
	}
	status, _, _, body := r.HTTP(false)
	if status != 424 {
		t.Errorf("status %d", status)
	}
	sameJSON(t, body, `{"aaa":{"status":500,"headers":{}},"bbb":{"status":201,"headers":{}}}`)
}

func TestAggregatorLiveChannelAndWeak(t *testing.T) {
	topic := protocol.Topic{Namespace: "ns", Name: "dev", Group: "things", Channel: "live", Criterion: "commands", Action: "retrieve"}
	cmd := protocol.Headers{"correlation-id": "c"}
	agg := ack.NewAggregator(topic, cmd, []string{"live-response", "my-ack"}, time.Second)
	weak, _ := ack.Weak("my-ack", cmd, ack.WeakFiltered)
	agg.Add(weak.Label, weak.Status, weak.Payload, weak.Headers)
	if !agg.AddResponse(ack.LiveResponse, protocol.Envelope{Headers: protocol.Headers{"correlation-id": "c"}, Status: 200,
		Value: json.RawMessage(`{"a":1}`)}) {
		t.Fatal("not completed")
	}
	r := agg.Result()
	env := r.Envelope()
	if r.Outcome != ack.AnswerAcks || r.Status != 200 || env.Topic != "ns/dev/things/live/acks" {
		t.Errorf("result %+v, topic %s", r, env.Topic)
	}
	if !r.Acks[1].Weak() {
		t.Error("weak flag lost")
	}
}

// Exactly one of many concurrent Add and Timeout calls ends the request.
func TestAggregatorCompletesOnce(t *testing.T) {
	for round := 0; round < 50; round++ {
		labels := []string{"aaa", "bbb", "ccc", "ddd"}
		agg := ack.NewAggregator(thingTopic, protocol.Headers{"correlation-id": "c"}, labels, time.Second)
		var ended atomic.Int32
		var wg sync.WaitGroup
		for _, l := range append(labels, labels...) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if agg.Add(l, 200, nil, nil) {
					ended.Add(1)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if agg.Timeout() {
				ended.Add(1)
			}
		}()
		wg.Wait()
		if ended.Load() != 1 {
			t.Fatalf("round %d: %d calls ended the request", round, ended.Load())
		}
		if r := agg.Result(); len(r.Acks) != 4 {
			t.Fatalf("round %d: %d entries", round, len(r.Acks))
		}
	}
}

func TestAggregatorWithoutLabels(t *testing.T) {
	agg := ack.NewAggregator(thingTopic, protocol.Headers{}, nil, time.Second)
	if !agg.Done() || agg.Timeout() || agg.Add("aaa", 200, nil, nil) {
		t.Error("an aggregator without labels is done from the start")
	}
}

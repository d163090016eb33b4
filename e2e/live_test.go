package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The live channel end to end (SPEC.md §7): apps, devices and HTTP callers
// on real sockets, the thing's policy deciding who may send and receive.

const liveThing = "org.example:coffee"

// startStream sends a START-SEND-… control word and waits for its ACK.
func (c *wsClient) startStream(t testing.TB, word string) {
	t.Helper()
	c.sendText(t, word)
	want := word
	if i := strings.IndexByte(word, '?'); i >= 0 {
		want = word[:i]
	}
	if got := c.next(t); got != want+":ACK" {
		t.Fatalf("%s: got %q, want the ACK", word, got)
	}
}

// send sends an envelope built from its parts.
func (c *wsClient) sendLive(t testing.TB, topic, path string, headers map[string]any, value string, status int) {
	t.Helper()
	msg := map[string]any{"topic": topic, "path": path, "headers": headers}
	if value != "" {
		msg["value"] = json.RawMessage(value)
	}
	if status != 0 {
		msg["status"] = status
	}
	b, _ := json.Marshal(msg)
	c.sendText(t, string(b))
}

// nextEnvelope waits for the next protocol message, skipping nothing.
func (c *wsClient) nextEnvelope(t testing.TB) envelope {
	t.Helper()
	return decodeEnvelope(t, c.next(t))
}

// livePending reads twinway_live_requests_pending from /metrics.
func (g *gatewayUnderTest) livePending(t testing.TB) int {
	t.Helper()
	resp, err := http.Get(g.baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "twinway_live_requests_pending "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(f)
		}
	}
	t.Fatal("/metrics has no twinway_live_requests_pending")
	return 0
}

// waitPending waits until the gateway waits for want live requests.
func (g *gatewayUnderTest) waitPending(t testing.TB, want int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := g.livePending(t)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("live requests pending: %d, want %d", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func createLiveThing(t testing.TB, g *gatewayUnderTest) {
	t.Helper()
	r := g.do(t, http.MethodPut, thingPath(liveThing, "/"), `{"attributes":{"brand":"acme","cups":3},"features":{"heater":{"properties":{"on":false}}}}`, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
}

const (
	askTopic = "org.example/coffee/things/live/messages/ask"
	askPath  = "/inbox/messages/ask"
)

// TestLiveMessageAppToDevice: an app asks a device; the device gets the
// message (not the app, which sent it), answers, and the first answer is
// the app's; a second device's later answer is dropped.
func TestLiveMessageAppToDevice(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device, other, app := g.dial(t), g.dial(t), g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")
	other.startStream(t, "START-SEND-MESSAGES?namespaces=org.example")
	app.startStream(t, "START-SEND-MESSAGES")

	app.sendLive(t, askTopic, askPath, map[string]any{"correlation-id": "c-1", "content-type": "text/plain", "x-app": "1"}, `"Hey?"`, 0)
	for _, d := range []*wsClient{device, other} {
		m := d.nextEnvelope(t)
		if m.Topic != askTopic || m.Path != askPath || string(m.Value) != `"Hey?"` || m.Status != 0 {
			t.Fatalf("device got %s", m.Raw)
		}
		for k, v := range map[string]any{"correlation-id": "c-1", "content-type": "text/plain", "x-app": "1",
			"ditto-message-direction": "TO", "ditto-message-subject": "ask", "ditto-message-thing-id": liveThing,
			"ditto-originator": "nginx:ditto"} {
			if m.Headers[k] != v {
				t.Errorf("header %s = %v, want %v (%s)", k, m.Headers[k], v, m.Raw)
			}
		}
	}
	device.sendLive(t, askTopic, "/outbox/messages/ask", map[string]any{"correlation-id": "c-1", "content-type": "text/plain"}, `"I am a coffee machine"`, 418)
	reply := app.nextEnvelope(t)
	if reply.Status != 418 || string(reply.Value) != `"I am a coffee machine"` || reply.Headers["correlation-id"] != "c-1" || reply.Topic != askTopic {
		t.Fatalf("app got %s", reply.Raw)
	}
	other.sendLive(t, askTopic, "/outbox/messages/ask", map[string]any{"correlation-id": "c-1"}, `"me too"`, 200)
	app.noFrameWithin(t, 300*time.Millisecond)
	g.waitPending(t, 0)
}

// TestLiveMessageLateReplyDropped: nobody answers within the timeout, so
// the app gets command.timeout (408); the reply that comes afterwards is
// dropped.
func TestLiveMessageLateReplyDropped(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device, app := g.dial(t), g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")
	app.sendLive(t, askTopic, askPath, map[string]any{"correlation-id": "late", "timeout": "300ms", "content-type": "application/json"}, `{"q":1}`, 0)
	if m := device.nextEnvelope(t); m.Headers["correlation-id"] != "late" {
		t.Fatalf("device got %s", m.Raw)
	}
	e := app.nextEnvelope(t)
	if e.Status != 408 || e.errorCode() != "command.timeout" || e.Topic != "org.example/coffee/things/live/errors" || e.Headers["correlation-id"] != "late" {
		t.Fatalf("app got %s", e.Raw)
	}
	device.sendLive(t, askTopic, "/outbox/messages/ask", map[string]any{"correlation-id": "late"}, `"too late"`, 200)
	app.noFrameWithin(t, 300*time.Millisecond)
	g.waitPending(t, 0)
}

// TestHTTPMessageToDevice: an HTTP caller sends a message to a device over
// the WebSocket and gets the device's status, headers and payload; with no
// answer a 408; with timeout=0 a 202 at once; to a missing thing a 404.
func TestHTTPMessageToDevice(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device := g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")

	type answer struct{ r httpResult }
	done := make(chan answer, 1)
	go func() {
		done <- answer{g.do(t, http.MethodPost, thingPath(liveThing, "/features/heater/inbox/messages/brew"), "espresso",
			map[string]string{"Content-Type": "text/plain", "correlation-id": "h-1"})}
	}()
	m := device.nextEnvelope(t)
	if m.Topic != "org.example/coffee/things/live/messages/brew" || m.Path != "/features/heater/inbox/messages/brew" ||
		string(m.Value) != `"espresso"` || m.Headers["ditto-message-feature-id"] != "heater" {
		t.Fatalf("device got %s", m.Raw)
	}
	device.sendLive(t, m.Topic, "/features/heater/outbox/messages/brew",
		map[string]any{"correlation-id": m.Headers["correlation-id"], "content-type": "application/json"}, `{"brewing":true}`, 201)
	r := (<-done).r
	if r.status != 201 || r.header.Get("Content-Type") != "application/json" || r.header.Get("correlation-id") != "h-1" {
		t.Fatalf("HTTP answer %d %v %s", r.status, r.header, r.body)
	}
	jsonEqual(t, "reply body", r.body, `{"brewing":true}`)

	// Binary payloads travel in base64 and come back as bytes.
	go func() {
		done <- answer{g.do(t, http.MethodPost, thingPath(liveThing, "/inbox/messages/raw"), "\x00\x01\x02",
			map[string]string{"Content-Type": "application/octet-stream"})}
	}()
	m = device.nextEnvelope(t)
	if string(m.Value) != `"AAEC"` {
		t.Fatalf("binary message value %s", m.Value)
	}
	device.sendLive(t, m.Topic, "/outbox/messages/raw", map[string]any{"correlation-id": m.Headers["correlation-id"],
		"content-type": "application/octet-stream"}, `"AwQF"`, 200)
	if r = (<-done).r; r.status != 200 || string(r.body) != "\x03\x04\x05" {
		t.Fatalf("binary answer %d %q", r.status, r.body)
	}

	// No answer within the timeout.
	start := time.Now()
	r = g.do(t, http.MethodPost, thingPath(liveThing, "/inbox/messages/ask")+"?timeout=1", "?", map[string]string{"Content-Type": "text/plain"})
	if r.status != 408 || time.Since(start) < time.Second {
		t.Fatalf("unanswered: %d after %v: %s", r.status, time.Since(start), r.body)
	}
	jsonField(t, r.body, "error", "command.timeout")
	jsonField(t, r.body, "message", "The Command reached the specified timeout of 1,000ms.")
	device.nextEnvelope(t) // the message it did not answer

	// Fire and forget.
	r = g.do(t, http.MethodPost, thingPath(liveThing, "/inbox/messages/ask")+"?timeout=0", `{"a":1}`, nil)
	if r.status != 202 || len(r.body) != 0 {
		t.Fatalf("timeout=0: %d %s", r.status, r.body)
	}
	if m = device.nextEnvelope(t); string(m.Value) != `{"a":1}` {
		t.Fatalf("fire and forget: device got %s", m.Raw)
	}

	// A thing that does not exist.
	r = g.do(t, http.MethodPost, thingPath("org.example:nothing", "/inbox/messages/ask"), "?", map[string]string{"Content-Type": "text/plain"})
	if r.status != 404 {
		t.Fatalf("missing thing: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:thing.notfound")
	g.waitPending(t, 0)
}

// TestLiveCommandRoundTrip: a live retrieve goes to the device that
// started live commands and its answer comes back; with
// live-channel-timeout-strategy use-twin an unanswered retrieve is answered
// by the twin; a create over live is refused (405).
func TestLiveCommandRoundTrip(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device, app := g.dial(t), g.dial(t)
	device.startStream(t, "START-SEND-LIVE-COMMANDS")

	const retrieveTopic = "org.example/coffee/things/live/commands/retrieve"
	app.sendLive(t, retrieveTopic, "/attributes", map[string]any{"correlation-id": "lc-1"}, "", 0)
	cmd := device.nextEnvelope(t)
	if cmd.Topic != retrieveTopic || cmd.Path != "/attributes" || cmd.Headers["correlation-id"] != "lc-1" {
		t.Fatalf("device got %s", cmd.Raw)
	}
	device.sendLive(t, retrieveTopic, "/attributes", map[string]any{"correlation-id": "lc-1"}, `{"brand":"acme","cups":7}`, 200)
	resp := app.nextEnvelope(t)
	if resp.Status != 200 || resp.Topic != retrieveTopic || resp.Headers["correlation-id"] != "lc-1" {
		t.Fatalf("app got %s", resp.Raw)
	}
	jsonEqual(t, "live answer", resp.Value, `{"brand":"acme","cups":7}`)

	// A response to another path does not answer the command.
	app.sendLive(t, retrieveTopic, "/attributes/cups", map[string]any{"correlation-id": "lc-2", "timeout": "500ms"}, "", 0)
	device.nextEnvelope(t)
	device.sendLive(t, retrieveTopic, "/attributes/brand", map[string]any{"correlation-id": "lc-2"}, `"x"`, 200)
	e := app.nextEnvelope(t)
	if e.Status != 408 || !strings.Contains(string(e.Value), "An invalid response was received") {
		t.Fatalf("mismatched answer: %s", e.Raw)
	}

	// use-twin: the device stays silent, the twin answers.
	app.sendLive(t, retrieveTopic, "/attributes/cups", map[string]any{"correlation-id": "lc-3", "timeout": "300ms",
		"live-channel-timeout-strategy": "use-twin"}, "", 0)
	device.nextEnvelope(t)
	resp = app.nextEnvelope(t)
	if resp.Status != 200 || string(resp.Value) != "3" || resp.Headers["channel"] != "twin" || resp.Headers["correlation-id"] != "lc-3" {
		t.Fatalf("use-twin answer %s", resp.Raw)
	}

	// The same over HTTP, and a modify answered by the device.
	r := g.do(t, http.MethodGet, thingPath(liveThing, "/attributes/brand")+"?channel=live&timeout=300ms&live-channel-timeout-strategy=use-twin", "", nil)
	if r.status != 200 || string(r.body) != `"acme"` {
		t.Fatalf("HTTP use-twin: %d %s", r.status, r.body)
	}
	device.nextEnvelope(t)
	done := make(chan httpResult, 1)
	go func() {
		done <- g.do(t, http.MethodPut, thingPath(liveThing, "/features/heater/properties/on")+"?channel=live", `true`, nil)
	}()
	cmd = device.nextEnvelope(t)
	if cmd.Topic != "org.example/coffee/things/live/commands/modify" || string(cmd.Value) != "true" {
		t.Fatalf("device got %s", cmd.Raw)
	}
	device.sendLive(t, cmd.Topic, cmd.Path, map[string]any{"correlation-id": cmd.Headers["correlation-id"]}, "", 204)
	if r = <-done; r.status != 204 {
		t.Fatalf("HTTP live modify: %d %s", r.status, r.body)
	}
	// The twin did not change.
	if r = g.do(t, http.MethodGet, thingPath(liveThing, "/features/heater/properties/on"), "", nil); string(r.body) != "false" {
		t.Fatalf("the twin changed: %s", r.body)
	}

	// live-channel-condition: the twin answers unless the condition holds.
	r = g.do(t, http.MethodGet, thingPath(liveThing, "/attributes/cups")+"?live-channel-condition=eq(attributes/brand,%22other%22)", "", nil)
	if r.status != 200 || string(r.body) != "3" || r.header.Get("live-channel-condition-matched") != "false" {
		t.Fatalf("unmatched condition: %d %v %s", r.status, r.header, r.body)
	}
	go func() {
		done <- g.do(t, http.MethodGet, thingPath(liveThing, "/attributes/cups")+"?live-channel-condition=eq(attributes/brand,%22acme%22)", "", nil)
	}()
	cmd = device.nextEnvelope(t)
	device.sendLive(t, cmd.Topic, cmd.Path, map[string]any{"correlation-id": cmd.Headers["correlation-id"]}, "9", 200)
	if r = <-done; r.status != 200 || string(r.body) != "9" || r.header.Get("live-channel-condition-matched") != "true" {
		t.Fatalf("matched condition: %d %v %s", r.status, r.header, r.body)
	}

	// Creating over live is refused.
	r = g.do(t, http.MethodPost, "/api/2/things?channel=live", `{}`, nil)
	if r.status != 405 {
		t.Fatalf("live create: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:thing.notcreatable")
	e = app.command(t, "org.example/coffee/things/live/commands/create", "/", `{}`, nil)
	if e.Status != 405 || e.errorCode() != "things:thing.notcreatable" {
		t.Fatalf("WS live create: %s", e.Raw)
	}
	g.waitPending(t, 0)
}

// TestLiveDeviceDisconnectsMidRequest: the only device that got the message
// disconnects before answering; the asker gets its 408 at once instead of
// waiting for its timeout, and nothing is left waiting.
func TestLiveDeviceDisconnectsMidRequest(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device, app := g.dial(t), g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")
	app.sendLive(t, askTopic, askPath, map[string]any{"correlation-id": "gone", "timeout": "60s"}, `"?"`, 0)
	device.nextEnvelope(t)
	g.waitPending(t, 1)
	start := time.Now()
	device.conn.Close()
	e := app.nextEnvelope(t)
	if e.Status != 408 || e.errorCode() != "command.timeout" || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %s", time.Since(start), e.Raw)
	}
	g.waitPending(t, 0)

	// The same for an HTTP caller.
	device = g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")
	done := make(chan httpResult, 1)
	go func() {
		done <- g.do(t, http.MethodPost, thingPath(liveThing, "/inbox/messages/ask")+"?timeout=60", "?", map[string]string{"Content-Type": "text/plain"})
	}()
	device.nextEnvelope(t)
	device.conn.Close()
	select {
	case r := <-done:
		if r.status != 408 {
			t.Fatalf("HTTP after the device left: %d %s", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the HTTP caller still waits after the device left")
	}
	g.waitPending(t, 0)
}

// TestLiveSessionClosingLeavesNoWaiter: an app that closes while it waits
// for answers, and an HTTP caller that goes away, leave nothing waiting;
// a device's answer to them afterwards is dropped harmlessly.
func TestLiveSessionClosingLeavesNoWaiter(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device, app := g.dial(t), g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")
	for i := range 5 {
		app.sendLive(t, askTopic, askPath, map[string]any{"correlation-id": fmt.Sprint("w-", i), "timeout": "60s"}, `"?"`, 0)
		device.nextEnvelope(t)
	}
	g.waitPending(t, 5)
	app.conn.Close()
	g.waitPending(t, 0)
	device.sendLive(t, askTopic, "/outbox/messages/ask", map[string]any{"correlation-id": "w-0"}, `"late"`, 200)

	// An HTTP caller that gives up.
	req, _ := http.NewRequest(http.MethodPost, g.baseURL+thingPath(liveThing, "/inbox/messages/ask")+"?timeout=60", strings.NewReader("?"))
	req.SetBasicAuth(testUser, testPassword)
	client := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := client.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Fatalf("the HTTP call was answered: %d", resp.StatusCode)
	}
	device.nextEnvelope(t)
	g.waitPending(t, 0)
}

// TestLiveBounds: a session may wait for a bounded number of answers; one
// more is refused with too.many.requests (429).
func TestLiveBounds(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device, app := g.dial(t), g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")
	const max = 100 // live.DefaultMaxPerOwner
	for i := range max {
		app.sendLive(t, askTopic, askPath, map[string]any{"correlation-id": fmt.Sprint("b-", i), "timeout": "60s"}, `"?"`, 0)
	}
	app.sendLive(t, askTopic, askPath, map[string]any{"correlation-id": "one-too-many"}, `"?"`, 0)
	e := app.nextEnvelope(t)
	if e.Status != 429 || e.errorCode() != "too.many.requests" || e.Headers["correlation-id"] != "one-too-many" {
		t.Fatalf("over the bound: %s", e.Raw)
	}
	g.waitPending(t, max)
}

// TestLiveStreamsFiltersAndPermissions: each stream is its own; namespaces,
// filters and extraFields apply to live signals; only sessions whose
// subjects may read the resource receive it; sending needs WRITE
// (messages:send.notallowed, things:event.notallowed), a stranger gets 404;
// live events reach live-event subscribers pruned like twin events.
func TestLiveStreamsFiltersAndPermissions(t *testing.T) {
	g := startPolicyGateway(t)
	const id = "org.example:shared"
	policy := `{"entries": {
		"owner": {"subjects": {"nginx:ditto": {"type": "user"}},
			"resources": {"thing:/": {"grant": ["READ", "WRITE"], "revoke": []}, "policy:/": {"grant": ["READ", "WRITE"], "revoke": []},
				"message:/": {"grant": ["READ", "WRITE"], "revoke": []}}},
		"alice": {"subjects": {"nginx:alice": {"type": "user"}},
			"resources": {"thing:/": {"grant": ["READ"], "revoke": []}, "thing:/attributes/secret": {"grant": [], "revoke": ["READ"]},
				"message:/inbox": {"grant": ["READ"], "revoke": []}}},
		"bob": {"subjects": {"nginx:bob": {"type": "user"}},
			"resources": {"thing:/features": {"grant": ["READ", "WRITE"], "revoke": []}, "message:/features": {"grant": ["READ", "WRITE"], "revoke": []}}}
	}}`
	r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"_policy":`+policy+`,"attributes":{"public":1,"secret":2,"room":"kitchen"},
		"features":{"lamp":{"properties":{"on":false}}}}`, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	owner, a, b := g.dial(t), g.dialAs(t, alice), g.dialAs(t, bob)
	a.startStream(t, "START-SEND-MESSAGES?extraFields=attributes&filter=eq(attributes/room,%22kitchen%22)")
	b.startStream(t, "START-SEND-MESSAGES")
	b.startStream(t, "START-SEND-LIVE-EVENTS")
	a.startStream(t, "START-SEND-LIVE-EVENTS")

	// An inbox message: alice may read it (with her view of the extras),
	// bob may not.
	owner.sendLive(t, "org.example/shared/things/live/messages/hello", "/inbox/messages/hello",
		map[string]any{"correlation-id": "m-1", "response-required": false}, `"hi"`, 0)
	m := a.nextEnvelope(t)
	if m.Headers["correlation-id"] != "m-1" {
		t.Fatalf("alice got %s", m.Raw)
	}
	if got, _ := json.Marshal(m.Extra); string(got) != `{"attributes":{"public":1,"room":"kitchen"}}` {
		t.Fatalf("alice's extra %s", got)
	}
	// A feature message: bob may read it, alice may not.
	owner.sendLive(t, "org.example/shared/things/live/messages/on", "/features/lamp/inbox/messages/on",
		map[string]any{"correlation-id": "m-2", "response-required": false}, `true`, 0)
	if m = b.nextEnvelope(t); m.Headers["correlation-id"] != "m-2" {
		t.Fatalf("bob got %s", m.Raw)
	}
	a.noFrameWithin(t, 200*time.Millisecond)

	// Sending needs WRITE on the message: alice may read the thing (403),
	// carol nothing (404).
	e := a.command(t, "org.example/shared/things/live/messages/hello", "/inbox/messages/hello", `"hi"`, nil)
	if e.Status != 403 || e.errorCode() != "messages:send.notallowed" {
		t.Fatalf("alice sends: %s", e.Raw)
	}
	c := g.dialAs(t, carol)
	e = c.command(t, "org.example/shared/things/live/messages/hello", "/inbox/messages/hello", `"hi"`, nil)
	if e.Status != 404 || e.errorCode() != "things:thing.notfound" {
		t.Fatalf("carol sends: %s", e.Raw)
	}
	r = g.doAs(t, carol, http.MethodPost, thingPath(id, "/inbox/messages/hello"), "hi", map[string]string{"Content-Type": "text/plain"})
	if r.status != 404 {
		t.Fatalf("carol sends over HTTP: %d %s", r.status, r.body)
	}

	// Live events: bob may write the features; alice gets his event, he
	// does not get it back.
	b.sendLive(t, "org.example/shared/things/live/events/modified", "/features/lamp/properties/on",
		map[string]any{"correlation-id": "ev-1"}, `true`, 0)
	ev := a.nextEnvelope(t)
	if ev.Topic != "org.example/shared/things/live/events/modified" || string(ev.Value) != "true" || ev.Headers["ditto-originator"] != "nginx:bob" {
		t.Fatalf("alice's live event %s", ev.Raw)
	}
	b.noFrameWithin(t, 200*time.Millisecond)
	// A whole-thing live event is pruned per reader.
	owner.sendLive(t, "org.example/shared/things/live/events/modified", "/attributes",
		map[string]any{"correlation-id": "ev-2"}, `{"public":5,"secret":6}`, 0)
	ev = a.nextEnvelope(t)
	jsonEqual(t, "alice's pruned live event", ev.Value, `{"public":5}`)
	// alice may not write: her event is refused.
	a.sendLive(t, "org.example/shared/things/live/events/modified", "/attributes/public", map[string]any{"correlation-id": "ev-3"}, `1`, 0)
	e = a.nextEnvelope(t)
	if e.Status != 403 || e.errorCode() != "things:event.notallowed" {
		t.Fatalf("alice's live event: %s", e.Raw)
	}
}

// TestLiveConcurrentAskers: many apps ask one device at once over the same
// correlation-id; each gets its own answer.
func TestLiveConcurrentAskers(t *testing.T) {
	g := startGateway(t, "", nil)
	createLiveThing(t, g)
	device := g.dial(t)
	device.startStream(t, "START-SEND-MESSAGES")
	go func() {
		for {
			f := <-device.frames
			if f.err != nil {
				return
			}
			var m envelope
			if json.Unmarshal([]byte(f.text), &m) != nil {
				continue
			}
			b, _ := json.Marshal(map[string]any{"topic": m.Topic, "path": "/outbox/messages/ask", "status": 200,
				"headers": map[string]any{"correlation-id": m.Headers["correlation-id"], "content-type": "application/json"}, "value": m.Value})
			device.conn.WriteMessage(1, b)
		}
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		app := g.dial(t)
		go func() {
			defer wg.Done()
			app.sendLive(t, askTopic, askPath, map[string]any{"correlation-id": "same", "content-type": "application/json"}, strconv.Itoa(i), 0)
			if r := app.nextEnvelope(t); r.Status != 200 || string(r.Value) != strconv.Itoa(i) || r.Headers["correlation-id"] != "same" {
				t.Errorf("app %d got %s", i, r.Raw)
			}
		}()
	}
	wg.Wait()
	g.waitPending(t, 0)
}

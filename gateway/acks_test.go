package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
)

// publishingTwins answers twin modify commands like the twin handler: it
// publishes the event (synchronously, before answering, with the custom
// labels of requested-acks) and answers 204; retrieves get 200. It can be
// told to fail writes.
type publishingTwins struct {
	g    *Gateway
	mu   sync.Mutex
	fail bool
	rev  int64 // revisions published
}

func (p *publishingTwins) Handle(_ context.Context, _ auth.Context, cmd protocol.Envelope) protocol.Envelope {
	topic, _ := protocol.ParseTopic(cmd.Topic)
	headers := protocol.Headers{protocol.HeaderCorrelationID: cmd.Headers[protocol.HeaderCorrelationID]}
	if topic.Action == protocol.ActionRetrieve {
		return protocol.Envelope{Topic: cmd.Topic, Headers: headers, Path: cmd.Path, Value: json.RawMessage(`{}`), Status: http.StatusOK}
	}
	p.mu.Lock()
	fail := p.fail
	if !fail {
		p.rev++
	}
	rev := p.rev
	p.mu.Unlock()
	if fail {
		return protocol.ErrorEnvelope(protocol.Errorf(protocol.CodeThingUnavailable, "unavailable"), topic, cmd.Headers)
	}
	ev := event(topic.Namespace, topic.Name, rev, `1`)
	ev.Envelope.Headers[protocol.HeaderCorrelationID] = cmd.Headers[protocol.HeaderCorrelationID]
	if labels, _ := ack.ParseRequested(cmd.Headers[protocol.HeaderRequestedAcks]); len(labels) > 0 {
		var custom []string
		for _, l := range labels {
			if !ack.IsBuiltIn(l) {
				custom = append(custom, l)
			}
		}
		if len(custom) > 0 {
			b, _ := json.Marshal(custom)
			ev.Envelope.Headers[protocol.HeaderRequestedAcks] = string(b)
		}
	}
	p.g.Publish(ev)
	return protocol.Envelope{Topic: cmd.Topic, Headers: headers, Path: cmd.Path, Status: http.StatusNoContent}
}

// newAckGateway is a test gateway whose twins publish events.
func newAckGateway(t *testing.T, mod func(*Config)) (*testGateway, *publishingTwins) {
	t.Helper()
	twins := &publishingTwins{}
	tg := newTestGateway(t, func(c *Config) {
		c.Twins = twins
		if mod != nil {
			mod(c)
		}
	})
	twins.g = tg.g
	return tg, twins
}

// dialDeclaring opens a session that declares labels (raw query value).
func (tg *testGateway) dialDeclaring(labels string) *websocket.Conn {
	tg.t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(tg.url+"?declared-acks="+url.QueryEscape(labels), authHeader())
	if err != nil {
		tg.t.Fatalf("dial declaring %s: %v (response %v)", labels, err, resp)
	}
	tg.t.Cleanup(func() { c.Close() })
	return c
}

// modifyCommand is a modify of org.example:lamp with cid and headers.
func modifyCommand(cid string, headers ...string) string {
	h := map[string]any{protocol.HeaderCorrelationID: cid}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = json.RawMessage(headers[i+1])
	}
	b, _ := json.Marshal(map[string]any{"topic": "org.example/lamp/things/twin/commands/modify", "headers": h,
		"path": "/attributes/x", "value": 1})
	return string(b)
}

// ackMessage is the acknowledgement of label for cid a client issues.
func ackMessage(label, cid string, status int, value string) string {
	b, _ := json.Marshal(map[string]any{"topic": "org.example/lamp/things/twin/acks/" + label,
		"headers": map[string]any{protocol.HeaderCorrelationID: cid}, "path": "/", "status": status,
		"value": json.RawMessage(value)})
	return string(b)
}

// ackEntry is one entry of aggregated acknowledgements.
type ackEntry struct {
	Status  int             `json:"status"`
	Payload json.RawMessage `json:"payload"`
	Headers map[string]any  `json:"headers"`
}

func readAcks(t *testing.T, c *websocket.Conn, cid string) (protocol.Envelope, map[string]ackEntry) {
	t.Helper()
	env := readEnvelope(t, c)
	if env.Topic != "org.example/lamp/things/twin/acks" || env.Headers[protocol.HeaderCorrelationID] != cid {
		t.Fatalf("got %s cid %q, want the acknowledgements of %s", env.Topic, env.Headers[protocol.HeaderCorrelationID], cid)
	}
	var entries map[string]ackEntry
	if err := json.Unmarshal(env.Value, &entries); err != nil {
		t.Fatalf("acknowledgements %s: %v", env.Value, err)
	}
	return env, entries
}

func TestDeclaredAcksAtTheHandshake(t *testing.T) {
	tg, _ := newAckGateway(t, nil)
	// An invalid label refuses the upgrade.
	_, resp, err := websocket.DefaultDialer.Dial(tg.url+"?declared-acks=ab", authHeader())
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("invalid label: err %v, response %v; want 400", err, resp)
	}
	_, resp, _ = websocket.DefaultDialer.Dial(tg.url+"?declared-acks=twin-persisted", authHeader())
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("built-in label: response %v; want 400", resp)
	}

	first := tg.dialDeclaring(`["app:one","app:two"]`)
	roundTrip(t, first, "first-up")
	// A label another session holds: one error frame, then the close.
	taken := tg.dialDeclaring("app:two,app:three")
	_, e := readError(t, taken)
	if e.Code != protocol.CodeAckLabelNotUnique || e.Status != http.StatusConflict {
		t.Fatalf("error %+v, want label.not.unique", e)
	}
	_ = taken.SetReadDeadline(time.Now().Add(frameWait))
	_, _, err = taken.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("after the error: %v, want close 1008", err)
	}
	// Nothing of the refused declaration stuck: app:three is free.
	third := tg.dialDeclaring("app:three")
	roundTrip(t, third, "third-up")
	// Closing frees the labels.
	first.Close()
	eventually(t, "app:one freed", func() bool { _, held := tg.g.acks.declared.Owner("app:one"); return !held })
	again := tg.dialDeclaring("app:one")
	roundTrip(t, again, "again-up")
}

func TestIssuedAckErrors(t *testing.T) {
	tg, _ := newAckGateway(t, nil)
	c := tg.dialDeclaring("app:mine")
	cases := []struct{ msg, code string }{
		{ackMessage("app:other", "x-1", 200, `null`), protocol.CodeAckLabelNotDeclared},
		{`{"topic":"org.example/lamp/things/twin/acks/app:mine","headers":{},"path":"/","status":200}`, protocol.CodeAckCorrelationIDMissing},
		{ackMessage("twin-persisted", "x-2", 200, `null`), protocol.CodeAckLabelForbidden},
		{`{"topic":"org.example/lamp/things/twin/acks/app:mine","headers":{"correlation-id":"x-3"},"path":"/"}`, protocol.CodeJSONFieldMissing},
	}
	for _, tc := range cases {
		sendText(t, c, tc.msg)
		env, e := readError(t, c)
		if e.Code != tc.code {
			t.Errorf("%s: error %s, want %s", tc.msg, e.Code, tc.code)
		}
		if !strings.HasSuffix(env.Topic, "/errors") {
			t.Errorf("%s: topic %s", tc.msg, env.Topic)
		}
	}
	// A declared label for a request nobody waits for: dropped, silently.
	sendText(t, c, ackMessage("app:mine", "nobody", 200, `null`))
	roundTrip(t, c, "still-fine")
}

func TestCustomAckAggregatedWithTwinPersisted(t *testing.T) {
	tg, _ := newAckGateway(t, nil)
	device := tg.dialDeclaring("app:device")
	sendText(t, device, startSendEvents)
	expectText(t, device, "START-SEND-EVENTS:ACK")
	watcher := tg.dial()
	sendText(t, watcher, startSendEvents)
	expectText(t, watcher, "START-SEND-EVENTS:ACK")
	app := tg.dial()

	sendText(t, app, modifyCommand("m-1", "requested-acks", `["twin-persisted","app:device"]`))
	// The declaring session sees its label, the others none.
	ev := expectEvent(t, device, "org.example", 1)
	if got := ev.Headers[protocol.HeaderRequestedAcks]; got != `["app:device"]` {
		t.Errorf("device's requested-acks %q", got)
	}
	if got := expectEvent(t, watcher, "org.example", 1).Headers[protocol.HeaderRequestedAcks]; got != `[]` {
		t.Errorf("watcher's requested-acks %q", got)
	}
	// The read loop of app is not blocked meanwhile.
	roundTrip(t, app, "r-1")
	sendText(t, device, ackMessage("app:device", "m-1", 202, `{"done":true}`))
	env, entries := readAcks(t, app, "m-1")
	if env.Status != http.StatusOK || len(entries) != 2 {
		t.Fatalf("status %d entries %v", env.Status, entries)
	}
	if entries["twin-persisted"].Status != http.StatusNoContent {
		t.Errorf("twin-persisted %+v", entries["twin-persisted"])
	}
	if e := entries["app:device"]; e.Status != 202 || string(e.Payload) != `{"done":true}` {
		t.Errorf("app:device %+v", e)
	}
	if n := tg.g.acks.pending(""); n != 0 {
		t.Errorf("%d requests still pending", n)
	}
}

func TestMissingAckTimesOut(t *testing.T) {
	tg, _ := newAckGateway(t, nil)
	device := tg.dialDeclaring("app:silent")
	sendText(t, device, startSendEvents)
	expectText(t, device, "START-SEND-EVENTS:ACK")
	app := tg.dial()
	sendText(t, app, modifyCommand("m-2", "requested-acks", `["twin-persisted","app:silent"]`, "timeout", `"300ms"`))
	expectEvent(t, device, "org.example", 1)
	env, entries := readAcks(t, app, "m-2")
	if env.Status != http.StatusFailedDependency {
		t.Fatalf("status %d, want 424", env.Status)
	}
	e := entries["app:silent"]
	var payload protocol.Error
	_ = json.Unmarshal(e.Payload, &payload)
	if e.Status != http.StatusRequestTimeout || payload.Code != protocol.CodeAckRequestTimeout ||
		payload.Message != "The acknowledgement request reached the specified timeout of 300ms." {
		t.Errorf("app:silent %+v (%+v)", e, payload)
	}
	// A late acknowledgement is dropped.
	sendText(t, device, ackMessage("app:silent", "m-2", 200, `null`))
	roundTrip(t, device, "late")
}

func TestWeakAcks(t *testing.T) {
	tg, _ := newAckGateway(t, nil)
	start := func(labels, params string) *websocket.Conn {
		c := tg.dialDeclaring(labels)
		cmd := startSendEvents
		if params != "" {
			cmd += "?" + params
		}
		sendText(t, c, cmd)
		expectText(t, c, "START-SEND-EVENTS:ACK")
		return c
	}
	otherNamespace := start("app:ns", "namespaces=com.other")
	filtered := start("app:filter", "filter="+url.QueryEscape(`eq(attributes/x,"never")`))
	idle := tg.dialDeclaring("app:idle") // declares, never starts events
	roundTrip(t, idle, "idle-up")
	getter := start("app:getter", "")
	app := tg.dial()

	sendText(t, app, modifyCommand("w-1", "requested-acks", `["app:ns","app:filter","app:idle","app:getter","app:nobody"]`, "timeout", `"2s"`))
	expectEvent(t, getter, "org.example", 1)
	sendText(t, getter, ackMessage("app:getter", "w-1", 200, `null`))
	env, entries := readAcks(t, app, "w-1")
	// app:nobody was declared by nobody: no weak ack, a 408 entry.
	if env.Status != http.StatusFailedDependency || entries["app:nobody"].Status != http.StatusRequestTimeout {
		t.Errorf("status %d, app:nobody %+v", env.Status, entries["app:nobody"])
	}
	for label, why := range map[string]string{"app:ns": ack.WeakNotAuthorized, "app:filter": ack.WeakFiltered, "app:idle": ack.WeakNotAuthorized} {
		e := entries[label]
		var payload string
		_ = json.Unmarshal(e.Payload, &payload)
		if e.Status != http.StatusOK || e.Headers[ack.HeaderWeakAck] != true || payload != why {
			t.Errorf("%s: %+v", label, e)
		}
	}
	if e := entries["app:getter"]; e.Status != http.StatusOK || e.Headers[ack.HeaderWeakAck] != nil {
		t.Errorf("app:getter %+v", e)
	}
	_ = otherNamespace
	_ = filtered
}

func TestCommandRefusalsAndFailures(t *testing.T) {
	tg, twins := newAckGateway(t, func(c *Config) { c.MaxPendingAcksPerSession = 1 })
	device := tg.dialDeclaring("app:dev")
	sendText(t, device, startSendEvents)
	expectText(t, device, "START-SEND-EVENTS:ACK")
	app := tg.dial()

	// §6: acknowledgements with response-required=false, or a zero timeout
	// with anything awaited, are header.invalid on the WebSocket.
	for _, h := range [][]string{
		{"requested-acks", `["app:dev"]`, "response-required", `false`},
		{"timeout", `"0"`, "response-required", `true`},
		{"timeout", `"0"`, "requested-acks", `["app:dev"]`},
	} {
		sendText(t, app, modifyCommand("bad", h...))
		if _, e := readError(t, app); e.Code != protocol.CodeHeaderInvalid {
			t.Errorf("%v: %+v", h, e)
		}
	}
	// response-required=false, or a zero timeout alone: applied, no answer.
	sendText(t, app, modifyCommand("quiet-1", "response-required", `false`))
	sendText(t, app, modifyCommand("quiet-2", "timeout", `"0"`))
	roundTrip(t, app, "after-quiet")
	expectEvent(t, device, "org.example", 1)
	expectEvent(t, device, "org.example", 2)

	// The session's bound: a second waiting request is refused before it runs.
	sendText(t, app, modifyCommand("wait-1", "requested-acks", `["app:dev"]`))
	expectEvent(t, device, "org.example", 3)
	sendText(t, app, modifyCommand("wait-2", "requested-acks", `["app:dev"]`))
	if _, e := readError(t, app); e.Code != protocol.CodeTooManyRequests || e.Status != http.StatusTooManyRequests {
		t.Errorf("over the bound: %+v", e)
	}
	sendText(t, device, ackMessage("app:dev", "wait-1", 200, `null`))
	// A single custom label: the answer is its acknowledgement's status.
	if env, _ := readAcks(t, app, "wait-1"); env.Status != http.StatusOK {
		t.Errorf("wait-1 status %d", env.Status)
	}
	// A failed command is answered with its error, and nobody waits.
	twins.mu.Lock()
	twins.fail = true
	twins.mu.Unlock()
	sendText(t, app, modifyCommand("fails", "requested-acks", `["app:dev"]`))
	if _, e := readError(t, app); e.Code != protocol.CodeThingUnavailable {
		t.Errorf("failed command: %+v", e)
	}
	if n := tg.g.acks.pending(""); n != 0 {
		t.Errorf("%d requests still pending", n)
	}
}

func TestClosingSessionLeavesNoWaiter(t *testing.T) {
	tg, _ := newAckGateway(t, nil)
	device := tg.dialDeclaring("app:gone")
	sendText(t, device, startSendEvents)
	expectText(t, device, "START-SEND-EVENTS:ACK")
	app := tg.dial()
	sendText(t, app, modifyCommand("c-1", "requested-acks", `["app:gone"]`))
	expectEvent(t, device, "org.example", 1)
	if n := tg.g.acks.pending(""); n != 1 {
		t.Fatalf("%d pending, want 1", n)
	}
	app.Close()
	eventually(t, "the asker's request forgotten", func() bool { return tg.g.acks.pending("") == 0 })

	// The session owing the acknowledgement closes: the request gets its
	// 408 entry at its timeout.
	app2 := tg.dial()
	sendText(t, app2, modifyCommand("c-2", "requested-acks", `["app:gone","twin-persisted"]`, "timeout", `"500ms"`))
	expectEvent(t, device, "org.example", 2)
	device.Close()
	env, entries := readAcks(t, app2, "c-2")
	if env.Status != http.StatusFailedDependency || entries["app:gone"].Status != http.StatusRequestTimeout {
		t.Errorf("status %d entries %+v", env.Status, entries)
	}
}

func TestAwaitAcksRegistry(t *testing.T) {
	g, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{}, MaxPendingAcks: 3})
	if err != nil {
		t.Fatal(err)
	}
	topic := protocol.Topic{Namespace: "org.example", Name: "lamp", Group: protocol.GroupThings, Channel: protocol.ChannelTwin,
		Criterion: protocol.CriterionCommands, Action: protocol.ActionModify}
	exp := ack.Expectation{Labels: []string{"app:a"}, ResponseRequired: true, Timeout: time.Minute}
	results := make(chan ack.Result, 4)
	done := func(r ack.Result) { results <- r }
	h := func(cid string) protocol.Headers { return protocol.Headers{protocol.HeaderCorrelationID: cid} }

	p1, err := g.AwaitAcks(topic, h("a"), exp, done)
	if err != nil || p1.RoutingID() != "a" {
		t.Fatalf("first: %v, routing id %q", err, p1.RoutingID())
	}
	// A request of no known owner is a scope of its own: the same
	// correlation-id is routed apart.
	twin, err := g.AwaitAcks(topic, h("a"), exp, done)
	if err != nil || !strings.HasPrefix(twin.RoutingID(), "a_") {
		t.Fatalf("same correlation-id: %v, routing id %q", err, twin.RoutingID())
	}
	twin.Cancel()
	if _, err := g.AwaitAcks(topic, h(""), exp, done); protocol.AsError(err).Code != protocol.CodeAckCorrelationIDMissing {
		t.Errorf("no correlation-id: %v", err)
	}
	p2, _ := g.AwaitAcks(topic, h("b"), exp, done)
	p3, _ := g.AwaitAcks(topic, h("c"), exp, done)
	if _, err := g.AwaitAcks(topic, h("d"), exp, done); protocol.AsError(err).Code != protocol.CodeTooManyRequests {
		t.Errorf("over the bound: %v", err)
	}
	p3.Cancel()
	// Complete before armed: the answer waits for Arm.
	g.acks.deliver("a", ack.Ack{Label: "app:a", Status: 200})
	select {
	case r := <-results:
		t.Fatalf("answered before Arm: %+v", r)
	default:
	}
	p1.Arm()
	if r := <-results; r.Status != 200 || r.Outcome != ack.AnswerAcks {
		t.Errorf("result %+v", r)
	}
	// Cancelled: never answered, and the correlation-id is free again.
	p2.Arm()
	p2.Cancel()
	g.acks.deliver("b", ack.Ack{Label: "app:a", Status: 200})
	if g.acks.pending("") != 0 {
		t.Errorf("%d pending", g.acks.pending(""))
	}
	// Shutdown ends what is pending, as timed out.
	p4, _ := g.AwaitAcks(topic, h("b"), exp, done)
	if p4.RoutingID() != "b" {
		t.Errorf("routing id %q of a free correlation-id", p4.RoutingID())
	}
	p4.Arm()
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := <-results; r.Status != http.StatusRequestTimeout {
		t.Errorf("at shutdown: %+v", r)
	}
	if len(results) != 0 {
		t.Errorf("%d answers too many", len(results))
	}
}

// The common case keeps the shared bytes; custom labels give one encoding
// per requested-acks variant.
func TestEventBytesPerAckVariant(t *testing.T) {
	g, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	ev := event("org.example", "lamp", 1, `1`)
	if a := g.eventAcks(&ev); a != nil {
		t.Fatalf("no custom label, tracker %+v", a)
	}
	var none *signalAcks
	d := newEventView(&ev).deliveryFor(nil, extraSelection{})
	if b1, b2 := none.encoded(d, &ev, []string{"app:x"}), none.encoded(d, &ev, nil); &b1[0] != &b2[0] {
		t.Error("the common case does not share bytes")
	}
	ev.Envelope.Headers[protocol.HeaderRequestedAcks] = `["twin-persisted","app:x","app:y"]`
	a := g.eventAcks(&ev)
	d = newEventView(&ev).deliveryFor(nil, extraSelection{})
	withX := a.encoded(d, &ev, []string{"app:x", "app:z"})
	other := a.encoded(d, &ev, nil)
	if again := a.encoded(d, &ev, []string{"app:q"}); &again[0] != &other[0] {
		t.Error("sessions without a requested label do not share bytes")
	}
	if !bytes.Contains(withX, []byte(`"requested-acks":["app:x"]`)) || !bytes.Contains(other, []byte(`"requested-acks":[]`)) {
		t.Errorf("variants %s / %s", withX, other)
	}
}

// TestAckCorrelationIDsPerAsker: correlation-ids are the asker's own, as in
// Ditto: requests of different askers (sessions of other users, an HTTP
// caller) that wait for acknowledgements under the same correlation-id do
// not collide. The later ones are routed under a fresh id, the
// acknowledgements issued for each reach it alone, and each asker gets its
// answer under its own correlation-id. Only an asker reusing an id of its
// own that still waits is refused.
func TestAckCorrelationIDsPerAsker(t *testing.T) {
	tg, _ := newAckGateway(t, func(c *Config) { c.Auth = usersAuth{} })
	device := tg.dialUser("device", "?declared-acks=app:device")
	sendText(t, device, startSendEvents)
	expectText(t, device, "START-SEND-EVENTS:ACK")
	alice, bob := tg.dialUser("alice", ""), tg.dialUser("bob", "")
	requested := []string{"requested-acks", `["app:device"]`, "timeout", `"10s"`}

	sendText(t, alice, modifyCommand("X", requested...))
	if cid := expectEvent(t, device, "org.example", 1).Headers[protocol.HeaderCorrelationID]; cid != "X" {
		t.Fatalf("alice's event carries %q", cid)
	}
	sendText(t, bob, modifyCommand("X", requested...))
	bobRoute := expectEvent(t, device, "org.example", 2).Headers[protocol.HeaderCorrelationID]
	if !strings.HasPrefix(bobRoute, "X_") {
		t.Fatalf("bob's event carries %q", bobRoute)
	}
	carol := make(chan CommandAnswer, 1)
	go func() {
		cmd, _ := protocol.DecodeEnvelope([]byte(modifyCommand("X", requested...)))
		a, err := tg.g.Command(context.Background(), auth.Context{Subjects: []string{"nginx:carol"}}, cmd, ack.HTTP)
		if err != nil {
			t.Errorf("carol: %v", err)
		}
		carol <- a
	}()
	carolRoute := expectEvent(t, device, "org.example", 3).Headers[protocol.HeaderCorrelationID]
	if !strings.HasPrefix(carolRoute, "X_") || carolRoute == bobRoute {
		t.Fatalf("carol's event carries %q (bob's %q)", carolRoute, bobRoute)
	}
	// Alice's own id, still waiting: refused, and not run.
	sendText(t, alice, modifyCommand("X", requested...))
	if _, e := readError(t, alice); e.Code != protocol.CodeAckDuplicateCorrelationID || e.Status != http.StatusConflict {
		t.Fatalf("alice reusing her id: %+v", e)
	}

	sendText(t, device, ackMessage("app:device", bobRoute, 202, `"b"`))
	env, entries := readAcks(t, bob, "X")
	if env.Status != 202 || string(entries["app:device"].Payload) != `"b"` {
		t.Fatalf("bob got %d %s", env.Status, env.Value)
	}
	sendText(t, device, ackMessage("app:device", carolRoute, 200, `"c"`))
	a := <-carol
	if a.Result == nil || a.Result.Status != 200 || string(a.Result.Acks[0].Payload) != `"c"` ||
		a.Envelope().Headers[protocol.HeaderCorrelationID] != "X" {
		t.Fatalf("carol got %+v", a.Envelope())
	}
	sendText(t, device, ackMessage("app:device", "X", 201, `"a"`))
	env, entries = readAcks(t, alice, "X")
	if env.Status != 201 || string(entries["app:device"].Payload) != `"a"` {
		t.Fatalf("alice got %d %s", env.Status, env.Value)
	}
	eventually(t, "no request left", func() bool { return tg.g.acks.pending("") == 0 })
}

// TestLiveAcksBesideTwinAcks: a live message requesting acknowledgements
// under a correlation-id that another caller's twin command waits under is
// routed apart, not refused (409 would tell the id is in use), and both
// get their answers.
func TestLiveAcksBesideTwinAcks(t *testing.T) {
	twins := &publishingTwins{}
	tg, _ := newLiveGateway(t, func(c *Config) { c.Twins = twins })
	twins.g = tg.g
	device := tg.dialUser("ditto", "?declared-acks=app:device,lamp-ack")
	for _, start := range []string{"START-SEND-EVENTS", "START-SEND-MESSAGES"} {
		sendText(t, device, start)
		expectText(t, device, start+":ACK")
	}
	alice, bob := tg.dialUser("alice", ""), tg.dialUser("bob", "")
	sendText(t, alice, modifyCommand("X", "requested-acks", `["app:device"]`, "timeout", `"10s"`))
	expectEvent(t, device, "org.example", 1)
	sendText(t, bob, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", "X",
		"requested-acks", `["lamp-ack","live-response"]`, "timeout", "10s", "content-type", "application/json"))
	m := readEnvelope(t, device)
	route := m.Headers[protocol.HeaderCorrelationID]
	if m.Topic != lampTopic+"ask" || !strings.HasPrefix(route, "X_") {
		t.Fatalf("device got %s under %q", m.Topic, route)
	}
	sendText(t, device, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", 200, `2`, "correlation-id", route, "content-type", "application/json"))
	sendText(t, device, liveEnvelope("org.eclipse.ditto/lamp/things/live/acks/lamp-ack", "/", 202, "", "correlation-id", route))
	env := readEnvelope(t, bob)
	if env.Topic != "org.eclipse.ditto/lamp/things/live/acks" || env.Status != 200 || env.Headers[protocol.HeaderCorrelationID] != "X" {
		t.Fatalf("bob got %s %d %v %s", env.Topic, env.Status, env.Headers, env.Value)
	}
	sendText(t, device, ackMessage("app:device", "X", 202, `"a"`))
	if env, entries := readAcks(t, alice, "X"); env.Status != 202 || string(entries["app:device"].Payload) != `"a"` {
		t.Fatalf("alice got %d %s", env.Status, env.Value)
	}
	eventually(t, "nothing left", func() bool { return tg.g.acks.pending("") == 0 && tg.g.LivePending() == 0 })
}

// TestAckBoundPerHTTPCaller: on the HTTP door the requests waiting for
// acknowledgements are bounded per caller (its default subject), as a
// session's are, so that one caller cannot take the gateway's slots.
func TestAckBoundPerHTTPCaller(t *testing.T) {
	tg, _ := newAckGateway(t, func(c *Config) { c.MaxPendingAcksPerSession = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := func(who, cid string) chan error {
		done := make(chan error, 1)
		go func() {
			cmd, _ := protocol.DecodeEnvelope([]byte(modifyCommand(cid, "requested-acks", `["app:nobody"]`, "timeout", `"10s"`)))
			a, err := tg.g.Command(ctx, auth.Context{Subjects: []string{who}}, cmd, ack.HTTP)
			if err == nil && a.Status() != http.StatusNoContent {
				var e protocol.Error
				_ = json.Unmarshal(a.Envelope().Value, &e)
				err = &e
			}
			done <- err
		}()
		return done
	}
	first := run("nginx:mallory", "1")
	eventually(t, "the first request waiting", func() bool { return tg.g.acks.pending("http:nginx:mallory") == 1 })
	if err := <-run("nginx:mallory", "2"); protocol.AsError(err).Code != protocol.CodeTooManyRequests {
		t.Fatalf("second request of the caller: %v", err)
	}
	other := run("nginx:ditto", "1")
	eventually(t, "another caller's request waiting", func() bool { return tg.g.acks.pending("") == 2 })
	cancel()
	for _, done := range []chan error{first, other} {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: %v", err)
		}
	}
	eventually(t, "nothing left", func() bool { return tg.g.acks.pending("") == 0 })
}

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Acknowledgements (SPEC.md §6) over real sockets: an app writes a thing and
// asks for the acknowledgement of a device session that declared a label.

// dialDeclaring opens a session as user that declares labels
// (?declared-acks=labels).
func (g *gatewayUnderTest) dialDeclaring(t testing.TB, user, labels string) *wsClient {
	t.Helper()
	conn, resp := g.dialQuery(t, user, "?declared-acks="+url.QueryEscape(labels))
	if conn == nil {
		t.Fatalf("dial declaring %s: response %v", labels, resp)
	}
	return newWSClient(t, conn)
}

// sendMessage sends a protocol message built from its parts.
func (c *wsClient) sendMessage(t testing.TB, msg map[string]any) {
	t.Helper()
	b, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	c.sendText(t, string(b))
}

// sendModify sends a modify of thingID's path with cid and headers, and
// does not wait.
func (c *wsClient) sendModify(t testing.TB, thingID, path, value, cid string, headers map[string]any) {
	t.Helper()
	h := map[string]any{"correlation-id": cid}
	for k, v := range headers {
		h[k] = v
	}
	c.sendMessage(t, map[string]any{"topic": topicOf(thingID, "modify"), "headers": h, "path": path, "value": json.RawMessage(value)})
}

// sendAck issues the acknowledgement of label for cid on thingID.
func (c *wsClient) sendAck(t testing.TB, thingID, label, cid string, status int, value string) {
	t.Helper()
	ns, name, _ := strings.Cut(thingID, ":")
	msg := map[string]any{"topic": ns + "/" + name + "/things/twin/acks/" + label,
		"headers": map[string]any{"correlation-id": cid}, "path": "/", "status": status}
	if value != "" {
		msg["value"] = json.RawMessage(value)
	}
	c.sendMessage(t, msg)
}

// answerTo waits for the message with correlation-id cid and a status,
// skipping others.
func (c *wsClient) answerTo(t testing.TB, cid string) envelope {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case f := <-c.frames:
			if f.err != nil {
				t.Fatalf("waiting for the answer to %s: %v", cid, f.err)
			}
			if !strings.HasPrefix(f.text, "{") {
				continue
			}
			if e := decodeEnvelope(t, f.text); e.Headers["correlation-id"] == cid && e.Status != 0 {
				return e
			}
		case <-deadline:
			t.Fatalf("no answer to %s within %v", cid, waitTimeout)
		}
	}
}

// nothingFor fails if a message with correlation-id cid arrives within d.
func (c *wsClient) nothingFor(t testing.TB, cid string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if f.err == nil && strings.Contains(f.text, `"`+cid+`"`) {
				t.Fatalf("unexpected answer to %s: %s", cid, f.text)
			}
		case <-deadline:
			return
		}
	}
}

// ackEntries decodes aggregated acknowledgements (the WebSocket value or the
// HTTP body).
func ackEntries(t testing.TB, body []byte) map[string]struct {
	Status  int             `json:"status"`
	Payload json.RawMessage `json:"payload"`
	Headers map[string]any  `json:"headers"`
} {
	t.Helper()
	var m map[string]struct {
		Status  int             `json:"status"`
		Payload json.RawMessage `json:"payload"`
		Headers map[string]any  `json:"headers"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not aggregated acknowledgements: %s", body)
	}
	return m
}

// asyncDo runs an HTTP request in the background.
func (g *gatewayUnderTest) asyncDo(t *testing.T, method, path, body string, headers map[string]string) <-chan httpResult {
	done := make(chan httpResult, 1)
	go func() {
		done <- g.do(t, method, path, body, headers)
	}()
	return done
}

func waitHTTP(t *testing.T, ch <-chan httpResult) httpResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitTimeout):
		t.Fatalf("no HTTP answer within %v", waitTimeout)
	}
	return httpResult{}
}

const ackThing = "org.acks:lamp"

// TestAckFromSecondSessionAggregatedWithTwinPersisted: the device session
// that declared the label gets the event naming it, acknowledges it, and the
// app gets both acknowledgements, 200, over WebSocket and over HTTP.
func TestAckFromSecondSessionAggregatedWithTwinPersisted(t *testing.T) {
	g := startGateway(t, "", nil)
	if r := g.do(t, http.MethodPut, thingPath(ackThing, "/"), `{"attributes":{"on":false}}`, nil); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	device := g.dialDeclaring(t, testUser, "e2e:device")
	device.startEvents(t, "")
	observer := g.dial(t)
	observer.startEvents(t, "")

	// WebSocket.
	app := g.dial(t)
	app.sendModify(t, ackThing, "/attributes/on", `true`, "ws-1",
		map[string]any{"requested-acks": []string{"twin-persisted", "e2e:device"}})
	ev := device.eventFor(t, ackThing, 2)
	if got := fmt.Sprint(ev.Headers["requested-acks"]); got != "[e2e:device]" {
		t.Errorf("device's event requested-acks %s", got)
	}
	if got := fmt.Sprint(observer.eventFor(t, ackThing, 2).Headers["requested-acks"]); got != "[]" {
		t.Errorf("observer's event requested-acks %s", got)
	}
	device.sendAck(t, ackThing, "e2e:device", "ws-1", 200, `{"seen":true}`)
	answer := app.answerTo(t, "ws-1")
	if answer.Topic != "org.acks/lamp/things/twin/acks" || answer.Status != 200 || answer.Path != "/" {
		t.Fatalf("answer %s", answer.Raw)
	}
	entries := ackEntries(t, answer.Value)
	if len(entries) != 2 || entries["twin-persisted"].Status != 204 ||
		entries["e2e:device"].Status != 200 || string(entries["e2e:device"].Payload) != `{"seen":true}` {
		t.Errorf("entries %s", answer.Value)
	}

	// HTTP.
	pending := g.asyncDo(t, http.MethodPut, thingPath(ackThing, "/attributes/on"), `false`,
		map[string]string{"requested-acks": "twin-persisted,e2e:device", "correlation-id": "http-1"})
	device.eventFor(t, ackThing, 3)
	device.sendAck(t, ackThing, "e2e:device", "http-1", 202, "")
	r := waitHTTP(t, pending)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("HTTP: %d %s", r.status, r.body)
	}
	entries = ackEntries(t, r.body)
	if len(entries) != 2 || entries["twin-persisted"].Status != 204 || entries["e2e:device"].Status != 202 {
		t.Errorf("HTTP entries %s", r.body)
	}
	if entries["e2e:device"].Headers["correlation-id"] != "http-1" {
		t.Errorf("HTTP entry headers %v", entries["e2e:device"].Headers)
	}
	// The change is durable and the thing shows it.
	jsonEqual(t, "thing", g.do(t, http.MethodGet, thingPath(ackThing, "/attributes"), "", nil).body, `{"on":false}`)
}

// TestMissingAckGives424: a declared label that is not acknowledged gets a
// 408 entry at the timeout and the whole answer is 424, on both doors.
func TestMissingAckGives424(t *testing.T) {
	g := startGateway(t, "", nil)
	if r := g.do(t, http.MethodPut, thingPath(ackThing, "/"), `{}`, nil); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	device := g.dialDeclaring(t, testUser, "e2e:silent")
	device.startEvents(t, "")

	app := g.dial(t)
	app.sendModify(t, ackThing, "/attributes/a", `1`, "ws-424",
		map[string]any{"requested-acks": []string{"twin-persisted", "e2e:silent"}, "timeout": "1s"})
	answer := app.answerTo(t, "ws-424")
	if answer.Status != 424 {
		t.Fatalf("answer %s", answer.Raw)
	}
	entries := ackEntries(t, answer.Value)
	if entries["twin-persisted"].Status != 201 || entries["e2e:silent"].Status != 408 {
		t.Errorf("entries %s", answer.Value)
	}
	jsonEqual(t, "timeout entry", entries["e2e:silent"].Payload, `{"status":408,"error":"acknowledgement:request.timeout",
		"message":"The acknowledgement request reached the specified timeout of 1,000ms.",
		"description":"Try increasing the timeout and make sure that the requested acknowledgement is sent back in time."}`)

	r := g.do(t, http.MethodPut, thingPath(ackThing, "/attributes/a"), `2`,
		map[string]string{"requested-acks": `["twin-persisted","e2e:silent"]`, "timeout": "1s"})
	if r.status != 424 {
		t.Fatalf("HTTP: %d %s", r.status, r.body)
	}
	entries = ackEntries(t, r.body)
	if entries["twin-persisted"].Status != 204 || entries["e2e:silent"].Status != 408 {
		t.Errorf("HTTP entries %s", r.body)
	}
	// The write itself went through.
	jsonEqual(t, "attribute", g.do(t, http.MethodGet, thingPath(ackThing, "/attributes/a"), "", nil).body, `2`)
}

// TestAckHeaderCombinations: the defaults table of SPEC.md §6 on both doors.
func TestAckHeaderCombinations(t *testing.T) {
	g := startGateway(t, "", nil)
	if r := g.do(t, http.MethodPut, thingPath(ackThing, "/"), `{}`, nil); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	device := g.dialDeclaring(t, testUser, "e2e:table")
	device.startEvents(t, "")
	path := thingPath(ackThing, "/attributes/n")

	// HTTP.
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		code    string
	}{
		{"r-r false, no acks: 202", map[string]string{"response-required": "false"}, 202, ""},
		{"timeout 0 alone: 202", map[string]string{"timeout": "0"}, 202, ""},
		{"r-r true, timeout 0: 400", map[string]string{"response-required": "true", "timeout": "0"}, 400, "header.invalid"},
		{"acks, timeout 0: 400", map[string]string{"requested-acks": "e2e:table", "timeout": "0"}, 400, "header.invalid"},
		{"r-r false, acks, timeout 0: 400", map[string]string{"response-required": "false", "requested-acks": "e2e:table", "timeout": "0"}, 400, "header.invalid"},
		{"empty acks: the response", map[string]string{"requested-acks": "[]"}, 204, ""},
		{"twin-persisted: the response", map[string]string{"requested-acks": "twin-persisted"}, 204, ""},
	} {
		r := g.do(t, http.MethodPut, path, `1`, tc.headers)
		if r.status != tc.status {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
		if tc.code != "" {
			jsonField(t, r.body, "error", tc.code)
		} else {
			device.nextEvent(t)
		}
	}
	// r-r false with acks: 202 once they are in.
	pending := g.asyncDo(t, http.MethodPut, path, `2`,
		map[string]string{"response-required": "false", "requested-acks": "e2e:table", "correlation-id": "rr-false"})
	device.nextEvent(t)
	device.sendAck(t, ackThing, "e2e:table", "rr-false", 200, "")
	if r := waitHTTP(t, pending); r.status != 202 || len(r.body) != 0 {
		t.Errorf("r-r false with acks: %d %s", r.status, r.body)
	}
	// A single custom label: its own status and payload.
	pending = g.asyncDo(t, http.MethodPut, path, `3`,
		map[string]string{"requested-acks": "e2e:table", "correlation-id": "single"})
	device.nextEvent(t)
	device.sendAck(t, ackThing, "e2e:table", "single", 409, `{"why":"busy"}`)
	if r := waitHTTP(t, pending); r.status != 409 || string(r.body) != `{"why":"busy"}` {
		t.Errorf("single ack: %d %s", r.status, r.body)
	}

	// WebSocket.
	app := g.dial(t)
	for _, tc := range []struct {
		name    string
		headers map[string]any
		code    string // "": no answer
	}{
		{"r-r false, no acks", map[string]any{"response-required": false}, ""},
		{"timeout 0 alone", map[string]any{"timeout": "0"}, ""},
		{"r-r false, acks", map[string]any{"response-required": false, "requested-acks": []string{"e2e:table"}}, "header.invalid"},
		{"r-r false, acks, timeout 0", map[string]any{"response-required": false, "requested-acks": []string{"e2e:table"}, "timeout": "0"}, "header.invalid"},
		{"r-r true, timeout 0", map[string]any{"response-required": true, "timeout": "0"}, "header.invalid"},
		{"acks, timeout 0", map[string]any{"requested-acks": []string{"e2e:table"}, "timeout": "0"}, "header.invalid"},
	} {
		cid := "ws-" + strings.ReplaceAll(tc.name, " ", "-")
		app.sendModify(t, ackThing, "/attributes/n", `4`, cid, tc.headers)
		if tc.code == "" {
			device.nextEvent(t)
			app.nothingFor(t, cid, 200*time.Millisecond)
			continue
		}
		answer := app.answerTo(t, cid)
		if answer.Status != 400 || answer.errorCode() != tc.code {
			t.Errorf("%s: %s", tc.name, answer.Raw)
		}
	}
	// Empty acks and twin-persisted alone: the response itself.
	for i, acks := range [][]string{{}, {"twin-persisted"}} {
		cid := fmt.Sprintf("plain-%d", i)
		app.sendModify(t, ackThing, "/attributes/n", `5`, cid, map[string]any{"requested-acks": acks})
		if answer := app.answerTo(t, cid); answer.Topic != topicOf(ackThing, "modify") || answer.Status != 204 {
			t.Errorf("%v: %s", acks, answer.Raw)
		}
	}
}

// TestWeakAckForFilteringSubscriber: a declaring session whose filter drops
// the event, or that may not read it, does not hold the request up: the
// gateway issues a weak acknowledgement (200, ditto-weak-ack) for it.
func TestWeakAckForFilteringSubscriber(t *testing.T) {
	g := startPolicyGateway(t)
	if r := g.do(t, http.MethodPut, thingPath(ackThing, "/"), `{"attributes":{"n":0}}`, nil); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	filtering := g.dialDeclaring(t, testUser, "e2e:filtering")
	filtering.startEvents(t, "filter="+url.QueryEscape(`eq(attributes/n,-1)`))
	stranger := g.dialDeclaring(t, carol, "e2e:stranger") // no READ on the thing
	stranger.startEvents(t, "")

	r := g.do(t, http.MethodPut, thingPath(ackThing, "/attributes/n"), `1`,
		map[string]string{"requested-acks": "twin-persisted,e2e:filtering,e2e:stranger", "timeout": "5s"})
	if r.status != 200 {
		t.Fatalf("HTTP: %d %s", r.status, r.body)
	}
	entries := ackEntries(t, r.body)
	for label, reason := range map[string]string{
		"e2e:filtering": "the signal was dropped by a configured RQL filter",
		"e2e:stranger":  "the subscriber was not authorized",
	} {
		e := entries[label]
		var payload string
		_ = json.Unmarshal(e.Payload, &payload)
		if e.Status != 200 || e.Headers["ditto-weak-ack"] != true || !strings.Contains(payload, reason) {
			t.Errorf("%s: %d %v %s", label, e.Status, e.Headers, e.Payload)
		}
	}
	// Neither got the event.
	filtering.noFrameWithin(t, 100*time.Millisecond)
	stranger.noFrameWithin(t, 100*time.Millisecond)
}

// TestDeclaredLabelNotUnique: a second session declaring a taken label gets
// acknowledgement:label.not.unique and is closed; an invalid label refuses
// the upgrade.
func TestDeclaredLabelNotUnique(t *testing.T) {
	g := startGateway(t, "", nil)
	first := g.dialDeclaring(t, testUser, `["e2e:unique"]`)
	first.startEvents(t, "")

	second := g.dialDeclaring(t, testUser, "e2e:other,e2e:unique")
	e := decodeEnvelope(t, second.next(t))
	if e.Status != 409 || e.errorCode() != "acknowledgement:label.not.unique" {
		t.Fatalf("second session got %s", e.Raw)
	}
	select {
	case f := <-second.frames:
		var ce *websocket.CloseError
		if !errors.As(f.err, &ce) {
			t.Fatalf("after the error: %q %v, want the close", f.text, f.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the second session stayed open")
	}

	if conn, resp := g.dialQuery(t, testUser, "?declared-acks=x"); conn != nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("invalid label: %v", resp)
	}
	// The first session is unaffected.
	if r := g.do(t, http.MethodPut, thingPath(ackThing, "/"), `{}`, nil); r.status != 201 {
		t.Fatalf("create: %d", r.status)
	}
	first.eventFor(t, ackThing, 1)
}

// TestUndeclaredLabelIssued: an acknowledgement with a label the session did
// not declare is refused with acknowledgement:label.not.declared; the session
// stays open.
func TestUndeclaredLabelIssued(t *testing.T) {
	g := startGateway(t, "", nil)
	c := g.dialDeclaring(t, testUser, "e2e:mine")
	c.sendAck(t, ackThing, "e2e:not-mine", "cid-x", 200, "")
	e := c.answerTo(t, "cid-x")
	if e.Status != 400 || e.errorCode() != "acknowledgement:label.not.declared" || e.Topic != "org.acks/lamp/things/twin/errors" {
		t.Fatalf("got %s", e.Raw)
	}
	if r := c.command(t, topicOf(ackThing, "retrieve"), "/", "", nil); r.Status != 404 {
		t.Fatalf("after the refusal: %s", r.Raw)
	}
}

package e2e

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// sseClient is a Server-Sent Events stream read with plain net/http: a
// goroutine sends each event to events (a heartbeat has neither data nor
// type) and closes it at the end of the stream.
type sseClient struct {
	resp   *http.Response
	events chan sseEvent
}

// sseEvent is one event: its data lines joined with "\n", and its event:
// type ("" without).
type sseEvent struct {
	data, event string
}

func (e sseEvent) heartbeat() bool { return e.data == "" && e.event == "" }

// openSSE sends GET path with Accept: text/event-stream as user and fails
// the test unless a 200 event stream starts.
func (g *gatewayUnderTest) openSSE(t *testing.T, user, path string) *sseClient {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.baseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, testPassword)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := &sseClient{resp: resp, events: make(chan sseEvent, 256)}
	go func() {
		defer close(c.events)
		br := bufio.NewReader(resp.Body)
		var data []string
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" { // the end of an event
				ev.data = strings.Join(data, "\n")
				c.events <- ev
				data, ev = data[:0], sseEvent{}
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			switch field {
			case "data":
				data = append(data, value)
			case "event":
				ev.event = value
			default:
				data = append(data, "unexpected line "+line)
			}
		}
	}()
	return c
}

// next returns the data of the next event that is not a heartbeat.
func (c *sseClient) next(t *testing.T) string {
	t.Helper()
	return c.nextEvent(t).data
}

// nextEvent returns the next event that is not a heartbeat.
func (c *sseClient) nextEvent(t *testing.T) sseEvent {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if !e.heartbeat() {
				return e
			}
		case <-deadline:
			t.Fatalf("no event within %v", waitTimeout)
		}
	}
}

// heartbeatsOnly fails if anything but heartbeats arrives within d; it
// reports whether a heartbeat came.
func (c *sseClient) heartbeatsOnly(t *testing.T, d time.Duration) bool {
	t.Helper()
	heartbeat := false
	timeout := time.After(d)
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if !e.heartbeat() {
				t.Fatalf("unexpected event %+v", e)
			}
			heartbeat = true
		case <-timeout:
			return heartbeat
		}
	}
}

// TestSSEReceivesChangesMadeOverHTTP: a stream of /api/2/things gets every
// change as Ditto's SSE data: the changed part as a thing, shaped by fields
// and extraFields; heartbeats fill the silences.
func TestSSEReceivesChangesMadeOverHTTP(t *testing.T) {
	g := startGateway(t, "", nil)
	const id = "org.example:sse"
	if r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"attributes":{"location":"hall","counter":1}}`, nil); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	all := g.openSSE(t, testUser, "/api/2/things")
	selected := g.openSSE(t, testUser, "/api/2/things?ids="+id+"&fields=thingId,_revision,attributes/location&extraFields=attributes/location"+
		"&filter="+url.QueryEscape(`eq(attributes/location,"kitchen")`))
	other := g.openSSE(t, testUser, "/api/2/things?namespaces=org.other")

	if r := g.do(t, http.MethodPut, thingPath(id, "/attributes/counter"), `2`, nil); r.status != 204 {
		t.Fatalf("PUT counter: %d %s", r.status, r.body)
	}
	jsonEqual(t, "counter change", []byte(all.next(t)), `{"thingId":"org.example:sse","attributes":{"counter":2}}`)
	if r := g.do(t, http.MethodPut, thingPath(id, "/attributes/location"), `"kitchen"`, nil); r.status != 204 {
		t.Fatalf("PUT location: %d %s", r.status, r.body)
	}
	jsonEqual(t, "location change", []byte(all.next(t)), `{"thingId":"org.example:sse","attributes":{"location":"kitchen"}}`)
	// The filtered stream skipped the counter change (the extra location was
	// still "hall") and selects its fields from the location change.
	jsonEqual(t, "selected", []byte(selected.next(t)), `{"thingId":"org.example:sse","_revision":3,"attributes":{"location":"kitchen"}}`)

	r := g.do(t, http.MethodPatch, thingPath(id, "/attributes"), `{"counter":null,"size":3}`,
		map[string]string{"Content-Type": "application/merge-patch+json"})
	if r.status != 204 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	jsonEqual(t, "merge", []byte(all.next(t)), `{"thingId":"org.example:sse","attributes":{"size":3}}`)
	if r := g.do(t, http.MethodDelete, thingPath(id, "/attributes/size"), "", nil); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	jsonEqual(t, "deletion", []byte(all.next(t)), `{"thingId":"org.example:sse"}`)
	// The extra location is merged into each change before the selection.
	jsonEqual(t, "selected merge", []byte(selected.next(t)), `{"thingId":"org.example:sse","_revision":4,"attributes":{"location":"kitchen"}}`)
	if !other.heartbeatsOnly(t, 1500*time.Millisecond) {
		t.Error("no heartbeat within 1.5s")
	}

	// Without the Accept header the route is the retrieve it always was.
	r = g.do(t, http.MethodGet, "/api/2/things?ids="+id+"&fields=thingId", "", nil)
	if r.status != 200 {
		t.Fatalf("retrieve: %d %s", r.status, r.body)
	}
	jsonEqual(t, "retrieve", r.body, `[{"thingId":"org.example:sse"}]`)
}

// TestSSEPrunedByPolicy: streams are pruned like WebSocket events: alice
// (READ but the secret) gets the change without the secret, bob (READ on
// the features) gets only feature changes, carol (no READ) only heartbeats.
func TestSSEPrunedByPolicy(t *testing.T) {
	g := startPolicyGateway(t)
	const id = "org.example:shared-sse"
	r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"_policy":`+sharedThingPolicy+`,
		"attributes": {"public": 1, "secret": 2}, "features": {"lamp": {"properties": {"on": false}}}}`, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	streams := map[string]*sseClient{}
	for _, u := range []string{alice, bob, carol} {
		streams[u] = g.openSSE(t, u, "/api/2/things?extraFields=attributes")
	}
	carolsThing := g.openSSE(t, carol, thingPath(id, "/"))

	if r := g.do(t, http.MethodPut, thingPath(id, "/attributes"), `{"public": 10, "secret": 20}`, nil); r.status != 204 {
		t.Fatalf("PUT attributes: %d %s", r.status, r.body)
	}
	jsonEqual(t, "alice's attributes change", []byte(streams[alice].next(t)), `{"thingId":"org.example:shared-sse","attributes":{"public":10}}`)
	if r := g.do(t, http.MethodPut, thingPath(id, "/features/lamp/properties/on"), `true`, nil); r.status != 204 {
		t.Fatalf("PUT property: %d %s", r.status, r.body)
	}
	jsonEqual(t, "alice's property change", []byte(streams[alice].next(t)),
		`{"thingId":"org.example:shared-sse","attributes":{"public":10},"features":{"lamp":{"properties":{"on":true}}}}`)
	// bob's first event: the attributes change was not his, and the extra
	// attributes are pruned away.
	jsonEqual(t, "bob's property change", []byte(streams[bob].next(t)),
		`{"thingId":"org.example:shared-sse","features":{"lamp":{"properties":{"on":true}}}}`)
	for _, c := range []*sseClient{streams[carol], carolsThing} {
		if !c.heartbeatsOnly(t, 1500*time.Millisecond) {
			t.Error("carol: no heartbeat within 1.5s")
		}
	}
}

// TestSSEPerThingAndSubPath: /api/2/things/{id} streams that thing's
// changes; /api/2/things/{id}/<path> streams the value at the path in each
// change that has one.
func TestSSEPerThingAndSubPath(t *testing.T) {
	g := startGateway(t, "", nil)
	const id, otherID = "org.example:one", "org.example:two"
	for _, thing := range []string{id, otherID} {
		if r := g.do(t, http.MethodPut, thingPath(thing, "/"), `{"attributes":{"location":"hall"},"features":{"lamp":{"properties":{"on":false}}}}`, nil); r.status != 201 {
			t.Fatalf("create %s: %d %s", thing, r.status, r.body)
		}
	}
	thing := g.openSSE(t, testUser, thingPath(id, "/")+"?fields=thingId,attributes")
	location := g.openSSE(t, testUser, thingPath(id, "/attributes/location"))
	lamp := g.openSSE(t, testUser, thingPath(id, "/features/lamp/properties/on")+"?fields=thingId") // the path replaces fields

	put := func(thingID, path, value string) {
		t.Helper()
		if r := g.do(t, http.MethodPut, thingPath(thingID, path), value, nil); r.status != 204 {
			t.Fatalf("PUT %s %s: %d %s", thingID, path, r.status, r.body)
		}
	}
	put(otherID, "/attributes/location", `"attic"`) // not this thing
	put(id, "/features/lamp/properties/on", `true`)
	if got := lamp.next(t); got != `true` {
		t.Errorf("lamp: %s", got)
	}
	jsonEqual(t, "the thing's feature change", []byte(thing.next(t)), `{"thingId":"org.example:one"}`)
	put(id, "/attributes/location", `"kitchen"`)
	if got := location.next(t); got != `"kitchen"` {
		t.Errorf("location: %s", got)
	}
	put(id, "/attributes", `{"location":{"room":"cellar"},"size":3}`)
	if got := location.next(t); got != `{"room":"cellar"}` {
		t.Errorf("location below a change: %s", got)
	}
	jsonEqual(t, "the thing's location change", []byte(thing.next(t)), `{"thingId":"org.example:one","attributes":{"location":"kitchen"}}`)
	jsonEqual(t, "the thing's attributes change", []byte(thing.next(t)),
		`{"thingId":"org.example:one","attributes":{"location":{"room":"cellar"},"size":3}}`)
	// The location stream skipped the feature change: its next event is
	// the next location.
	put(id, "/features/lamp/properties/on", `false`)
	put(id, "/attributes/location", `"roof"`)
	if got := location.next(t); got != `"roof"` {
		t.Errorf("location after a feature change: %s", got)
	}
}

// TestSSERequestErrors: invalid parameters are answered with Ditto's error
// JSON before any stream starts.
func TestSSERequestErrors(t *testing.T) {
	g := startGateway(t, "", nil)
	accept := map[string]string{"Accept": "text/event-stream"}
	for _, tc := range []struct {
		path, code string
		status     int
	}{
		{"/api/2/things?filter=" + url.QueryEscape("eq(attributes/a"), "rql.expression.invalid", 400},
		{"/api/2/things?fields=colour", "things:field.selection.invalid", 400},
		{"/api/2/things?extraFields=colour", "things:field.selection.invalid", 400},
		{"/api/2/things?ids=no-namespace", "things:id.invalid", 400},
		{"/api/2/things/no-namespace", "things:id.invalid", 400},
		{"/api/2/things/org.example:x/colour", "things:field.selection.invalid", 400},
		{"/api/2/things/org.example:x?from-historical-revision=1", "header.notsupported", 400},
		{"/api/2/things/no-namespace/inbox/messages", "things:id.invalid", 400},
	} {
		r := g.do(t, http.MethodGet, tc.path, "", accept)
		if r.status != tc.status || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %s", tc.path, r.status, r.header.Get("Content-Type"), r.body)
			continue
		}
		jsonField(t, r.body, "error", tc.code)
	}
	req, _ := http.NewRequest(http.MethodGet, g.baseURL+"/api/2/things", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", resp.StatusCode)
	}
}

// expectMessage fails unless the next event of c is a message with subject
// and data.
func (c *sseClient) expectMessage(t *testing.T, what, subject, data string) {
	t.Helper()
	if e := c.nextEvent(t); e.event != subject || e.data != data {
		t.Fatalf("%s: got event %q data %q, want %q %q", what, e.event, e.data, subject, data)
	}
}

// TestSSEReceivesMessages: a stream of /api/2/things/{id}/inbox/messages
// gets the thing's inbox messages, sent over HTTP (timeout=0) or the
// WebSocket, as events whose type is the subject and whose data is the
// payload; a subject route only its subject, a feature's route none of the
// thing's; a user without READ on the message resource gets none, like a
// stranger.
func TestSSEReceivesMessages(t *testing.T) {
	g := startPolicyGateway(t)
	const id = "org.example:mailbox"
	policy := `{"entries": {
		"owner": {"subjects": {"nginx:ditto": {"type": "user"}},
			"resources": {"thing:/": {"grant": ["READ", "WRITE"], "revoke": []}, "policy:/": {"grant": ["READ", "WRITE"], "revoke": []},
				"message:/": {"grant": ["READ", "WRITE"], "revoke": []}}},
		"alice": {"subjects": {"nginx:alice": {"type": "user"}},
			"resources": {"thing:/": {"grant": ["READ"], "revoke": []}, "message:/inbox": {"grant": ["READ"], "revoke": []}}},
		"bob": {"subjects": {"nginx:bob": {"type": "user"}},
			"resources": {"thing:/": {"grant": ["READ"], "revoke": []}, "message:/features": {"grant": ["READ"], "revoke": []}}}
	}}`
	if r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"_policy":`+policy+`,"features":{"lamp":{}}}`, nil); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	inbox := thingPath(id, "/inbox/messages")
	owners := g.openSSE(t, testUser, inbox)
	alices := g.openSSE(t, alice, inbox)
	bobs := g.openSSE(t, bob, inbox) // reads the thing, not its inbox
	carols := g.openSSE(t, carol, inbox)
	// The history parameters, fields and filter are not read here, as in Ditto.
	asks := g.openSSE(t, testUser, thingPath(id, "/inbox/messages/ask")+"?from-historical-revision=1&fields=colour")
	lamps := g.openSSE(t, testUser, thingPath(id, "/features/lamp/inbox/messages"))

	r := g.do(t, http.MethodPost, thingPath(id, "/inbox/messages/ask")+"?timeout=0", "Hey?", map[string]string{"Content-Type": "text/plain"})
	if r.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	for name, c := range map[string]*sseClient{"owner": owners, "alice": alices, "ask": asks} {
		c.expectMessage(t, name+" over HTTP", "ask", "Hey?")
	}

	ws := g.dial(t)
	ws.sendLive(t, "org.example/mailbox/things/live/messages/hello", "/inbox/messages/hello",
		map[string]any{"correlation-id": "ws-1", "response-required": false, "content-type": "application/json"}, `{"a": [1, "two"]}`, 0)
	for name, c := range map[string]*sseClient{"owner": owners, "alice": alices} {
		c.expectMessage(t, name+" over the WebSocket", "hello", `{"a":[1,"two"]}`)
	}

	r = g.do(t, http.MethodPost, thingPath(id, "/inbox/messages/ask")+"?timeout=0", `{"last":true}`, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	// The subject route skipped hello.
	asks.expectMessage(t, "ask's second", "ask", `{"last":true}`)
	owners.expectMessage(t, "owner's third", "ask", `{"last":true}`)
	if !bobs.heartbeatsOnly(t, 1500*time.Millisecond) {
		t.Error("bob: no heartbeat within 1.5s")
	}
	for name, c := range map[string]*sseClient{"carol": carols, "lamp": lamps} {
		select {
		case e := <-c.events:
			if !e.heartbeat() {
				t.Errorf("%s got %+v", name, e)
			}
		default:
		}
	}
}

// TestSSEReceivesChangeAndMessage: one thing's stream of changes gets a
// change and its stream of messages a message, each only its own.
func TestSSEReceivesChangeAndMessage(t *testing.T) {
	g := startGateway(t, "", nil)
	const id = "org.example:both"
	if r := g.do(t, http.MethodPut, thingPath(id, "/"), `{"attributes":{"on":false}}`, nil); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	changes := g.openSSE(t, testUser, thingPath(id, "/"))
	messages := g.openSSE(t, testUser, thingPath(id, "/inbox/messages"))

	if r := g.do(t, http.MethodPut, thingPath(id, "/attributes/on"), `true`, nil); r.status != http.StatusNoContent {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	r := g.do(t, http.MethodPost, thingPath(id, "/inbox/messages/switch")+"?timeout=0", "on", map[string]string{"Content-Type": "text/plain"})
	if r.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	// The message stream's first event is the message, not the change
	// made before it.
	messages.expectMessage(t, "message", "switch", "on")
	e := changes.nextEvent(t)
	if e.event != "" {
		t.Fatalf("change with event type %q", e.event)
	}
	jsonEqual(t, "change", []byte(e.data), `{"thingId":"org.example:both","attributes":{"on":true}}`)
	// ... and the change stream's next event is the next change, not the
	// message.
	if r := g.do(t, http.MethodPut, thingPath(id, "/attributes/on"), `false`, nil); r.status != http.StatusNoContent {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	jsonEqual(t, "second change", []byte(changes.next(t)), `{"thingId":"org.example:both","attributes":{"on":false}}`)
}

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
// goroutine sends each event's data to events ("" for a heartbeat) and
// closes it at the end of the stream.
type sseClient struct {
	resp   *http.Response
	events chan string
}

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
	c := &sseClient{resp: resp, events: make(chan string, 256)}
	go func() {
		defer close(c.events)
		br := bufio.NewReader(resp.Body)
		var data []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" { // the end of an event
				c.events <- strings.Join(data, "\n")
				data = data[:0]
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			if field != "data" {
				c.events <- "unexpected line " + line
				continue
			}
			data = append(data, value)
		}
	}()
	return c
}

// next returns the data of the next event that is not a heartbeat.
func (c *sseClient) next(t *testing.T) string {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case data, ok := <-c.events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if data != "" {
				return data
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
		case data, ok := <-c.events:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if data != "" {
				t.Fatalf("unexpected event %s", data)
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

package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// sseServer serves ServeSSE over HTTP for the tests: the query carries the
// SSERequest (ids, path, namespaces, filter, fields, extraFields), the
// caller's subjects (subjects=a,b; default nginx:ditto) and when its
// credentials expire (expiresIn=<duration from now>; default never). Every
// return of ServeSSE is reported on returned.
type sseServer struct {
	srv      *httptest.Server
	returned chan struct{}
}

func newSSEServer(t *testing.T, tg *testGateway) *sseServer {
	t.Helper()
	ss := &sseServer{returned: make(chan struct{}, 64)}
	ss.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		who := auth.Context{Subjects: []string{"nginx:" + testUser}}
		if s := q.Get("subjects"); s != "" {
			who.Subjects = strings.Split(s, ",")
		}
		if d, err := time.ParseDuration(q.Get("expiresIn")); err == nil {
			who.Expiry = time.Now().Add(d)
		}
		req := SSERequest{ThingIDs: q.Get("ids"), Path: q.Get("path"), Namespaces: q.Get("namespaces"),
			Filter: q.Get("filter"), Fields: q.Get("fields"), ExtraFields: q.Get("extraFields")}
		if err := tg.g.ServeSSE(w, r, who, req); err != nil {
			writeError(w, protocol.AsError(err))
		}
		ss.returned <- struct{}{}
	}))
	// The gateway's streams end before the server waits for its requests.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameWait)
		defer cancel()
		if err := tg.g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ss.srv.Close()
	})
	return ss
}

// sseClient reads one stream; a goroutine sends its events' data to events
// ("" for a heartbeat) and closes it at the end of the stream.
type sseClient struct {
	resp   *http.Response
	events chan string
}

// open starts a stream with the query; it fails the test unless the answer
// is a 200 stream.
func (ss *sseServer) open(t *testing.T, query string) *sseClient {
	t.Helper()
	resp, err := http.Get(ss.srv.URL + "/?" + query)
	if err != nil {
		t.Fatalf("GET ?%s: %v", query, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET ?%s: %d %s", query, resp.StatusCode, body)
	}
	c := &sseClient{resp: resp, events: make(chan string, 4096)}
	go c.read()
	return c
}

// read parses the stream: an event is its data lines, ended by a blank line.
func (c *sseClient) read() {
	defer close(c.events)
	br := bufio.NewReader(c.resp.Body)
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			c.events <- strings.Join(data, "\n")
			data = data[:0]
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(line, "data:"))
		default:
			c.events <- "unexpected line: " + line
		}
	}
}

// next returns the next event's data, skipping heartbeats.
func (c *sseClient) next(t *testing.T) string {
	t.Helper()
	deadline := time.After(frameWait)
	for {
		select {
		case data, ok := <-c.events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if data != "" {
				return data
			}
		case <-deadline:
			t.Fatal("no event")
		}
	}
}

// ended waits for the end of the stream and returns the events' data it
// read until then, heartbeats left out.
func (c *sseClient) ended(t *testing.T) []string {
	t.Helper()
	var got []string
	deadline := time.After(frameWait)
	for {
		select {
		case data, ok := <-c.events:
			if !ok {
				return got
			}
			if data != "" {
				got = append(got, data)
			}
		case <-deadline:
			t.Fatal("the stream did not end")
		}
	}
}

// openStreams counts the registered SSE streams.
func (g *Gateway) openStreams() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.streams)
}

// closingStreams counts the registered SSE streams whose close started.
func (g *Gateway) closingStreams() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for s := range g.streams {
		if s.reason.Load() != nil {
			n++
		}
	}
	return n
}

// thingEvent is an event of thing a:t with the action, path and value
// (“ for none), and the thing after it.
func thingEvent(rev int64, action, path, value string, thing map[string]any) twin.Event {
	ev := event("a", "t", rev, value)
	ev.Envelope.Topic = "a/t/things/twin/events/" + action
	ev.Envelope.Path = path
	if value == "" {
		ev.Envelope.Value = nil
	}
	ev.Modified = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev.Thing = thing
	return ev
}

var sseThingAfter = map[string]any{"thingId": "a:t", "policyId": "a:t", "_namespace": "a", "_revision": json.Number("9"),
	"_created": "2026-01-01T00:00:00Z", "_modified": "2026-01-02T03:04:05Z",
	"attributes": map[string]any{"x": json.Number("1"), "room": "kitchen"}, "features": map[string]any{"lamp": map[string]any{}}}

// TestSSEEventFormat: each change is one "data:" line holding the changed
// part as a thing (Ditto's ThingsSseRouteBuilder), shaped by fields,
// extraFields and the sub-path; changes a stream's selection leaves nothing
// of are not sent.
func TestSSEEventFormat(t *testing.T) {
	tg := newTestGateway(t, nil)
	ss := newSSEServer(t, tg)
	// The thing of the marker event of the cases whose stream does not show
	// a:t's changes.
	markers := map[string]string{"extra fields filtered": "a:hall", "other thing": "a:other", "other namespace": "c:t"}
	for _, tc := range []struct {
		name, query  string
		action, path string
		value        string
		want         string // "" when the change is not sent
	}{
		{"attribute", "", "modified", "/attributes/x", `1`, `{"attributes":{"x":1},"thingId":"a:t"}`},
		{"special fields selected", "fields=thingId,_revision,_modified,_namespace,attributes/x", "modified", "/attributes/x", `1`,
			`{"_modified":"2026-01-02T03:04:05Z","_namespace":"a","_revision":1,"attributes":{"x":1},"thingId":"a:t"}`},
		{"created thing", "fields=thingId,policyId,_created", "created", "/", `{"thingId":"a:t","policyId":"a:t","attributes":{"x":1}}`,
			`{"_created":"2026-01-01T00:00:00Z","policyId":"a:t","thingId":"a:t"}`},
		{"selection misses the change", "fields=features", "modified", "/attributes/x", `1`, ""},
		{"deleted", "", "deleted", "/attributes/x", ``, `{"thingId":"a:t"}`},
		{"merged without nulls", "", "merged", "/attributes", `{"x":null,"y":{"z":null,"w":2}}`, `{"attributes":{"y":{"w":2}},"thingId":"a:t"}`},
		{"merged null", "", "merged", "/attributes/x", `null`, `{"attributes":{"x":{}},"thingId":"a:t"}`},
		{"context", "fields=thingId,_context", "modified", "/attributes/x", `1`,
			`{"_context":{"headers":{"correlation-id":"ev-1"},"path":"/attributes/x","topic":"a/t/things/twin/events/modified","value":1},"thingId":"a:t"}`},
		{"context parts", "fields=thingId,_context/topic", "modified", "/attributes/x", `1`,
			`{"_context":{"topic":"a/t/things/twin/events/modified"},"thingId":"a:t"}`},
		{"extra fields", "extraFields=attributes/room,_policy", "modified", "/attributes/x", `1`,
			`{"attributes":{"room":"kitchen","x":1},"thingId":"a:t"}`},
		{"extra fields filtered", "extraFields=attributes/room&filter=" + url.QueryEscape(`eq(attributes/room,"hall")`), "modified", "/attributes/x", `1`, ""},
		{"filter on the change", "filter=" + url.QueryEscape(`eq(attributes/x,1)`), "modified", "/attributes/x", `1`, `{"attributes":{"x":1},"thingId":"a:t"}`},
		{"sub-path", "ids=a:t&path=/attributes/x", "modified", "/attributes/x", `{"deep":[1,2]}`, `{"deep":[1,2]}`},
		{"sub-path below the change", "ids=a:t&path=/attributes/x", "modified", "/attributes", `{"x":"v","y":2}`, `"v"`},
		{"sub-path beside the change", "ids=a:t&path=/attributes/x", "modified", "/attributes/y", `2`, ""},
		{"sub-path ignores fields", "ids=a:t&path=/attributes/x&fields=features", "modified", "/attributes/x", `3`, `3`},
		{"other thing", "ids=a:other", "modified", "/attributes/x", `1`, ""},
		{"other namespace", "namespaces=b,c", "modified", "/attributes/x", `1`, ""},
		{"namespace", "namespaces=b,a", "modified", "/attributes/x", `1`, `{"attributes":{"x":1},"thingId":"a:t"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ss.open(t, tc.query)
			tg.g.Publish(thingEvent(1, tc.action, tc.path, tc.value, sseThingAfter))
			// A marker the stream shows follows: what comes first tells.
			tg.g.Publish(markerEvent(markers[tc.name]))
			got := c.next(t)
			if tc.want == "" {
				if !strings.Contains(got, "marker") {
					t.Fatalf("got %s, want nothing before the marker", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// markerEvent is a change of thing id ("" for a:t) that every format of
// TestSSEEventFormat shows, with "marker" in it.
func markerEvent(id string) twin.Event {
	if id == "" {
		id = "a:t"
	}
	ns, name, _ := strings.Cut(id, ":")
	thing := map[string]any{"thingId": id, "attributes": map[string]any{"x": "marker", "room": "hall"}}
	ev := event(ns, name, 2, `{"thingId":"`+id+`","attributes":{"x":"marker","room":"hall"},"features":{"marker":{}}}`)
	ev.Envelope.Path = "/"
	ev.Thing = thing
	return ev
}

// TestSSEContextAlone: a selection of _context alone shows nothing, as in
// Ditto, which drops a change whose selected thing fields are empty before
// adding the _context.
func TestSSEContextAlone(t *testing.T) {
	tg := newTestGateway(t, nil)
	ss := newSSEServer(t, tg)
	c := ss.open(t, "fields=_context")
	tg.g.Publish(thingEvent(1, "modified", "/attributes/x", `1`, nil))
	select {
	case data := <-c.events:
		if data != "" {
			t.Fatalf("got %s, want the heartbeat first", data)
		}
	case <-time.After(frameWait):
		t.Fatal("no heartbeat")
	}
}

// TestSSEStreamHeadersAndHeartbeat: the response is a 200 text/event-stream,
// and an idle stream gets an empty event every second.
func TestSSEStreamHeadersAndHeartbeat(t *testing.T) {
	tg := newTestGateway(t, nil)
	ss := newSSEServer(t, tg)
	c := ss.open(t, "")
	if ct := c.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if !c.resp.Close {
		t.Error("the connection is kept for reuse, want Connection: close")
	}
	start := time.Now()
	select {
	case data := <-c.events:
		if data != "" {
			t.Fatalf("got %q, want a heartbeat", data)
		}
	case <-time.After(frameWait):
		t.Fatal("no heartbeat")
	}
	if waited := time.Since(start); waited < sseHeartbeat/2 {
		t.Errorf("heartbeat after %v, want about %v", waited, sseHeartbeat)
	}
	tg.g.Publish(thingEvent(1, "modified", "/attributes/x", `1`, nil))
	if got := c.next(t); got != `{"attributes":{"x":1},"thingId":"a:t"}` {
		t.Errorf("event %s", got)
	}
	if n := metricValue(t, tg.metrics.SessionsOpen.WithLabelValues("sse")); n != 1 {
		t.Errorf("open sse streams %v, want 1", n)
	}
}

// TestSSEInvalidRequests: invalid parameters are Ditto errors, answered
// before any stream starts.
func TestSSEInvalidRequests(t *testing.T) {
	tg := newTestGateway(t, nil)
	ss := newSSEServer(t, tg)
	for _, tc := range []struct{ query, code string }{
		{"ids=a:t,no-namespace", protocol.CodeThingIDInvalid},
		{"fields=colour", protocol.CodeFieldSelectionInvalid},
		{"fields=thingId/x", protocol.CodeFieldSelectionInvalid},
		{"fields=attributes(", protocol.CodeFieldSelectorInv},
		{"extraFields=colour", protocol.CodeFieldSelectionInvalid},
		{"filter=" + url.QueryEscape("eq(attributes/a,"), protocol.CodeRQLInvalid},
		{"ids=a:t&path=/colour", protocol.CodeFieldSelectionInvalid},
		{"ids=a:t&path=/inbox/messages/hello", protocol.CodeSignalUnsupported}, // no live channel here
	} {
		resp, err := http.Get(ss.srv.URL + "/?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e protocol.Error
		if err := json.Unmarshal(body, &e); err != nil || e.Code != tc.code || resp.StatusCode != e.Status || e.Status != 400 {
			t.Errorf("%s: %d %s, want 400 %s", tc.query, resp.StatusCode, body, tc.code)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.query, ct)
		}
	}
	if n := tg.g.openStreams(); n != 0 {
		t.Errorf("%d streams registered", n)
	}
}

// ssePolicy gives nginx:all READ on the thing, nginx:part READ on the thing
// but attributes/secret, nginx:lamps READ on the features only; nginx:none
// nothing.
func ssePolicy(t *testing.T) *policy.Enforcer {
	t.Helper()
	p, err := policy.Parse("a:p", []byte(`{"entries":{
		"all":{"subjects":{"nginx:all":{"type":"t"}},"resources":{"thing:/":{"grant":["READ"],"revoke":[]}}},
		"part":{"subjects":{"nginx:part":{"type":"t"}},"resources":{"thing:/":{"grant":["READ"],"revoke":[]},
			"thing:/attributes/secret":{"grant":[],"revoke":["READ"]}}},
		"lamps":{"subjects":{"nginx:lamps":{"type":"t"}},"resources":{"thing:/features":{"grant":["READ"],"revoke":[]}}},
		"admin":{"subjects":{"nginx:none":{"type":"t"}},"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return policy.Compile(p, time.Now())
}

// TestSSEPrunedByPolicy: streams get exactly what WebSocket sessions of the
// same subjects get: the change pruned to what they may read (extras too),
// nothing when they may read none of it.
func TestSSEPrunedByPolicy(t *testing.T) {
	tg := newTestGateway(t, nil)
	ss := newSSEServer(t, tg)
	streams := map[string]*sseClient{}
	for _, who := range []string{"all", "part", "lamps", "none"} {
		streams[who] = ss.open(t, "subjects=nginx:"+who+"&extraFields=attributes")
	}
	enf := ssePolicy(t)
	publish := func(rev int64, path, value string) {
		ev := thingEvent(rev, "modified", path, value, map[string]any{"thingId": "a:t",
			"attributes": map[string]any{"public": json.Number("1"), "secret": json.Number("2")},
			"features":   map[string]any{"lamp": map[string]any{"properties": map[string]any{"on": true}}}})
		ev.Unenforced, ev.Policy = false, enf
		tg.g.Publish(ev)
	}
	publish(1, "/", `{"thingId":"a:t","policyId":"a:p","attributes":{"public":1,"secret":2},"features":{"lamp":{"properties":{"on":true}}}}`)
	publish(2, "/features/lamp/properties/on", `false`)

	for who, want := range map[string][]string{
		"all": {`{"attributes":{"public":1,"secret":2},"features":{"lamp":{"properties":{"on":true}}},"policyId":"a:p","thingId":"a:t"}`,
			`{"attributes":{"public":1,"secret":2},"features":{"lamp":{"properties":{"on":false}}},"thingId":"a:t"}`},
		"part": {`{"attributes":{"public":1},"features":{"lamp":{"properties":{"on":true}}},"policyId":"a:p","thingId":"a:t"}`,
			`{"attributes":{"public":1},"features":{"lamp":{"properties":{"on":false}}},"thingId":"a:t"}`},
		"lamps": {`{"features":{"lamp":{"properties":{"on":true}}},"thingId":"a:t"}`,
			`{"features":{"lamp":{"properties":{"on":false}}},"thingId":"a:t"}`},
	} {
		for i, w := range want {
			if got := streams[who].next(t); got != w {
				t.Errorf("%s, event %d:\n got %s\nwant %s", who, i+1, got, w)
			}
		}
	}
	// nginx:none may read nothing: it gets heartbeats only.
	timeout := time.After(sseHeartbeat + sseHeartbeat/2)
	for waiting := true; waiting; {
		select {
		case data := <-streams["none"].events:
			if data != "" {
				t.Fatalf("nginx:none got %s", data)
			}
		case <-timeout:
			waiting = false
		}
	}
	// Without a policy nobody reads.
	ev := thingEvent(3, "modified", "/attributes/x", `1`, nil)
	ev.Unenforced = false
	tg.g.Publish(ev)
	publish(4, "/attributes/public", `5`)
	if got := streams["all"].next(t); got != `{"attributes":{"public":5,"secret":2},"thingId":"a:t"}` {
		t.Errorf("after an event without policy: %s", got)
	}
}

// TestSSEEncodedOncePerFormat: receivers sharing a policy view, extra fields
// and SSE format get the same bytes; WebSocket sessions keep the envelope.
func TestSSEEncodedOncePerFormat(t *testing.T) {
	g, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{testUser, testPass}})
	if err != nil {
		t.Fatal(err)
	}
	queues := map[string][]*outQueue{}
	add := func(kind string, sub subscriber) {
		q := newOutQueue(16, 1<<20)
		if kind == "ws" {
			sub.r = &session{g: g, queue: q}
		} else {
			sub.r = &sseStream{g: g, queue: q}
		}
		g.hubs[streamEvents].subscribe(sub)
		queues[kind] = append(queues[kind], q)
	}
	for range 2 {
		add("ws", subscriber{})
		sub, err := parseSSE(nil, SSERequest{})
		if err != nil {
			t.Fatal(err)
		}
		add("sse", sub)
		sub, err = parseSSE(nil, SSERequest{Fields: "thingId"})
		if err != nil {
			t.Fatal(err)
		}
		add("sse-fields", sub)
	}
	g.Publish(event("a", "t", 1, `1`))
	first := func(q *outQueue) []byte {
		msgs := q.take(nil)
		if len(msgs) != 1 {
			t.Fatalf("%d messages queued", len(msgs))
		}
		return msgs[0]
	}
	want := map[string]string{
		"ws":         "",
		"sse":        "data:{\"attributes\":{\"x\":1},\"thingId\":\"a:t\"}\n\n",
		"sse-fields": "data:{\"thingId\":\"a:t\"}\n\n",
	}
	for kind, qs := range queues {
		a, b := first(qs[0]), first(qs[1])
		if &a[0] != &b[0] {
			t.Errorf("%s: encoded twice", kind)
		}
		if kind == "ws" {
			if env, err := protocol.DecodeEnvelope(a); err != nil || env.Topic != "a/t/things/twin/events/modified" {
				t.Errorf("ws: %s (%v)", a, err)
			}
		} else if string(a) != want[kind] {
			t.Errorf("%s: %q, want %q", kind, a, want[kind])
		}
	}
}

// TestSSEClientGoneLeavesNothing: when the client goes away the handler
// returns and the stream leaves its hub and the gateway.
func TestSSEClientGoneLeavesNothing(t *testing.T) {
	tg := newTestGateway(t, nil)
	ss := newSSEServer(t, tg)
	c := ss.open(t, "")
	if n := len(tg.g.hubs[streamEvents].snapshot()); n != 1 {
		t.Fatalf("%d subscribers", n)
	}
	c.resp.Body.Close()
	select {
	case <-ss.returned:
	case <-time.After(frameWait):
		t.Fatal("ServeSSE did not return")
	}
	if n := tg.g.openStreams(); n != 0 {
		t.Errorf("%d streams left", n)
	}
	if n := len(tg.g.hubs[streamEvents].snapshot()); n != 0 {
		t.Errorf("%d subscribers left", n)
	}
	eventually(t, "the close to be counted", func() bool {
		return metricValue(t, tg.metrics.SessionsClosed.WithLabelValues("client")) == 1
	})
	if n := metricValue(t, tg.metrics.SessionsOpen.WithLabelValues("sse")); n != 0 {
		t.Errorf("open sse streams %v", n)
	}
	tg.g.Publish(event("a", "t", 1, `1`)) // nobody left; no panic
}

// TestSSEStreamEndsAtCredentialExpiry: a stream ends when the caller's
// credentials expire, as a WebSocket session does, whether it streams
// changes or messages, and leaves nothing behind; an expiry
// auth.MaxSessionLifetime or more away ends nothing.
func TestSSEStreamEndsAtCredentialExpiry(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	ss := newSSEServer(t, tg)
	changes := ss.open(t, "expiresIn=400ms")
	messages := ss.open(t, "ids="+liveThingID+"&path=/inbox/messages&expiresIn=400ms")
	lasting := ss.open(t, "expiresIn="+(auth.MaxSessionLifetime+time.Hour).String())
	tg.g.Publish(event("a", "t", 1, `1`))
	if got := changes.next(t); !strings.Contains(got, `"x":1`) {
		t.Fatalf("before the expiry: %s", got)
	}
	for _, c := range []*sseClient{changes, messages} {
		c.ended(t) // within frameWait, well before the test's end
	}
	eventually(t, "the expired streams to be counted", func() bool {
		return metricValue(t, tg.metrics.SessionsClosed.WithLabelValues(reasonExpired.label)) == 2
	})
	if n := tg.g.openStreams(); n != 1 {
		t.Errorf("%d streams open, want the lasting one", n)
	}
	if n := len(tg.g.hubs[streamMessages].snapshot()); n != 0 {
		t.Errorf("%d message streams left", n)
	}
	tg.g.Publish(event("a", "t", 2, `2`))
	if got := lasting.next(t); !strings.Contains(got, `"x":1`) {
		t.Fatalf("lasting stream: %s", got)
	}
	if got := lasting.next(t); !strings.Contains(got, `"x":2`) {
		t.Fatalf("lasting stream after the others expired: %s", got)
	}
}

// TestSSEShutdownEndsStreams: Shutdown ends every stream (their handlers
// return) and refuses new ones with 503.
func TestSSEShutdownEndsStreams(t *testing.T) {
	tg := newTestGateway(t, nil)
	ss := newSSEServer(t, tg)
	a, b := ss.open(t, ""), ss.open(t, "ids=a:t")
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	if err := tg.g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*sseClient{a, b} {
		c.ended(t)
	}
	for range 2 {
		<-ss.returned
	}
	if n := tg.g.openStreams(); n != 0 {
		t.Errorf("%d streams left", n)
	}
	if got := metricValue(t, tg.metrics.SessionsClosed.WithLabelValues("shutdown")); got != 2 {
		t.Errorf("streams closed by shutdown %v, want 2", got)
	}
	resp, err := http.Get(ss.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e protocol.Error
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || e.Code != protocol.CodeServiceUnavailable {
		t.Errorf("after shutdown: %d %s", resp.StatusCode, body)
	}
}

// TestSSESlowStreamIsClosed: a stream whose client stops reading is ended
// once its queue overflows; a reading stream goes on, and the slow one's
// handler returns within the write timeout.
func TestSSESlowStreamIsClosed(t *testing.T) {
	tg := newTestGateway(t, func(c *Config) {
		c.QueueMessages = 8
		c.QueueBytes = 64 << 10
		c.WriteTimeout = time.Second
	})
	ss := newSSEServer(t, tg)
	fast := ss.open(t, "")
	// The slow client sends its request and never reads.
	slow, err := net.Dial("tcp", ss.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	eventually(t, "the slow stream to open", func() bool { return tg.g.openStreams() == 2 })

	value := `"` + strings.Repeat("v", 16<<10) + `"`
	const maxEvents = 4000 // 64 MB: far beyond any socket buffers
	published := 0
	for published < maxEvents && tg.g.closingStreams() == 0 {
		published++
		tg.g.Publish(event("a", "t", int64(published), value))
		fast.next(t) // pace on the reader, so that only the slow stream falls behind
	}
	select {
	case <-ss.returned:
	case <-time.After(frameWait):
		t.Fatalf("the slow stream's handler did not return after %d events", published)
	}
	t.Logf("slow stream closed after %d events", published)
	if got := metricValue(t, tg.metrics.SessionsClosed.WithLabelValues("slow")); got != 1 {
		t.Errorf("slow closes %v, want 1", got)
	}
	if got := metricValue(t, tg.metrics.EventsDropped.WithLabelValues("session_slow")); got != 1 {
		t.Errorf("events dropped %v, want 1", got)
	}
	// The reading stream is still served.
	tg.g.Publish(event("a", "t", int64(published+1), `1`))
	if got := fast.next(t); got != `{"attributes":{"x":1},"thingId":"a:t"}` {
		t.Errorf("fast stream: %.60s", got)
	}
	if n := tg.g.openStreams(); n != 1 {
		t.Errorf("%d streams open, want 1", n)
	}
}

// openRaw starts a stream like open, but its events are the raw text of
// each event, its lines with their "\n" but without the blank line that
// ends it; a heartbeat ("data:\n") is "", so that next skips it.
func (ss *sseServer) openRaw(t *testing.T, query string) *sseClient {
	t.Helper()
	resp, err := http.Get(ss.srv.URL + "/?" + query)
	if err != nil {
		t.Fatalf("GET ?%s: %v", query, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET ?%s: %d %s", query, resp.StatusCode, body)
	}
	c := &sseClient{resp: resp, events: make(chan string, 4096)}
	go func() {
		defer close(c.events)
		br := bufio.NewReader(resp.Body)
		var ev strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line != "\n" {
				ev.WriteString(line)
				continue
			}
			if raw := ev.String(); raw == "data:\n" {
				c.events <- ""
			} else {
				c.events <- raw
			}
			ev.Reset()
		}
	}()
	return c
}

// messageStreams opens message streams on the live test gateway: query
// names the stream (its path, and subjects for another user).
func messageStreams(t *testing.T, ss *sseServer, queries map[string]string) map[string]*sseClient {
	t.Helper()
	streams := make(map[string]*sseClient, len(queries))
	for name, q := range queries {
		streams[name] = ss.openRaw(t, q)
	}
	return streams
}

// TestSSEMessageEventFormat: a message is one event, its payload as text
// in data: lines (Ditto's raw payload: JSON as JSON text, text as it is,
// binary decoded from base64) and its subject in event:.
func TestSSEMessageEventFormat(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, value, want string
	}{
		{"json object", "application/json", `{"a": [1, 2]}`, "data:{\"a\":[1,2]}\nevent:ask\n\n"},
		{"json string", "application/json", `"hi"`, "data:\"hi\"\nevent:ask\n\n"},
		{"json with charset", "application/json; charset=utf-8", `true`, "data:true\nevent:ask\n\n"},
		{"vendor json", "application/vnd.x+json", `{"b":null}`, "data:{\"b\":null}\nevent:ask\n\n"},
		{"text", "text/plain", `"Hey?"`, "data:Hey?\nevent:ask\n\n"},
		{"text not a string", "text/plain", `{"a":1}`, "data:{\"a\":1}\nevent:ask\n\n"},
		{"text lines", "text/plain", `"one\ntwo\r\nthree\rfour\n"`, "data:one\ndata:two\ndata:three\ndata:four\ndata:\nevent:ask\n\n"},
		{"unicode", "text/plain", `"Grüße ☕"`, "data:Grüße ☕\nevent:ask\n\n"},
		{"binary", "application/octet-stream", `"aGVsbG8="`, "data:hello\nevent:ask\n\n"},
		{"binary not utf-8", "application/octet-stream", `"/w=="`, "data:\uFFFD\nevent:ask\n\n"},
		{"binary not base64", "application/octet-stream", `"not base64!"`, "data:not base64!\nevent:ask\n\n"},
		{"no content type", "", `"aGk="`, "data:hi\nevent:ask\n\n"},
		{"no payload", "text/plain", ``, "data:\nevent:ask\n\n"},
	} {
		var value json.RawMessage
		if tc.value != "" {
			value = json.RawMessage(tc.value)
		}
		if got := string(sseMessageEvent("ask", tc.contentType, value)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := string(sseMessageEvent("a/b", "text/plain", json.RawMessage(`"x"`))); got != "data:x\nevent:a/b\n\n" {
		t.Errorf("subject with a slash: %q", got)
	}
}

// TestSSEMessageRouting: a message stream gets the messages of its thing
// and mailbox: the thing's inbox or outbox (every subject, or the one of the
// route), not its features'; a feature's, not the thing's or another
// feature's; only those its user may READ (message:/…, as WebSocket
// sessions); never the replies. Each stream's events come in send order.
func TestSSEMessageRouting(t *testing.T) {
	tg, f := newLiveGateway(t, nil)
	const otherID = "org.eclipse.ditto:other"
	f.mu.Lock()
	f.targets[otherID] = twin.NewLiveTarget(otherID, "org.eclipse.ditto", f.targets[liveThingID].Policy, nil)
	f.mu.Unlock()
	ss := newSSEServer(t, tg)
	lamp := "ids=" + liveThingID + "&path="
	streams := messageStreams(t, ss, map[string]string{
		"inbox":           lamp + "/inbox/messages",
		"inbox-slash":     lamp + "/inbox/messages/",
		"inbox-hello":     lamp + "/inbox/messages/hello",
		"outbox":          lamp + "/outbox/messages",
		"light-inbox":     lamp + "/features/light/inbox/messages",
		"light-outbox-on": lamp + "/features/light/outbox/messages/on",
		"alice-inbox":     lamp + "/inbox/messages&subjects=nginx:alice",
		"bob-inbox":       lamp + "/inbox/messages&subjects=nginx:bob",
		"bob-light-inbox": lamp + "/features/light/inbox/messages&subjects=nginx:bob",
		"other-inbox":     "ids=" + otherID + "&path=/inbox/messages",
	})
	eventually(t, "the streams to subscribe", func() bool { return len(tg.g.hubs[streamMessages].snapshot()) == len(streams) })

	sender := tg.dialUser("ditto", "")
	device := tg.dialUser("ditto", "")
	sendText(t, device, "START-SEND-MESSAGES")
	expectText(t, device, "START-SEND-MESSAGES:ACK")
	n := 0
	send := func(thing, subject, path, value string) {
		t.Helper()
		n++
		topic := strings.Replace(lampTopic, "/lamp/", "/"+strings.TrimPrefix(thing, "org.eclipse.ditto:")+"/", 1) + subject
		sendText(t, sender, liveEnvelope(topic, path, 0, `"`+value+`"`, "correlation-id", fmt.Sprint("m-", n),
			"response-required", "false", "content-type", "text/plain"))
		roundTrip(t, sender, fmt.Sprint("after-", n)) // routed before this answer
		readEnvelope(t, device)
	}
	send(liveThingID, "hello", "/inbox/messages/hello", "1")
	send(liveThingID, "secret", "/inbox/messages/secret", "2")
	send(liveThingID, "hello/world", "/inbox/messages/hello/world", "3")
	send(liveThingID, "hello", "/outbox/messages/hello", "4")
	send(liveThingID, "on", "/features/light/inbox/messages/on", "5")
	send(liveThingID, "on", "/features/light/outbox/messages/on", "6")
	send(liveThingID, "off", "/features/light/outbox/messages/off", "7")
	send(liveThingID, "on", "/features/other/inbox/messages/on", "8")
	send(otherID, "hello", "/inbox/messages/hello", "9")

	// A question the device answers: the reply, on the outbox path, is the
	// asker's alone.
	sendText(t, sender, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `"10"`, "correlation-id", "q", "content-type", "text/plain"))
	q := readEnvelope(t, device)
	sendText(t, device, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", 200, `"reply"`, "correlation-id", q.Headers[protocol.HeaderCorrelationID], "content-type", "text/plain"))
	if reply := readEnvelope(t, sender); reply.Status != 200 || string(reply.Value) != `"reply"` {
		t.Fatalf("the asker got %s %s", reply.Topic, reply.Value)
	}
	// The end of each stream's events: one last message each stream takes
	// (bob's thing inbox takes none).
	send(liveThingID, "hello", "/inbox/messages/hello", "end")
	send(liveThingID, "hello", "/outbox/messages/hello", "end")
	send(liveThingID, "on", "/features/light/inbox/messages/on", "end")
	send(liveThingID, "on", "/features/light/outbox/messages/on", "end")
	send(otherID, "hello", "/inbox/messages/hello", "end")

	ev := func(subject, data string) string { return "data:" + data + "\nevent:" + subject + "\n" }
	want := map[string][]string{
		"inbox":           {ev("hello", "1"), ev("secret", "2"), ev("hello/world", "3"), ev("ask", "10")},
		"inbox-hello":     {ev("hello", "1")},
		"outbox":          {ev("hello", "4")},
		"light-inbox":     {ev("on", "5")},
		"light-outbox-on": {ev("on", "6")},
		"alice-inbox":     {ev("hello", "1"), ev("hello/world", "3"), ev("ask", "10")}, // not the secret
		"bob-light-inbox": {ev("on", "5")},
		"other-inbox":     {ev("hello", "9")},
	}
	want["inbox-slash"] = want["inbox"]
	for name, c := range streams {
		if name == "bob-inbox" {
			continue
		}
		var got []string
		for {
			e := c.next(t)
			if strings.HasPrefix(e, "data:end\n") {
				break
			}
			got = append(got, e)
		}
		if strings.Join(got, "|") != strings.Join(want[name], "|") {
			t.Errorf("%s: got %q, want %q", name, got, want[name])
		}
	}
	select {
	case e := <-streams["bob-inbox"].events:
		if e != "" {
			t.Errorf("bob's inbox stream got %q", e)
		}
	case <-time.After(200 * time.Millisecond):
	}
	// A message stream is no stream of changes.
	if n := len(tg.g.hubs[streamEvents].snapshot()); n != 0 {
		t.Errorf("%d subscribers of changes", n)
	}
}

// TestSSEMessageEncodedOnce: every message stream gets the same bytes of a
// message, whoever reads it; a WebSocket session of the same hub gets the
// envelope.
func TestSSEMessageEncodedOnce(t *testing.T) {
	tg, f := newLiveGateway(t, nil)
	g := tg.g
	var queues []*outQueue
	for _, subject := range []string{"nginx:ditto", "nginx:alice", "nginx:ditto"} {
		sub, err := parseSSEMessages([]string{subject}, SSERequest{ThingIDs: liveThingID, Path: "/inbox/messages"})
		if err != nil {
			t.Fatal(err)
		}
		q := newOutQueue(16, 1<<20)
		sub.r = &sseStream{g: g, queue: q}
		g.hubs[streamMessages].subscribe(sub)
		queues = append(queues, q)
	}
	wsQueue := newOutQueue(16, 1<<20)
	g.hubs[streamMessages].subscribe(subscriber{r: &session{g: g, queue: wsQueue}, subjects: []string{"nginx:ditto"}})

	m := live.Message{Namespace: "org.eclipse.ditto", Name: "lamp", Box: live.Inbox, Subject: "ask"}
	topic, _ := protocol.ParseTopic(m.Topic())
	typ, path := twin.LiveResourcePointer(m.Resource())
	sig := &liveSignal{env: protocol.Envelope{Topic: m.Topic(), Path: m.Path(), Value: json.RawMessage(`{"q":1}`),
		Headers: protocol.Headers{protocol.HeaderContentType: "application/json"}}, topic: topic,
		target: f.targets[liveThingID], resType: typ, resPath: path}
	if n := g.live.deliver(streamMessages, sig, nil, nil); n != 4 {
		t.Fatalf("delivered to %d, want 4", n)
	}
	var first []byte
	for i, q := range queues {
		msgs := q.take(nil)
		if len(msgs) != 1 || string(msgs[0]) != "data:{\"q\":1}\nevent:ask\n\n" {
			t.Fatalf("stream %d: %q", i, msgs)
		}
		if first == nil {
			first = msgs[0]
		} else if &first[0] != &msgs[0][0] {
			t.Errorf("stream %d: encoded again", i)
		}
	}
	if msgs := wsQueue.take(nil); len(msgs) != 1 {
		t.Fatalf("ws: %d messages", len(msgs))
	} else if env, err := protocol.DecodeEnvelope(msgs[0]); err != nil || env.Topic != m.Topic() {
		t.Errorf("ws: %s (%v)", msgs[0], err)
	}
}

// TestSSEMessageStreamLifecycle: a message stream is a 200
// text/event-stream with heartbeats; an invalid thing is refused before it
// starts; when the client goes away it leaves the hub; Shutdown ends it.
func TestSSEMessageStreamLifecycle(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	ss := newSSEServer(t, tg)

	resp, err := http.Get(ss.srv.URL + "/?ids=no-namespace&path=/inbox/messages")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e protocol.Error
	if json.Unmarshal(body, &e) != nil || e.Code != protocol.CodeThingIDInvalid || resp.StatusCode != 400 {
		t.Errorf("invalid thing: %d %s", resp.StatusCode, body)
	}
	<-ss.returned

	c := ss.openRaw(t, "ids="+liveThingID+"&path=/features/light/outbox/messages/on&fields=colour&filter=nonsense(")
	select {
	case e := <-c.events:
		if e != "" {
			t.Fatalf("got %q, want a heartbeat", e)
		}
	case <-time.After(frameWait):
		t.Fatal("no heartbeat")
	}
	gone := ss.openRaw(t, "ids="+liveThingID+"&path=/inbox/messages")
	if n := len(tg.g.hubs[streamMessages].snapshot()); n != 2 {
		t.Fatalf("%d subscribers of messages", n)
	}
	gone.resp.Body.Close()
	select {
	case <-ss.returned:
	case <-time.After(frameWait):
		t.Fatal("ServeSSE did not return")
	}
	if n := len(tg.g.hubs[streamMessages].snapshot()); n != 1 {
		t.Errorf("%d subscribers of messages, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	if err := tg.g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.ended(t)
	if n := len(tg.g.hubs[streamMessages].snapshot()); n != 0 {
		t.Errorf("%d subscribers of messages after Shutdown", n)
	}
}

package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// jsonField checks one top-level field of a JSON object.
func jsonField(t testing.TB, body []byte, field string, want any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %s", body)
	}
	if m[field] != want {
		t.Fatalf("%s = %v, want %v in %s", field, m[field], want, body)
	}
}

// TestEventsReachEverySubscribedSession: two sessions receive the same
// events in revision order, STOP-SEND-EVENTS stops them, and namespaces
// narrows them.
func TestEventsReachEverySubscribedSession(t *testing.T) {
	g := startGateway(t, "", nil)
	a, b := g.dial(t), g.dial(t)
	a.startEvents(t, "")
	b.startEvents(t, "")
	onlyB := g.dial(t)
	onlyB.startEvents(t, "namespaces=org.b,org.c")

	if r := g.do(t, http.MethodPut, thingPath("org.a:t", "/"), `{}`, nil); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for i := 2; i <= 5; i++ {
		if r := g.do(t, http.MethodPut, thingPath("org.a:t", "/attributes/n"), strconv.Itoa(i), nil); r.status/100 != 2 {
			t.Fatalf("modify: %d %s", r.status, r.body)
		}
	}
	for _, s := range []*wsClient{a, b} {
		var last int64
		for i := 0; i < 5; i++ {
			ev := s.nextEvent(t)
			if ev.Revision != last+1 {
				t.Fatalf("revision %d after %d: %s", ev.Revision, last, ev.Raw)
			}
			last = ev.Revision
		}
	}
	if r := g.do(t, http.MethodPut, thingPath("org.b:t", "/"), `{}`, nil); r.status != 201 {
		t.Fatalf("create org.b:t: %d", r.status)
	}
	if ev := onlyB.nextEvent(t); ev.Topic != "org.b/t/things/twin/events/created" {
		t.Fatalf("namespace-filtered session got %s", ev.Raw)
	}
	a.nextEvent(t)
	b.nextEvent(t)

	a.sendText(t, "STOP-SEND-EVENTS")
	if got := a.next(t); got != "STOP-SEND-EVENTS:ACK" {
		t.Fatalf("STOP: %q", got)
	}
	g.do(t, http.MethodPut, thingPath("org.a:t", "/attributes/after"), `true`, nil)
	if ev := b.nextEvent(t); ev.Path != "/attributes/after" {
		t.Fatalf("b got %s", ev.Raw)
	}
	a.noFrameWithin(t, 300*time.Millisecond)
	onlyB.noFrameWithin(t, 100*time.Millisecond)
}

// TestUnsupportedStreamParameters: filter and extraFields come with the RQL
// issue; until then they are rejected with an error and no ACK.
func TestUnsupportedStreamParameters(t *testing.T) {
	g := startGateway(t, "", nil)
	ws := g.dial(t)
	for _, cmd := range []string{"START-SEND-EVENTS?filter=eq(attributes/a,1)", "START-SEND-EVENTS?extraFields=attributes"} {
		ws.sendText(t, cmd)
		e := decodeEnvelope(t, ws.next(t))
		if e.Status != 400 || e.errorCode() == "" {
			t.Fatalf("%s: %s", cmd, e.Raw)
		}
	}
	// No subscription was made: a change produces no event.
	g.do(t, http.MethodPut, thingPath("e2e:quiet", "/"), `{}`, nil)
	ws.noFrameWithin(t, 300*time.Millisecond)
}

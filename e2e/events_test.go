package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
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

// TestFilteredSubscriptionWithExtraFields: a session with an RQL filter
// receives only the matching events, enriched with the extra fields it
// selected; the filter sees the changed data plus those extra fields.
func TestFilteredSubscriptionWithExtraFields(t *testing.T) {
	g := startGateway(t, "", nil)
	all := g.dial(t)
	all.startEvents(t, "")
	hot := g.dial(t)
	hot.startEvents(t, "filter="+url.QueryEscape(`and(eq(attributes/room,"kitchen"),gt(features/temp/properties/value,25))`)+
		"&extraFields="+url.QueryEscape("attributes/room,_revision"))

	put := func(id, path, body string) {
		if r := g.do(t, http.MethodPut, thingPath(id, path), body, nil); r.status/100 != 2 {
			t.Fatalf("PUT %s%s: %d %s", id, path, r.status, r.body)
		}
	}
	put("e2e:kitchen", "/", `{"attributes":{"room":"kitchen"},"features":{"temp":{"properties":{"value":20}}}}`)
	put("e2e:hall", "/", `{"attributes":{"room":"hall"},"features":{"temp":{"properties":{"value":20}}}}`)
	put("e2e:kitchen", "/features/temp/properties/value", `22`) // too cold
	put("e2e:hall", "/features/temp/properties/value", `30`)    // wrong room
	put("e2e:kitchen", "/features/temp/properties/value", `31`) // matches
	for i := 0; i < 5; i++ {
		all.nextEvent(t)
	}
	ev := hot.nextEvent(t)
	if ev.Topic != "e2e/kitchen/things/twin/events/modified" || string(ev.Value) != "31" || ev.Revision != 3 {
		t.Fatalf("filtered session got %s", ev.Raw)
	}
	if ev.Extra["attributes"].(map[string]any)["room"] != "kitchen" || ev.Extra["_revision"] != float64(3) {
		t.Errorf("extra %v", ev.Extra)
	}
	hot.noFrameWithin(t, 200*time.Millisecond)

	// An invalid filter is refused with Ditto's error and no ACK.
	hot.sendText(t, "START-SEND-EVENTS?filter=eq(attributes/room")
	if e := decodeEnvelope(t, hot.next(t)); e.Status != 400 || e.errorCode() != "rql.expression.invalid" {
		t.Fatalf("invalid filter: %s", e.Raw)
	}
}

// TestConditionalRequests: the condition header or parameter decides a write
// (412 things:condition.failed when false, no event) and a retrieve.
func TestConditionalRequests(t *testing.T) {
	g := startGateway(t, "", nil)
	obs := g.dial(t)
	obs.startEvents(t, "")
	g.do(t, http.MethodPut, thingPath("e2e:c", "/"), `{"attributes":{"on":false,"level":3}}`, nil)
	obs.eventFor(t, "e2e:c", 1)

	r := g.do(t, http.MethodPut, thingPath("e2e:c", "/attributes/on")+"?condition="+url.QueryEscape("eq(attributes/level,4)"), `true`, nil)
	if r.status != 412 {
		t.Fatalf("false condition: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:condition.failed")
	r = g.do(t, http.MethodPut, thingPath("e2e:c", "/attributes/on")+"?condition="+url.QueryEscape("eq(attributes/level"), `true`, nil)
	if r.status != 400 {
		t.Fatalf("invalid condition: %d %s", r.status, r.body)
	}
	jsonField(t, r.body, "error", "things:condition.invalid")

	ws := g.dial(t)
	resp := ws.command(t, topicOf("e2e:c", "modify"), "/attributes/on", `true`, map[string]any{"condition": "and(eq(attributes/level,3),eq(_revision,1))"})
	if resp.Status != 204 {
		t.Fatalf("true condition over WS: %s", resp.Raw)
	}
	if ev := obs.nextEvent(t); ev.Revision != 2 || ev.Path != "/attributes/on" {
		t.Fatalf("event after the failed and the successful condition: %s", ev.Raw)
	}
	resp = ws.command(t, topicOf("e2e:c", "retrieve"), "/attributes", "", map[string]any{"condition": "eq(attributes/on,false)"})
	if resp.Status != 412 {
		t.Fatalf("retrieve with a false condition: %s", resp.Raw)
	}
}

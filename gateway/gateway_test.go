package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
)

func TestNewValidatesAndFillsDefaults(t *testing.T) {
	if _, err := New(Config{Auth: basicAuth{}}); err == nil {
		t.Error("New without Twins: no error")
	}
	if _, err := New(Config{Twins: &fakeTwins{}}); err == nil {
		t.Error("New without Auth: no error")
	}
	if _, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{}, QueueBytes: -1}); err == nil {
		t.Error("New with negative QueueBytes: no error")
	}
	if _, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{}, PongTimeout: -time.Second}); err == nil {
		t.Error("New with negative PongTimeout: no error")
	}
	g, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	c := g.cfg
	if c.QueueMessages != 1024 || c.QueueBytes != 8<<20 || c.MaxMessageBytes != 256000 ||
		c.PingInterval != 30*time.Second || c.PongTimeout != 30*time.Second || c.WriteTimeout != 10*time.Second ||
		c.Metrics == nil || c.Logger == nil {
		t.Errorf("defaults not filled: %+v", c)
	}
}

func TestUpgradeWithoutCredentials(t *testing.T) {
	tg := newTestGateway(t, nil)
	bad := http.Header{}
	bad.Set("Authorization", "Basic bm9ib2R5Ondyb25n") // nobody:wrong
	for name, h := range map[string]http.Header{"none": nil, "wrong": bad} {
		t.Run(name, func(t *testing.T) {
			c, resp, err := websocket.DefaultDialer.Dial(tg.url, h)
			if err == nil {
				c.Close()
				t.Fatal("upgrade succeeded without valid credentials")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("response %v, want 401", resp)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="twinway"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			body, _ := io.ReadAll(resp.Body)
			var e protocol.Error
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if e.Status != 401 || e.Code != protocol.CodeAuthenticationFailed || e.Message == "" {
				t.Errorf("body %s", body)
			}
		})
	}
	if n := tg.twins.commands(); len(n) != 0 {
		t.Errorf("twins saw %d commands", len(n))
	}
}

func TestCommandGetsResponse(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()

	roundTrip(t, c, "cid-1")

	// Without correlation-id the gateway generates one.
	sendText(t, c, `{"topic":"`+commandTopic+`","headers":{},"path":"/"}`)
	env := readEnvelope(t, c)
	cid := env.Headers[protocol.HeaderCorrelationID]
	if env.Status != 200 || cid == "" {
		t.Fatalf("response %+v, want 200 with a generated correlation-id", env)
	}
	cmds := tg.twins.commands()
	if len(cmds) != 2 {
		t.Fatalf("twins saw %d commands, want 2", len(cmds))
	}
	if got := cmds[1].Headers[protocol.HeaderCorrelationID]; got != cid {
		t.Errorf("command correlation-id %q, response %q", got, cid)
	}
	if got := tg.twins.who[0].DefaultSubject(); got != "nginx:"+testUser {
		t.Errorf("subject %q", got)
	}
	if got := metricValue(t, tg.metrics.Commands.WithLabelValues("ws", "retrieve", "200")); got != 2 {
		t.Errorf("commands counted %v, want 2", got)
	}
}

func TestBinaryMessageIsTreatedLikeText(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(command("bin-1"))); err != nil {
		t.Fatal(err)
	}
	expectResponse(t, c, "bin-1")
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(startSendEvents)); err != nil {
		t.Fatal(err)
	}
	expectText(t, c, "START-SEND-EVENTS:ACK")
}

func TestResponseRequiredFalse(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	sendText(t, c, `{"topic":"`+commandTopic+`","headers":{"correlation-id":"quiet","response-required":false},"path":"/"}`)
	// The very next frame is the response to the second command.
	roundTrip(t, c, "loud")
	cmds := tg.twins.commands()
	if len(cmds) != 2 || cmds[0].Headers[protocol.HeaderCorrelationID] != "quiet" {
		t.Fatalf("twins saw %+v, want the quiet command handled first", cmds)
	}
}

func TestResponseRequiredInvalid(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	sendText(t, c, command("bad-rr", "response-required", "maybe"))
	env, e := readError(t, c)
	if e.Code != protocol.CodeHeaderInvalid || e.Status != 400 {
		t.Fatalf("error %+v, want header.invalid", e)
	}
	if env.Headers[protocol.HeaderCorrelationID] != "bad-rr" || env.Topic != "org.eclipse.ditto/thing-1/things/twin/errors" {
		t.Errorf("error envelope %s %v", env.Topic, env.Headers)
	}
	if n := len(tg.twins.commands()); n != 0 {
		t.Errorf("twins saw %d commands, want 0", n)
	}
	roundTrip(t, c, "next")
}

func TestMalformedMessages(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	for _, tc := range []struct {
		msg, code string
	}{
		{`{"topic": `, protocol.CodeJSONInvalid},
		{``, protocol.CodeJSONInvalid},
		{`[1,2]`, protocol.CodeJSONInvalid},
		{`start-send-events`, protocol.CodeJSONInvalid},
		{`{"headers":{"correlation-id":"x"}}`, protocol.CodeJSONFieldMissing},
		{`{"topic":42}`, protocol.CodeJSONFormatInvalid},
	} {
		sendText(t, c, tc.msg)
		env, e := readError(t, c)
		if e.Code != tc.code || env.Topic != "unknown/unknown/things/twin/errors" || env.Path != "/" {
			t.Errorf("%q: got %s %+v, want %s", tc.msg, env.Topic, e, tc.code)
		}
		roundTrip(t, c, "after")
	}
	if got := metricValue(t, tg.metrics.Commands.WithLabelValues("ws", "unknown", "400")); got != 6 {
		t.Errorf("rejected commands counted %v, want 6", got)
	}
}

func TestMessageTooLarge(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()

	big := `{"topic":"` + commandTopic + `","headers":{"correlation-id":"big"},"path":"/","value":"` + strings.Repeat("x", 300_000) + `"}`
	sendText(t, c, big)
	env, e := readError(t, c)
	if e.Code != protocol.CodeMessageTooLarge || e.Status != 413 || env.Status != 413 {
		t.Fatalf("error %+v, want %s 413", e, protocol.CodeMessageTooLarge)
	}
	roundTrip(t, c, "after-big")

	// Exactly MaxMessageBytes still fits.
	head := `{"topic":"` + commandTopic + `","headers":{"correlation-id":"edge"},"path":"/","value":"`
	edge := head + strings.Repeat("y", DefaultMaxMessageBytes-len(head)-2) + `"}`
	if len(edge) != DefaultMaxMessageBytes {
		t.Fatalf("edge message has %d bytes", len(edge))
	}
	sendText(t, c, edge)
	expectResponse(t, c, "edge")
}

func TestEvents(t *testing.T) {
	tg := newTestGateway(t, nil)
	a, b := tg.dial(), tg.dial()
	for _, c := range []*websocket.Conn{a, b} {
		sendText(t, c, "START-SEND-EVENTS")
		expectText(t, c, "START-SEND-EVENTS:ACK")
	}

	tg.g.Publish(event("org.example", "t1", 1, `{"a":1}`))
	for _, c := range []*websocket.Conn{a, b} {
		expectEvent(t, c, "org.example", 1)
	}
	if got := metricValue(t, tg.metrics.EventsDelivered); got != 2 {
		t.Errorf("events delivered %v, want 2", got)
	}

	sendText(t, a, "STOP-SEND-EVENTS")
	expectText(t, a, "STOP-SEND-EVENTS:ACK")
	tg.g.Publish(event("org.example", "t1", 2, `{"a":2}`))
	expectEvent(t, b, "org.example", 2)
	// Publish queues synchronously: had a got the event, it would come
	// before this response.
	roundTrip(t, a, "after-stop")

	// STOP when not started still ACKs; START again works.
	sendText(t, a, "STOP-SEND-EVENTS")
	expectText(t, a, "STOP-SEND-EVENTS:ACK")
	sendText(t, a, "START-SEND-EVENTS?correlation-id=ignored&unknown=1")
	expectText(t, a, "START-SEND-EVENTS:ACK")
	tg.g.Publish(event("org.example", "t1", 3, `{"a":3}`))
	expectEvent(t, a, "org.example", 3)
	expectEvent(t, b, "org.example", 3)
}

func TestEventNamespaces(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	sendText(t, c, "START-SEND-EVENTS?namespaces=a,b")
	expectText(t, c, "START-SEND-EVENTS:ACK")
	for i, ns := range []string{"a", "c", "b", "ab", ""} {
		tg.g.Publish(event(ns, "t", int64(i+1), `1`))
	}
	expectEvent(t, c, "a", 1)
	expectEvent(t, c, "b", 3)
	roundTrip(t, c, "end-1")

	// Re-sending START replaces the namespaces (URL-encoded comma here).
	sendText(t, c, "START-SEND-EVENTS?namespaces=c%2C%20ab")
	expectText(t, c, "START-SEND-EVENTS:ACK")
	for i, ns := range []string{"a", "c", "b", "ab"} {
		tg.g.Publish(event(ns, "t", int64(i+10), `1`))
	}
	expectEvent(t, c, "c", 11)
	expectEvent(t, c, "ab", 13)
	roundTrip(t, c, "end-2")

	// An empty list means every namespace.
	sendText(t, c, "START-SEND-EVENTS?namespaces=")
	expectText(t, c, "START-SEND-EVENTS:ACK")
	tg.g.Publish(event("z", "t", 20, `1`))
	expectEvent(t, c, "z", 20)
}

func TestStartSendEventsInvalidParams(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	for _, tc := range []struct{ msg, code string }{
		{"START-SEND-EVENTS?filter=eq(attributes/a,", protocol.CodeRQLInvalid},
		{"START-SEND-EVENTS?filter=eq(attributes/a,unquoted)", protocol.CodeRQLInvalid},
		{"START-SEND-EVENTS?namespaces=a&extraFields=attributes(", protocol.CodeFieldSelectorInv},
		{"START-SEND-EVENTS?extraFields=colour", protocol.CodeFieldSelectionInvalid},
		{"START-SEND-EVENTS?correlation-id=cid-f&filter=" + "eq(attributes%2Fa%2C", protocol.CodeRQLInvalid},
	} {
		sendText(t, c, tc.msg)
		env, e := readError(t, c)
		if e.Code != tc.code || e.Status != 400 {
			t.Errorf("%s: error %+v, want %s", tc.msg, e, tc.code)
		}
		if env.Topic != "unknown/unknown/things/twin/errors" {
			t.Errorf("topic %s", env.Topic)
		}
		if strings.Contains(tc.msg, "cid-f") && env.Headers[protocol.HeaderCorrelationID] != "cid-f" {
			t.Errorf("headers %v, want the correlation-id parameter", env.Headers)
		}
	}
	// Not subscribed: the event would come before this response.
	tg.g.Publish(event("a", "t", 1, `1`))
	roundTrip(t, c, "no-events")

	// A refused START leaves an existing subscription as it was.
	sendText(t, c, "START-SEND-EVENTS?namespaces=a")
	expectText(t, c, "START-SEND-EVENTS:ACK")
	sendText(t, c, "START-SEND-EVENTS?namespaces=b&filter=eq(attributes/a,")
	readError(t, c)
	tg.g.Publish(event("b", "t", 2, `1`))
	tg.g.Publish(event("a", "t", 3, `1`))
	expectEvent(t, c, "a", 3)
}

// TestStartSendEventsFilterAndExtraFields: the filter sees the changed data
// plus the extra fields, and extra carries the selected fields of the thing.
func TestStartSendEventsFilterAndExtraFields(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	sendText(t, c, "START-SEND-EVENTS?filter="+url.QueryEscape(`and(eq(attributes/room,"kitchen"),gt(attributes/x,5))`)+"&extraFields=attributes/room")
	expectText(t, c, "START-SEND-EVENTS:ACK")
	publish := func(rev int64, x, room string) {
		ev := event("a", "t", rev, x)
		ev.Thing = map[string]any{"thingId": "a:t", "attributes": map[string]any{"room": room, "x": x}}
		tg.g.Publish(ev)
	}
	publish(1, "3", "kitchen") // x too small
	publish(2, "9", "hall")    // wrong room: the extra field decides
	publish(3, "9", "kitchen") // matches
	env := expectEvent(t, c, "a", 3)
	if string(env.Extra) != `{"attributes":{"room":"kitchen"}}` {
		t.Errorf("extra %s", env.Extra)
	}
	// A filter on a placeholder.
	sendText(t, c, "START-SEND-EVENTS?filter="+url.QueryEscape(`eq(topic:action,"deleted")`))
	expectText(t, c, "START-SEND-EVENTS:ACK")
	publish(4, "9", "kitchen") // modified: filtered out
	roundTrip(t, c, "after-placeholder")
}

func TestControlNotSupportedYet(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	for _, word := range []string{
		"START-SEND-MESSAGES", "STOP-SEND-MESSAGES",
		"START-SEND-LIVE-COMMANDS", "STOP-SEND-LIVE-COMMANDS",
		"START-SEND-LIVE-EVENTS?namespaces=a", "STOP-SEND-LIVE-EVENTS",
	} {
		sendText(t, c, word)
		env, e := readError(t, c)
		name, _, _ := strings.Cut(word, "?")
		if e.Code != protocol.CodeSignalUnsupported || e.Status != 400 || e.Message != name+" is not supported yet." {
			t.Errorf("%s: error %+v", word, e)
		}
		if env.Topic != "unknown/unknown/things/twin/errors" {
			t.Errorf("%s: topic %s", word, env.Topic)
		}
	}
	roundTrip(t, c, "still-open")
}

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{"START-SEND-EVENTS", nil},
		{"START-SEND-EVENTS?", map[string]string{}},
		{"START-SEND-EVENTS?namespaces=a,b", map[string]string{"namespaces": "a,b"}},
		{"START-SEND-EVENTS?filter=eq(attributes%2Fa%2C%22x%26y%22)&namespaces=a",
			map[string]string{"filter": `eq(attributes/a,"x&y")`, "namespaces": "a"}},
		{"START-SEND-EVENTS?a=b=c&novalue&x=%zz&y=1+2", map[string]string{"a": "b=c", "x": "%zz", "y": "1 2"}},
		{"START-SEND-EVENTS?a=1&a=2", map[string]string{"a": "2"}},
		{"START-SEND-EVENTS?a=1?b=2", map[string]string{"a": "1?b=2"}},
	} {
		got := parseParams(tc.in)
		if len(got) != len(tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("parseParams(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("parseParams(%q)[%q] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
	if got := splitList(" a, ,b,"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("splitList = %q", got)
	}
}

func FuzzControl(f *testing.F) {
	for _, s := range []string{"START-SEND-EVENTS?namespaces=a,b&filter=%zz", "JWT-TOKEN?jwtToken=x", "STOP-SEND-EVENTS", "START-SEND-EVENTS?&&=&==%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, ok := controlWordOf([]byte(s)); ok {
			for k, v := range parseParams(s) {
				_ = splitList(k + v)
			}
		}
	})
}

func TestClientCloseIsCounted(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	roundTrip(t, c, "hello")
	if got := metricValue(t, tg.metrics.SessionsOpen.WithLabelValues("ws")); got != 1 {
		t.Errorf("sessions open %v, want 1", got)
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(frameWait))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("read after close: %v, want the echoed close", err)
	}
	eventually(t, "the session to end", func() bool { return tg.g.openSessions() == 0 })
	eventually(t, "the close to be counted", func() bool {
		return metricValue(t, tg.metrics.SessionsClosed.WithLabelValues("client")) == 1
	})
	if got := metricValue(t, tg.metrics.SessionsOpen.WithLabelValues("ws")); got != 0 {
		t.Errorf("sessions open %v, want 0", got)
	}
}

func TestPongTimeoutClosesSession(t *testing.T) {
	tg := newTestGateway(t, func(c *Config) {
		c.PingInterval = 100 * time.Millisecond
		c.PongTimeout = 200 * time.Millisecond
	})
	c := tg.dial()
	roundTrip(t, c, "hello")
	// c no longer reads, so it answers no ping.
	eventually(t, "the silent session to end", func() bool { return tg.g.openSessions() == 0 })
	if got := metricValue(t, tg.metrics.SessionsClosed.WithLabelValues("error")); got != 1 {
		t.Errorf("sessions closed with error %v, want 1", got)
	}

	// A client that reads answers the pings and stays.
	d := tg.dial()
	errs := make(chan error, 1)
	go func() {
		_ = d.SetReadDeadline(time.Now().Add(time.Second))
		_, _, err := d.ReadMessage()
		errs <- err
	}()
	var ne interface{ Timeout() bool }
	if err := <-errs; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("reading client: %v, want its own read timeout", err)
	}
	if tg.g.openSessions() != 1 {
		t.Errorf("open sessions %d, want the reading one", tg.g.openSessions())
	}
}

func TestTwinsPanicBecomesError(t *testing.T) {
	tg := newTestGateway(t, func(c *Config) { c.Twins = panicTwins{} })
	c := tg.dial()
	sendText(t, c, command("boom"))
	env, e := readError(t, c)
	if e.Code != protocol.CodeInternal || env.Headers[protocol.HeaderCorrelationID] != "boom" {
		t.Errorf("got %+v %v", e, env.Headers)
	}
}

type panicTwins struct{}

func (panicTwins) Handle(context.Context, auth.Context, protocol.Envelope) protocol.Envelope {
	panic("boom")
}

func TestShutdown(t *testing.T) {
	tg := newTestGateway(t, nil)
	a, b := tg.dial(), tg.dial()
	sendText(t, a, "START-SEND-EVENTS")
	expectText(t, a, "START-SEND-EVENTS:ACK")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameWait)
		defer cancel()
		done <- tg.g.Shutdown(ctx)
	}()
	for _, c := range []*websocket.Conn{a, b} {
		_ = c.SetReadDeadline(time.Now().Add(frameWait))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "gateway shutting down" {
			t.Errorf("read: %v, want close 1001 gateway shutting down", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := tg.g.openSessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	if got := metricValue(t, tg.metrics.SessionsClosed.WithLabelValues("shutdown")); got != 2 {
		t.Errorf("sessions closed by shutdown %v, want 2", got)
	}
	tg.g.Publish(event("a", "t", 1, `1`)) // no subscribers left, no panic

	// New sessions are refused.
	_, resp, err := websocket.DefaultDialer.Dial(tg.url, authHeader())
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v, want 503", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	var e protocol.Error
	if err := json.Unmarshal(body, &e); err != nil || e.Code != protocol.CodeServiceUnavailable {
		t.Errorf("body %s: %v", body, err)
	}
}

func TestShutdownBoundedByContext(t *testing.T) {
	tg := newTestGateway(t, func(c *Config) { c.Twins = blockingTwins{} })
	c := tg.dial()
	sendText(t, c, command("stuck")) // blocks the read loop until the session ctx ends
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tg.g.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a done context: %v", err)
	}
	// The cleanup's Shutdown waits for the session to finish.
}

// blockingTwins blocks until the session's context ends.
type blockingTwins struct{}

func (blockingTwins) Handle(ctx context.Context, _ auth.Context, cmd protocol.Envelope) protocol.Envelope {
	<-ctx.Done()
	return protocol.ErrorEnvelope(protocol.Errorf(protocol.CodeServiceUnavailable, "cancelled"), protocol.Topic{}, cmd.Headers)
}

// A gateway that trusts no JWT issuer answers JWT-TOKEN with an error and
// keeps the session (the refresh itself is tested end to end with a real
// issuer in e2e).
func TestJWTTokenWithoutIssuer(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	sendText(t, c, "JWT-TOKEN?jwtToken=abc")
	_, e := readError(t, c)
	if e.Code != protocol.CodeJWTIssuerNotSupported || e.Status != 401 {
		t.Errorf("error %+v", e)
	}
	roundTrip(t, c, "still-open")
}

// Every close reason fits a close frame (123 bytes of text), or the peer
// would see an abnormal closure instead of the reason.
func TestCloseReasonsFitCloseFrame(t *testing.T) {
	long := reasonTokenInvalid(protocol.Errorf(protocol.CodeAuthenticationFailed, "%s", strings.Repeat("é", 200)))
	for _, r := range []closeReason{reasonSlow, reasonShutdown, reasonExpired, reasonContextChanged, long} {
		if len(r.text) > maxCloseText || !utf8.ValidString(r.text) {
			t.Errorf("%s: %d bytes: %q", r.label, len(r.text), r.text)
		}
	}
}

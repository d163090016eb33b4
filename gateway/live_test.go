package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// usersAuth accepts every user with the test password: user U has the
// subject nginx:U.
type usersAuth struct{}

func (usersAuth) Authenticate(r *http.Request) (auth.Context, error) {
	u, p, ok := r.BasicAuth()
	if !ok || p != testPass {
		return auth.Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "The credentials are missing or wrong.")
	}
	return auth.Context{Subjects: []string{"nginx:" + u}}, nil
}

// fakeLive authorises every sender and addresses the thing's policy; the
// sender's checks are the twin handler's (twin/live_test.go) and end to end
// (e2e/live_test.go).
type fakeLive struct {
	mu      sync.Mutex
	targets map[string]*twin.LiveTarget
	refuse  error // refuse every sender with this, when set
	match   bool  // MatchLiveCondition's answer
	asked   []string
}

func (f *fakeLive) target(thingID, what string) (*twin.LiveTarget, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, what)
	if f.refuse != nil {
		return nil, f.refuse
	}
	t := f.targets[thingID]
	if t == nil {
		return nil, protocol.Errorf(protocol.CodeThingNotFound, "The Thing with ID '%s' could not be found or requester had insufficient permissions to access it.", thingID)
	}
	return t, nil
}

func (f *fakeLive) AuthorizeMessage(_ context.Context, _ auth.Context, thingID, resource string, claim bool, _ protocol.Headers) (*twin.LiveTarget, error) {
	return f.target(thingID, resource)
}

func (f *fakeLive) AuthorizeLiveCommand(_ context.Context, _ auth.Context, env protocol.Envelope) (*twin.LiveTarget, error) {
	topic, _ := protocol.ParseTopic(env.Topic)
	return f.target(topic.EntityID(), "command "+env.Path)
}

func (f *fakeLive) AuthorizeLiveEvent(_ context.Context, _ auth.Context, env protocol.Envelope) (*twin.LiveTarget, error) {
	topic, _ := protocol.ParseTopic(env.Topic)
	return f.target(topic.EntityID(), "event "+env.Path)
}

func (f *fakeLive) MatchLiveCondition(context.Context, auth.Context, string, string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.match, nil
}

// The thing of the live tests: the owner reads everything; alice reads the
// thing but attributes/secret, and the inbox messages but the secret
// subject; bob reads the features and their messages.
const (
	liveThingID = "org.eclipse.ditto:lamp"
	livePolicy  = `{"entries":{
		"owner":{"subjects":{"nginx:ditto":{"type":"t"}},"resources":{"thing:/":{"grant":["READ","WRITE"],"revoke":[]},
			"message:/":{"grant":["READ","WRITE"],"revoke":[]}}},
		"alice":{"subjects":{"nginx:alice":{"type":"t"}},"resources":{"thing:/":{"grant":["READ"],"revoke":[]},
			"thing:/attributes/secret":{"grant":[],"revoke":["READ"]},
			"message:/inbox":{"grant":["READ"],"revoke":[]},"message:/inbox/messages/secret":{"grant":[],"revoke":["READ"]}}},
		"bob":{"subjects":{"nginx:bob":{"type":"t"}},"resources":{"thing:/features":{"grant":["READ"],"revoke":[]},
			"message:/features":{"grant":["READ"],"revoke":[]}}}}}`
)

func newLiveGateway(t *testing.T, mod func(*Config)) (*testGateway, *fakeLive) {
	t.Helper()
	p, err := policy.Parse(liveThingID, []byte(livePolicy))
	if err != nil {
		t.Fatal(err)
	}
	thing := map[string]any{"thingId": liveThingID, "_namespace": "org.eclipse.ditto",
		"attributes": map[string]any{"room": "kitchen", "secret": "x"}, "features": map[string]any{"light": map[string]any{}}}
	f := &fakeLive{targets: map[string]*twin.LiveTarget{
		liveThingID: twin.NewLiveTarget(liveThingID, "org.eclipse.ditto", policy.Compile(p, time.Now()), thing)}}
	tg := newTestGateway(t, func(c *Config) {
		c.Auth = usersAuth{}
		c.Live = f
		if mod != nil {
			mod(c)
		}
	})
	return tg, f
}

// dialUser opens a session as user, with query added to the URL.
func (tg *testGateway) dialUser(user, query string) *websocket.Conn {
	tg.t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+testPass)))
	c, resp, err := websocket.DefaultDialer.Dial(tg.url+query, h)
	if err != nil {
		tg.t.Fatalf("dial as %s: %v (response %v)", user, err, resp)
	}
	tg.t.Cleanup(func() { c.Close() })
	return c
}

// liveEnvelope encodes a protocol message from its parts.
func liveEnvelope(topic, path string, status int, value string, headers ...string) string {
	h := map[string]any{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	m := map[string]any{"topic": topic, "path": path, "headers": h}
	if value != "" {
		m["value"] = json.RawMessage(value)
	}
	if status != 0 {
		m["status"] = status
	}
	b, _ := json.Marshal(m)
	return string(b)
}

const (
	lampTopic = "org.eclipse.ditto/lamp/things/live/messages/"
	lampCmd   = "org.eclipse.ditto/lamp/things/live/commands/"
)

func TestClassifyLive(t *testing.T) {
	for _, tc := range []struct {
		topic   string
		status  int
		headers protocol.Headers
		want    liveKind
	}{
		{"ns/n/things/live/messages/ask", 0, nil, liveAsk},
		{"ns/n/things/live/messages/ask", 200, nil, liveReply},
		{"ns/n/things/live/commands/modify", 0, nil, liveAsk},
		{"ns/n/things/live/commands/modify", 204, nil, liveReply},
		{"ns/n/things/live/errors", 404, nil, liveReply},
		{"ns/n/things/live/errors", 0, nil, notLive},
		{"ns/n/things/live/events/modified", 0, nil, liveEvent},
		{"ns/n/things/live/acks/my-ack", 200, nil, notLive},
		{"ns/n/things/twin/commands/retrieve", 0, nil, notLive},
		{"ns/n/things/twin/commands/retrieve", 0, protocol.Headers{"live-channel-condition": "exists(x)"}, liveAsk},
		{"ns/n/things/twin/commands/modify", 0, protocol.Headers{"live-channel-condition": "exists(x)"}, liveAsk},
		{"ns/n/policies/commands/retrieve", 0, nil, notLive},
	} {
		topic, err := protocol.ParseTopic(tc.topic)
		if err != nil {
			t.Fatal(err)
		}
		env := protocol.Envelope{Topic: tc.topic, Status: tc.status, Headers: tc.headers}
		if got := classifyLive(&env, &topic); got != tc.want {
			t.Errorf("%s status %d %v: %d, want %d", tc.topic, tc.status, tc.headers, got, tc.want)
		}
	}
}

// TestLiveMessageFanOut: a message reaches the sessions that started
// messages, may read its resource and match its namespaces and filter,
// enriched with the extra fields they may read; never the sender, never a
// session of another stream.
func TestLiveMessageFanOut(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	sender := tg.dialUser("ditto", "")
	owner := tg.dialUser("ditto", "")
	alice := tg.dialUser("alice", "")
	bob := tg.dialUser("bob", "")
	otherNS := tg.dialUser("ditto", "")
	commands := tg.dialUser("ditto", "")
	filtered := tg.dialUser("ditto", "")
	for _, s := range []struct {
		c    *websocket.Conn
		word string
	}{
		{sender, "START-SEND-MESSAGES"},
		{owner, "START-SEND-MESSAGES?namespaces=org.eclipse.ditto"},
		{alice, "START-SEND-MESSAGES?extraFields=attributes"},
		{bob, "START-SEND-MESSAGES"},
		{otherNS, "START-SEND-MESSAGES?namespaces=org.other"},
		{commands, "START-SEND-LIVE-COMMANDS"},
		{filtered, "START-SEND-MESSAGES?filter=" + url.QueryEscape(`and(eq(topic:subject,"hello"),eq(attributes/room,"kitchen"))`) + "&extraFields=attributes/room"},
	} {
		sendText(t, s.c, s.word)
		word, _, _ := strings.Cut(s.word, "?")
		expectText(t, s.c, word+":ACK")
	}

	send := func(subject, path string) {
		sendText(t, sender, liveEnvelope(lampTopic+subject, path, 0, `"hi"`, "correlation-id", subject, "response-required", "false", "content-type", "text/plain"))
		roundTrip(t, sender, "after-"+subject) // the message was routed before this answer
	}
	expectMessage := func(c *websocket.Conn, subject, extra string) {
		t.Helper()
		env := readEnvelope(t, c)
		if env.Topic != lampTopic+subject || env.Headers[protocol.HeaderCorrelationID] != subject || string(env.Value) != `"hi"` {
			t.Fatalf("got %s %s %s, want message %s", env.Topic, env.Headers, env.Value, subject)
		}
		if string(env.Extra) != extra {
			t.Fatalf("message %s: extra %s, want %s", subject, env.Extra, extra)
		}
	}
	send("hello", "/inbox/messages/hello")
	send("secret", "/inbox/messages/secret")
	send("on", "/features/light/inbox/messages/on")

	expectMessage(owner, "hello", "")
	expectMessage(owner, "secret", "")
	expectMessage(owner, "on", "")
	expectMessage(alice, "hello", `{"attributes":{"room":"kitchen"}}`) // pruned extras
	expectMessage(bob, "on", "")
	expectMessage(filtered, "hello", `{"attributes":{"room":"kitchen"}}`)
	for i, c := range []*websocket.Conn{alice, bob, otherNS, commands, filtered} {
		roundTrip(t, c, "nothing-else-"+string(rune('a'+i)))
	}
}

// TestLiveReplies: the first matching reply goes to the asker; later ones
// and replies to other commands are dropped; without a reply the asker gets
// command.timeout, worded for an unmatched reply when one came.
func TestLiveReplies(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	app := tg.dialUser("ditto", "")
	device := tg.dialUser("ditto", "")
	other := tg.dialUser("ditto", "")
	for _, c := range []*websocket.Conn{device, other} {
		sendText(t, c, "START-SEND-MESSAGES")
		expectText(t, c, "START-SEND-MESSAGES:ACK")
		sendText(t, c, "START-SEND-LIVE-COMMANDS")
		expectText(t, c, "START-SEND-LIVE-COMMANDS:ACK")
	}

	sendText(t, app, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `{"q":1}`, "correlation-id", "q-1", "content-type", "application/json"))
	for _, c := range []*websocket.Conn{device, other} {
		if env := readEnvelope(t, c); env.Headers[protocol.HeaderCorrelationID] != "q-1" || env.Headers[protocol.HeaderResponseRequired] != "true" {
			t.Fatalf("responder got %s %v", env.Topic, env.Headers)
		}
	}
	// A reply for another subject does not count; the first good one wins.
	sendText(t, other, liveEnvelope(lampTopic+"other", "/outbox/messages/other", 200, `1`, "correlation-id", "q-1"))
	sendText(t, device, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", 200, `{"a":1}`, "correlation-id", "q-1", "content-type", "application/json"))
	// Sessions are served concurrently: let the device's read loop handle its
	// reply (a round trip after it) before the other one replies.
	roundTrip(t, device, "device-replied")
	sendText(t, other, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", 200, `{"a":2}`, "correlation-id", "q-1", "content-type", "application/json"))
	env := readEnvelope(t, app)
	if env.Status != 200 || string(env.Value) != `{"a":1}` || env.Headers[protocol.HeaderCorrelationID] != "q-1" {
		t.Fatalf("app got %s %d %s", env.Topic, env.Status, env.Value)
	}
	roundTrip(t, app, "nothing-more")

	// A device's error answers a live command.
	sendText(t, app, liveEnvelope(lampCmd+"modify", "/attributes/room", 0, `"hall"`, "correlation-id", "c-1"))
	readEnvelope(t, device)
	readEnvelope(t, other)
	sendText(t, device, liveEnvelope("org.eclipse.ditto/lamp/things/live/errors", "/", 403,
		`{"status":403,"error":"things:attribute.notmodifiable","message":"no"}`, "correlation-id", "c-1"))
	if env, e := readError(t, app); env.Topic != "org.eclipse.ditto/lamp/things/live/errors" || e.Code != protocol.CodeAttributeNotModifiable {
		t.Fatalf("app got %s %+v", env.Topic, e)
	}

	// A response to another path is invalid: the 408 says so.
	sendText(t, app, liveEnvelope(lampCmd+"retrieve", "/attributes", 0, "", "correlation-id", "c-2", "timeout", "200ms"))
	readEnvelope(t, device)
	readEnvelope(t, other)
	sendText(t, device, liveEnvelope(lampCmd+"retrieve", "/features", 200, `{}`, "correlation-id", "c-2"))
	_, e := readError(t, app)
	if e.Code != protocol.CodeCommandTimeout || !strings.Contains(e.Description, "Resource path of live response </features> differs") ||
		e.Message != "The Command reached the specified timeout of 200ms." {
		t.Fatalf("timeout %+v", e)
	}
	eventually(t, "no live request waiting", func() bool { return tg.g.LivePending() == 0 })
}

// TestLiveAnswerPrunedForAsker: a device's answer to a live retrieve shows
// the asker only what the thing's policy lets it read.
func TestLiveAnswerPrunedForAsker(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	alice := tg.dialUser("alice", "")
	device := tg.dialUser("ditto", "")
	sendText(t, device, "START-SEND-LIVE-COMMANDS")
	expectText(t, device, "START-SEND-LIVE-COMMANDS:ACK")
	sendText(t, alice, liveEnvelope(lampCmd+"retrieve", "/attributes", 0, "", "correlation-id", "r-1"))
	readEnvelope(t, device)
	sendText(t, device, liveEnvelope(lampCmd+"retrieve", "/attributes", 200, `{"room":"hall","secret":"y"}`, "correlation-id", "r-1"))
	if env := readEnvelope(t, alice); env.Status != 200 || string(env.Value) != `{"room":"hall"}` {
		t.Fatalf("alice got %d %s", env.Status, env.Value)
	}
}

// TestLiveRespondersGone: when every session a request reached has closed,
// the asker gets its 408 at once; when the asker closes, its requests end;
// either way nothing is left waiting.
func TestLiveRespondersGone(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	app := tg.dialUser("ditto", "")
	device := tg.dialUser("ditto", "")
	sendText(t, device, "START-SEND-MESSAGES")
	expectText(t, device, "START-SEND-MESSAGES:ACK")
	sendText(t, app, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", "g-1", "timeout", "60s"))
	readEnvelope(t, device)
	if n := tg.g.LivePending(); n != 1 {
		t.Fatalf("pending %d", n)
	}
	device.Close()
	if _, e := readError(t, app); e.Code != protocol.CodeCommandTimeout || !strings.Contains(e.Message, "disconnected") {
		t.Fatalf("after the device left: %+v", e)
	}
	eventually(t, "no request left", func() bool { return tg.g.LivePending() == 0 })

	// Nobody to answer: the request waits for its timeout, until the asker
	// leaves.
	for _, cid := range []string{"a", "b", "c"} {
		sendText(t, app, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", cid, "timeout", "60s"))
	}
	roundTrip(t, app, "sent")
	if n := tg.g.LivePending(); n != 3 {
		t.Fatalf("pending %d", n)
	}
	app.Close()
	eventually(t, "no request left after the asker closed", func() bool { return tg.g.LivePending() == 0 })
}

// TestLiveBoundsPerSession: beyond LiveMaxPerSession requests waiting, a
// session's next one is refused with too.many.requests.
func TestLiveBoundsPerSession(t *testing.T) {
	tg, _ := newLiveGateway(t, func(c *Config) { c.LiveMaxPerSession = 2 })
	app := tg.dialUser("ditto", "")
	for _, cid := range []string{"1", "2", "3"} {
		sendText(t, app, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", cid))
	}
	env, e := readError(t, app)
	if e.Code != protocol.CodeTooManyRequests || e.Status != 429 || env.Headers[protocol.HeaderCorrelationID] != "3" {
		t.Fatalf("third request: %s %+v", env.Headers, e)
	}
	other := tg.dialUser("ditto", "")
	sendText(t, other, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", "1"))
	roundTrip(t, other, "other-accepted") // another session has its own bound
	if n := tg.g.LivePending(); n != 3 {
		t.Fatalf("pending %d", n)
	}
}

// TestLiveRefusals: a refused sender gets the authoriser's error; a create
// and a live-channel-condition on a change are refused with 405; without
// a thing, 404.
func TestLiveRefusals(t *testing.T) {
	tg, f := newLiveGateway(t, nil)
	app := tg.dialUser("ditto", "")
	sendText(t, app, liveEnvelope(lampCmd+"create", "/", 0, `{}`, "correlation-id", "1"))
	if _, e := readError(t, app); e.Code != protocol.CodeThingNotCreatable || e.Status != 405 {
		t.Fatalf("create: %+v", e)
	}
	sendText(t, app, liveEnvelope("org.eclipse.ditto/lamp/things/twin/commands/modify", "/attributes/room", 0, `1`,
		"correlation-id", "2", "live-channel-condition", "exists(attributes)"))
	if _, e := readError(t, app); e.Code != "things:live.channelcondition.notallowed" || e.Status != 405 {
		t.Fatalf("condition on a modify: %+v", e)
	}
	sendText(t, app, liveEnvelope("org.eclipse.ditto/none/things/live/messages/x", "/inbox/messages/x", 0, `1`, "correlation-id", "3"))
	if _, e := readError(t, app); e.Code != protocol.CodeThingNotFound {
		t.Fatalf("no thing: %+v", e)
	}
	sendText(t, app, liveEnvelope(lampTopic+"x", "/inbox/messages/y", 0, `1`, "correlation-id", "4"))
	if _, e := readError(t, app); e.Code != protocol.CodeInvalidPath {
		t.Fatalf("path of another subject: %+v", e)
	}
	f.mu.Lock()
	f.refuse = protocol.Errorf(protocol.CodeMessageSendNotAllowed, "You are not allowed to send messages for the Thing with id '%s'!", liveThingID)
	f.mu.Unlock()
	sendText(t, app, liveEnvelope(lampTopic+"x", "/inbox/messages/x", 0, `1`, "correlation-id", "5"))
	if _, e := readError(t, app); e.Code != protocol.CodeMessageSendNotAllowed {
		t.Fatalf("refused: %+v", e)
	}
	// response-required=false: no error either.
	sendText(t, app, liveEnvelope(lampTopic+"x", "/inbox/messages/x", 0, `1`, "correlation-id", "6", "response-required", "false"))
	roundTrip(t, app, "after-silent-refusal")
}

// TestLiveSmartChannel: a retrieve with a live-channel-condition is answered
// by the twin when the condition does not hold, by the device when it
// does; with use-twin, by the twin when the device does not answer.
func TestLiveSmartChannel(t *testing.T) {
	tg, f := newLiveGateway(t, nil)
	app := tg.dialUser("ditto", "")
	device := tg.dialUser("ditto", "")
	sendText(t, device, "START-SEND-LIVE-COMMANDS")
	expectText(t, device, "START-SEND-LIVE-COMMANDS:ACK")

	twinRetrieve := "org.eclipse.ditto/lamp/things/twin/commands/retrieve"
	sendText(t, app, liveEnvelope(twinRetrieve, "/attributes", 0, "", "correlation-id", "s-1", "live-channel-condition", "exists(attributes)"))
	env := readEnvelope(t, app)
	if env.Status != 200 || env.Topic != twinRetrieve || env.Headers["live-channel-condition-matched"] != "false" || env.Headers["channel"] != "twin" {
		t.Fatalf("unmatched: %s %d %v", env.Topic, env.Status, env.Headers)
	}

	f.mu.Lock()
	f.match = true
	f.mu.Unlock()
	sendText(t, app, liveEnvelope(twinRetrieve, "/attributes", 0, "", "correlation-id", "s-2", "live-channel-condition", "exists(attributes)"))
	cmd := readEnvelope(t, device)
	if cmd.Topic != lampCmd+"retrieve" || cmd.Headers["live-channel-condition"] != "" {
		t.Fatalf("device got %s %v", cmd.Topic, cmd.Headers)
	}
	sendText(t, device, liveEnvelope(lampCmd+"retrieve", "/attributes", 200, `{"room":"live"}`, "correlation-id", "s-2"))
	env = readEnvelope(t, app)
	if env.Status != 200 || string(env.Value) != `{"room":"live"}` || env.Headers["live-channel-condition-matched"] != "true" {
		t.Fatalf("matched: %s %d %s %v", env.Topic, env.Status, env.Value, env.Headers)
	}

	sendText(t, app, liveEnvelope(lampCmd+"retrieve", "/attributes", 0, "", "correlation-id", "s-3", "timeout", "100ms",
		"live-channel-timeout-strategy", "use-twin"))
	readEnvelope(t, device)
	env = readEnvelope(t, app)
	if env.Status != 200 || env.Topic != twinRetrieve || env.Headers["channel"] != "twin" || env.Headers[protocol.HeaderCorrelationID] != "s-3" {
		t.Fatalf("use-twin: %s %d %v", env.Topic, env.Status, env.Headers)
	}
	sendText(t, app, liveEnvelope(lampCmd+"retrieve", "/attributes", 0, "", "correlation-id", "s-4", "live-channel-timeout-strategy", "sometimes"))
	if _, e := readError(t, app); e.Code != protocol.CodeHeaderInvalid {
		t.Fatalf("bad strategy: %+v", e)
	}
}

// TestLiveEvents: a device's live event reaches the live-event subscribers
// that may read it, pruned, and not the device itself.
func TestLiveEvents(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	device := tg.dialUser("ditto", "")
	alice := tg.dialUser("alice", "")
	bob := tg.dialUser("bob", "")
	twinEvents := tg.dialUser("ditto", "")
	for _, c := range []*websocket.Conn{device, alice, bob} {
		sendText(t, c, "START-SEND-LIVE-EVENTS")
		expectText(t, c, "START-SEND-LIVE-EVENTS:ACK")
	}
	sendText(t, twinEvents, "START-SEND-EVENTS")
	expectText(t, twinEvents, "START-SEND-EVENTS:ACK")

	sendText(t, device, liveEnvelope("org.eclipse.ditto/lamp/things/live/events/modified", "/attributes", 0, `{"room":"hall","secret":"z"}`,
		"correlation-id", "e-1"))
	roundTrip(t, device, "after-event") // the event was not echoed
	env := readEnvelope(t, alice)
	if env.Topic != "org.eclipse.ditto/lamp/things/live/events/modified" || string(env.Value) != `{"room":"hall"}` || env.Headers[protocol.HeaderOriginator] != "nginx:ditto" {
		t.Fatalf("alice got %s %s %v", env.Topic, env.Value, env.Headers)
	}
	roundTrip(t, bob, "bob-nothing")
	roundTrip(t, twinEvents, "twin-nothing")
}

// TestLiveCustomAcks: a message requesting a custom label waits for the
// reply and the acknowledgement of the session that declared it, which sees
// only its label in requested-acks.
func TestLiveCustomAcks(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	app := tg.dialUser("ditto", "")
	device := tg.dialUser("ditto", "?declared-acks=lamp-ack")
	sendText(t, device, "START-SEND-MESSAGES")
	expectText(t, device, "START-SEND-MESSAGES:ACK")
	sendText(t, app, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", "k-1",
		"requested-acks", `["lamp-ack","other-ack"]`, "timeout", "300ms", "content-type", "application/json"))
	m := readEnvelope(t, device)
	if m.Headers[protocol.HeaderRequestedAcks] != `["lamp-ack"]` {
		t.Fatalf("device's requested-acks %q", m.Headers[protocol.HeaderRequestedAcks])
	}
	sendText(t, device, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", 200, `2`, "correlation-id", "k-1", "content-type", "application/json"))
	sendText(t, device, liveEnvelope("org.eclipse.ditto/lamp/things/live/acks/lamp-ack", "/", 202, "", "correlation-id", "k-1"))
	env := readEnvelope(t, app)
	var entries map[string]struct {
		Status int `json:"status"`
	}
	if err := json.Unmarshal(env.Value, &entries); err != nil {
		t.Fatal(err)
	}
	if env.Topic != "org.eclipse.ditto/lamp/things/live/acks" || env.Status != 424 || entries["lamp-ack"].Status != 202 ||
		entries["live-response"].Status != 200 || entries["other-ack"].Status != 408 {
		t.Fatalf("acks %s %d %s", env.Topic, env.Status, env.Value)
	}
	eventually(t, "no request left", func() bool { return tg.g.LivePending() == 0 })
}

// TestLiveShutdownEndsRequests: Shutdown answers the HTTP askers that wait.
func TestLiveShutdownEndsRequests(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	done := make(chan LiveAnswer, 1)
	go func() {
		done <- tg.g.AskLive(context.Background(), auth.Context{Subjects: []string{"nginx:ditto"}},
			protocol.Envelope{Topic: lampTopic + "ask", Path: "/inbox/messages/ask", Headers: protocol.Headers{"correlation-id": "x", "timeout": "60"}})
	}()
	eventually(t, "the request waits", func() bool { return tg.g.LivePending() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tg.g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-done:
		if a.Err == nil || a.Err.Status != 503 {
			t.Fatalf("answer %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the asker still waits")
	}
	a := tg.g.AskLive(context.Background(), auth.Context{Subjects: []string{"nginx:ditto"}},
		protocol.Envelope{Topic: lampTopic + "ask", Path: "/inbox/messages/ask", Headers: protocol.Headers{"correlation-id": "y"}})
	if a.Err == nil || a.Err.Status != 503 {
		t.Fatalf("after shutdown: %+v", a)
	}
}

// TestLiveReplyOnlyFromResponders: only a session the request was delivered
// to may answer it. A session the signal never reached (no grant, or no
// subscription) that sends a reply with the correlation-id does not reach
// the asker, and its request goes on waiting; the genuine device's reply
// still does, with the device as its originator whatever it wrote.
func TestLiveReplyOnlyFromResponders(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	app := tg.dialUser("ditto", "")
	device := tg.dialUser("ditto", "")
	mallory := tg.dialUser("mallory", "") // in no entry of the policy
	alice := tg.dialUser("alice", "")     // may read the inbox, did not subscribe
	for _, c := range []*websocket.Conn{device, mallory} {
		for _, start := range []string{"START-SEND-MESSAGES", "START-SEND-LIVE-COMMANDS"} {
			sendText(t, c, start)
			expectText(t, c, start+":ACK")
		}
	}

	sendText(t, app, liveEnvelope(lampTopic+"unlock", "/inbox/messages/unlock", 0, `{"q":1}`, "correlation-id", "1", "content-type", "application/json"))
	if env := readEnvelope(t, device); env.Headers[protocol.HeaderCorrelationID] != "1" {
		t.Fatalf("device got %s %v", env.Topic, env.Headers)
	}
	roundTrip(t, mallory, "mallory-got-nothing")
	for _, forger := range []*websocket.Conn{mallory, alice} {
		sendText(t, forger, liveEnvelope(lampTopic+"unlock", "/outbox/messages/unlock", 200, `{"ok":"forged"}`,
			"correlation-id", "1", "content-type", "application/json", protocol.HeaderOriginator, "nginx:device"))
		sendText(t, forger, liveEnvelope("org.eclipse.ditto/lamp/things/live/errors", "/", 403,
			`{"status":403,"error":"messages:send.notallowed","message":"forged"}`, "correlation-id", "1"))
		roundTrip(t, forger, "forged") // its replies were handled before this answer
	}
	roundTrip(t, app, "no-forged-answer") // nothing reached the asker
	if n := tg.g.LivePending(); n != 1 {
		t.Fatalf("pending %d: the forged replies ended the request", n)
	}

	sendText(t, device, liveEnvelope(lampTopic+"unlock", "/outbox/messages/unlock", 200, `{"ok":"genuine"}`,
		"correlation-id", "1", "content-type", "application/json", protocol.HeaderOriginator, "nginx:someone-else"))
	env := readEnvelope(t, app)
	if env.Status != 200 || string(env.Value) != `{"ok":"genuine"}` || env.Headers[protocol.HeaderCorrelationID] != "1" {
		t.Fatalf("app got %s %d %s", env.Topic, env.Status, env.Value)
	}
	if got := env.Headers[protocol.HeaderOriginator]; got != "nginx:ditto" {
		t.Errorf("originator %q, want the device's subject", got)
	}
	eventually(t, "no live request waiting", func() bool { return tg.g.LivePending() == 0 })

	// Over HTTP likewise: a forged reply does not end the HTTP asker's wait.
	done := make(chan LiveAnswer, 1)
	go func() {
		done <- tg.g.AskLive(context.Background(), auth.Context{Subjects: []string{"nginx:ditto"}},
			protocol.Envelope{Topic: lampCmd + "retrieve", Path: "/attributes", Headers: protocol.Headers{"correlation-id": "2"}})
	}()
	readEnvelope(t, device)
	sendText(t, mallory, liveEnvelope(lampCmd+"retrieve", "/attributes", 200, `{"room":"forged"}`, "correlation-id", "2"))
	roundTrip(t, mallory, "forged-http")
	select {
	case a := <-done:
		t.Fatalf("the HTTP asker got %+v", a.Response)
	default:
	}
	sendText(t, device, liveEnvelope(lampCmd+"retrieve", "/attributes", 200, `{"room":"hall"}`, "correlation-id", "2"))
	if a := <-done; a.Response.Status != 200 || string(a.Response.Value) != `{"room":"hall"}` || a.Response.Headers[protocol.HeaderOriginator] != "nginx:ditto" {
		t.Fatalf("HTTP asker got %d %s %v", a.Response.Status, a.Response.Value, a.Response.Headers)
	}
}

// TestLiveReplyInvalidStatus: a reply whose status is no final HTTP status
// never reaches the asker as an answer: the device is told its reply is
// invalid, and the asker gets protocoladapter:illegal.adaptable at once,
// over the WebSocket and over HTTP. A forger's invalid reply ends nothing.
func TestLiveReplyInvalidStatus(t *testing.T) {
	tg, _ := newLiveGateway(t, nil)
	app := tg.dialUser("ditto", "")
	device := tg.dialUser("ditto", "")
	mallory := tg.dialUser("mallory", "")
	sendText(t, device, "START-SEND-MESSAGES")
	expectText(t, device, "START-SEND-MESSAGES:ACK")

	for i, status := range []int{1000, 42, 101, -200} {
		cid := "bad-" + string(rune('a'+i))
		sendText(t, app, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", cid, "timeout", "60s"))
		readEnvelope(t, device)
		sendText(t, mallory, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", status, `1`, "correlation-id", cid))
		if _, e := readError(t, mallory); e.Code != protocol.CodeJSONFormatInvalid {
			t.Fatalf("status %d: forger got %+v", status, e)
		}
		roundTrip(t, app, "nothing-yet-"+cid)
		sendText(t, device, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", status, `"x"`, "correlation-id", cid, "content-type", "text/plain"))
		if _, e := readError(t, device); e.Code != protocol.CodeJSONFormatInvalid || e.Status != 400 {
			t.Fatalf("status %d: device got %+v", status, e)
		}
		env, e := readError(t, app)
		if e.Code != protocol.CodeIllegalAdaptable || e.Status != 422 || env.Headers[protocol.HeaderCorrelationID] != cid ||
			!strings.Contains(e.Message, "status <"+strconv.Itoa(status)+">") {
			t.Fatalf("status %d: app got %+v %v", status, e, env.Headers)
		}
	}

	done := make(chan LiveAnswer, 1)
	go func() {
		done <- tg.g.AskLive(context.Background(), auth.Context{Subjects: []string{"nginx:ditto"}},
			protocol.Envelope{Topic: lampTopic + "ask", Path: "/inbox/messages/ask", Headers: protocol.Headers{"correlation-id": "h"}})
	}()
	readEnvelope(t, device)
	sendText(t, device, liveEnvelope(lampTopic+"ask", "/outbox/messages/ask", 1000, `"x"`, "correlation-id", "h", "response-required", "false"))
	if a := <-done; a.Err == nil || a.Err.Code != protocol.CodeIllegalAdaptable || a.Response.Status != 422 {
		t.Fatalf("HTTP asker got %+v", a)
	}
	roundTrip(t, device, "no-error-without-response-required")
	eventually(t, "no live request waiting", func() bool { return tg.g.LivePending() == 0 })
}

// TestLiveBoundsPerCaller: on the HTTP door, where each request is an owner
// of its own, the requests one caller waits for are bounded like a
// session's, so that one caller cannot take the gateway's slots; claim
// messages, which need no permission, have a tighter bound per caller over
// both doors. Others are not affected, and a slot is free again once its
// request ended.
func TestLiveBoundsPerCaller(t *testing.T) {
	tg, _ := newLiveGateway(t, func(c *Config) { c.LiveMaxPerSession = 2; c.LiveMaxClaimsPerCaller = 1 })
	mallory := auth.Context{Subjects: []string{"nginx:mallory", "group:admins"}}
	ask := func(ctx context.Context, who auth.Context, subject, cid string) chan LiveAnswer {
		done := make(chan LiveAnswer, 1)
		go func() {
			done <- tg.g.AskLive(ctx, who, protocol.Envelope{Topic: lampTopic + subject, Path: "/inbox/messages/" + subject,
				Headers: protocol.Headers{"correlation-id": cid, "timeout": "60"}})
		}()
		return done
	}
	tooMany := func(done chan LiveAnswer, what string) {
		t.Helper()
		select {
		case a := <-done:
			if a.Err == nil || a.Err.Code != protocol.CodeTooManyRequests || a.Err.Status != 429 {
				t.Fatalf("%s: %+v", what, a)
			}
		case <-time.After(frameWait):
			t.Fatalf("%s: still waiting", what)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := ask(ctx, mallory, "ask", "same")
	ask(ctx, mallory, "ask", "same") // another request: its own correlation-ids
	eventually(t, "two requests waiting", func() bool { return tg.g.LivePending() == 2 })
	tooMany(ask(ctx, mallory, "ask", "3"), "third request of the caller")
	// The same caller with other further subjects is the same caller.
	tooMany(ask(ctx, auth.Context{Subjects: []string{"nginx:mallory"}}, "ask", "4"), "same default subject")
	ask(ctx, auth.Context{Subjects: []string{"nginx:ditto"}}, "ask", "5")
	eventually(t, "another caller's request waiting", func() bool { return tg.g.LivePending() == 3 })

	// A slot is free again once a request ended.
	cancel() // ends all of them
	<-first
	eventually(t, "nothing waiting", func() bool { return tg.g.LivePending() == 0 })
	firstCtx, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()

	// Claims: one per caller, over HTTP and WebSocket together.
	claim := ask(firstCtx, mallory, "claim", "c-1")
	eventually(t, "the claim waiting", func() bool { return tg.g.LivePending() == 1 })
	tooMany(ask(firstCtx, mallory, "claim", "c-2"), "second claim over HTTP")
	ws := tg.dialUser("mallory", "")
	sendText(t, ws, liveEnvelope(lampTopic+"claim", "/inbox/messages/claim", 0, `1`, "correlation-id", "c-3"))
	if _, e := readError(t, ws); e.Code != protocol.CodeTooManyRequests {
		t.Fatalf("second claim over the WebSocket: %+v", e)
	}
	// Mallory's other messages and others' claims are not affected.
	sendText(t, ws, liveEnvelope(lampTopic+"ask", "/inbox/messages/ask", 0, `1`, "correlation-id", "m-1"))
	alice := tg.dialUser("alice", "")
	sendText(t, alice, liveEnvelope(lampTopic+"claim", "/inbox/messages/claim", 0, `1`, "correlation-id", "c-4"))
	eventually(t, "three requests waiting", func() bool { return tg.g.LivePending() == 3 })
	cancelFirst()
	if a := <-claim; !a.canceled {
		t.Fatalf("claim %+v", a)
	}
	sendText(t, ws, liveEnvelope(lampTopic+"claim", "/inbox/messages/claim", 0, `1`, "correlation-id", "c-5"))
	eventually(t, "the new claim waiting", func() bool { return tg.g.LivePending() == 3 })
	roundTrip(t, ws, "claim-accepted")
}

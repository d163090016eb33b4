package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/metrics"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// fakeTwins records the commands and answers each with a 200 response that
// echoes the correlation-id. The real twin handler is covered end to end
// elsewhere.
type fakeTwins struct {
	mu   sync.Mutex
	cmds []protocol.Envelope
	who  []auth.Context
}

func (f *fakeTwins) Handle(_ context.Context, who auth.Context, cmd protocol.Envelope) protocol.Envelope {
	f.mu.Lock()
	f.cmds = append(f.cmds, cmd)
	f.who = append(f.who, who)
	f.mu.Unlock()
	return protocol.Envelope{
		Topic:   cmd.Topic,
		Headers: protocol.Headers{protocol.HeaderCorrelationID: cmd.Headers[protocol.HeaderCorrelationID]},
		Path:    cmd.Path,
		Status:  http.StatusOK,
	}
}

func (f *fakeTwins) commands() []protocol.Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]protocol.Envelope(nil), f.cmds...)
}

// basicAuth accepts one HTTP Basic user.
type basicAuth struct{ user, pass string }

func (a basicAuth) Authenticate(r *http.Request) (auth.Context, error) {
	u, p, ok := r.BasicAuth()
	if !ok || u != a.user || p != a.pass {
		return auth.Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "The credentials are missing or wrong.")
	}
	return auth.Context{Subjects: []string{"nginx:" + u}}, nil
}

const (
	testUser = "ditto"
	testPass = "secret"
)

// testGateway is a Gateway served by an httptest server.
type testGateway struct {
	t       testing.TB
	g       *Gateway
	srv     *httptest.Server
	twins   *fakeTwins
	metrics *metrics.Metrics
	url     string
}

// newTestGateway starts a gateway; mod adjusts its config. Cleanup shuts the
// gateway down (waiting for every session) and then the server.
func newTestGateway(t testing.TB, mod func(*Config)) *testGateway {
	t.Helper()
	tg := &testGateway{t: t, twins: &fakeTwins{}, metrics: metrics.New()}
	cfg := Config{
		Twins:   tg.twins,
		Auth:    basicAuth{testUser, testPass},
		Metrics: tg.metrics,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if _, bench := t.(*testing.B); bench {
		cfg.Logger = nil
	}
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tg.g = g
	tg.srv = httptest.NewServer(g)
	tg.url = "ws" + strings.TrimPrefix(tg.srv.URL, "http") + "/ws/2"
	t.Cleanup(tg.srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tg
}

func authHeader() http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPass)))
	return h
}

// dial opens an authenticated session.
func (tg *testGateway) dial() *websocket.Conn {
	return tg.dialWith(websocket.DefaultDialer)
}

func (tg *testGateway) dialWith(d *websocket.Dialer) *websocket.Conn {
	tg.t.Helper()
	c, resp, err := d.Dial(tg.url, authHeader())
	if err != nil {
		tg.t.Fatalf("dial: %v (response %v)", err, resp)
	}
	tg.t.Cleanup(func() { c.Close() })
	return c
}

const frameWait = 10 * time.Second

func sendText(t testing.TB, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(frameWait))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func readFrame(t testing.TB, c *websocket.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(frameWait))
	mt, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if mt != websocket.TextMessage {
		t.Fatalf("frame type %d, want text", mt)
	}
	return data
}

func readEnvelope(t testing.TB, c *websocket.Conn) protocol.Envelope {
	t.Helper()
	data := readFrame(t, c)
	env, err := protocol.DecodeEnvelope(data)
	if err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return env
}

// readError reads an error envelope and returns its error.
func readError(t testing.TB, c *websocket.Conn) (protocol.Envelope, protocol.Error) {
	t.Helper()
	env := readEnvelope(t, c)
	var e protocol.Error
	if err := json.Unmarshal(env.Value, &e); err != nil {
		t.Fatalf("error value %s: %v", env.Value, err)
	}
	if env.Status != e.Status {
		t.Errorf("envelope status %d, error status %d", env.Status, e.Status)
	}
	return env, e
}

// expectText reads the next frame and checks it is want.
func expectText(t testing.TB, c *websocket.Conn, want string) {
	t.Helper()
	if got := string(readFrame(t, c)); got != want {
		t.Fatalf("frame %q, want %q", got, want)
	}
}

const commandTopic = "org.eclipse.ditto/thing-1/things/twin/commands/retrieve"

// command is a retrieve command with the correlation-id cid ("" for none)
// and extra headers.
func command(cid string, headers ...string) string {
	h := map[string]any{}
	if cid != "" {
		h[protocol.HeaderCorrelationID] = cid
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	b, _ := json.Marshal(map[string]any{"topic": commandTopic, "headers": h, "path": "/"})
	return string(b)
}

// expectResponse reads the next frame and checks it is the 200 response to
// the command with correlation-id cid.
func expectResponse(t testing.TB, c *websocket.Conn, cid string) {
	t.Helper()
	env := readEnvelope(t, c)
	if env.Status != http.StatusOK || env.Headers[protocol.HeaderCorrelationID] != cid || env.Topic != commandTopic {
		t.Fatalf("got %s %d cid %q, want the 200 response to %q", env.Topic, env.Status, env.Headers[protocol.HeaderCorrelationID], cid)
	}
}

// roundTrip sends a command and expects its response next: everything queued
// before it has been read by then.
func roundTrip(t testing.TB, c *websocket.Conn, cid string) {
	t.Helper()
	sendText(t, c, command(cid))
	expectResponse(t, c, cid)
}

// event is a modified event of thing ns:name with the given value, as a
// twin handler without policies emits it: every session may read it.
func event(ns, name string, rev int64, value string) twin.Event {
	return twin.Event{
		ThingID:    ns + ":" + name,
		Namespace:  ns,
		Revision:   rev,
		Unenforced: true,
		Envelope: protocol.Envelope{
			Topic:    ns + "/" + name + "/things/twin/events/modified",
			Headers:  protocol.Headers{protocol.HeaderCorrelationID: fmt.Sprintf("ev-%d", rev)},
			Path:     "/attributes/x",
			Value:    json.RawMessage(value),
			Revision: rev,
		},
	}
}

// expectEvent reads the next frame and checks it is the event of ns with rev.
func expectEvent(t testing.TB, c *websocket.Conn, ns string, rev int64) protocol.Envelope {
	t.Helper()
	env := readEnvelope(t, c)
	if !strings.HasPrefix(env.Topic, ns+"/") || !strings.HasSuffix(env.Topic, "/things/twin/events/modified") || env.Revision != rev {
		t.Fatalf("got %s revision %d, want an event of %s with revision %d", env.Topic, env.Revision, ns, rev)
	}
	return env
}

// metricValue reads a counter or gauge.
func metricValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatalf("metric: %v", err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// eventually polls cond until it holds or the wait ends.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(frameWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closingSessions counts the sessions whose close started.
func (g *Gateway) closingSessions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for s := range g.sessions {
		if s.isClosing() {
			n++
		}
	}
	return n
}

// openSessions counts the registered sessions.
func (g *Gateway) openSessions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Package e2e tests the gateway end to end: each test starts the real server
// on a random loopback port with a temporary data directory (a real SQLite
// file) and talks to it through real WebSocket and HTTP clients.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/server"
)

const (
	testUser     = "ditto"
	testPassword = "ditto"
	waitTimeout  = 10 * time.Second
)

// gatewayUnderTest is a running gateway.
type gatewayUnderTest struct {
	baseURL string
	wsURL   string
	dataDir string
}

// startGateway starts a gateway on 127.0.0.1:0 with its data in dataDir (a
// new temporary directory when empty) and stops it when the test ends.
func startGateway(t testing.TB, dataDir string, configure func(*server.Config)) *gatewayUnderTest {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: dataDir}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := server.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	return &gatewayUnderTest{baseURL: "http://" + addr, wsURL: "ws://" + addr + "/ws/2", dataDir: dataDir}
}

// httpResult is an HTTP response with its body read.
type httpResult struct {
	status int
	header http.Header
	body   []byte
}

// do sends an HTTP request as the test user; headers may set Content-Type.
func (g *gatewayUnderTest) do(t testing.TB, method, path, body string, headers map[string]string) httpResult {
	t.Helper()
	return g.doAs(t, testUser, method, path, body, headers)
}

// doAs sends an HTTP request as user (password testPassword).
func (g *gatewayUnderTest) doAs(t testing.TB, user, method, path, body string, headers map[string]string) httpResult {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.baseURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, testPassword)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{status: resp.StatusCode, header: resp.Header, body: b}
}

// wsClient is one WebSocket session. Frames are read by a goroutine into a
// channel so that tests can wait with a timeout.
type wsClient struct {
	conn   *websocket.Conn
	frames chan frame
	cid    atomic.Int64
}

type frame struct {
	text string
	err  error
}

func (g *gatewayUnderTest) dial(t testing.TB) *wsClient {
	t.Helper()
	return g.dialAs(t, testUser)
}

// dialAs opens a session as user (password testPassword).
func (g *gatewayUnderTest) dialAs(t testing.TB, user string) *wsClient {
	t.Helper()
	conn, resp := g.dialQuery(t, user, "")
	if conn == nil {
		t.Fatalf("dial %s as %s: response %v", g.wsURL, user, resp)
	}
	return newWSClient(t, conn)
}

// dialQuery dials /ws/2 with a query as user; conn is nil when the upgrade
// failed.
func (g *gatewayUnderTest) dialQuery(t testing.TB, user, query string) (*websocket.Conn, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, testPassword)
	h := http.Header{}
	h.Set("Authorization", req.Header.Get("Authorization"))
	conn, resp, err := websocket.DefaultDialer.Dial(g.wsURL+query, h)
	if err != nil {
		return nil, resp
	}
	return conn, resp
}

// newWSClient reads conn's frames into a channel until it fails, and closes
// conn when the test ends.
func newWSClient(t testing.TB, conn *websocket.Conn) *wsClient {
	c := &wsClient{conn: conn, frames: make(chan frame, 4096)}
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			c.frames <- frame{text: string(data), err: err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *wsClient) sendText(t testing.TB, text string) {
	t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// next returns the next frame, failing the test after waitTimeout.
func (c *wsClient) next(t testing.TB) string {
	t.Helper()
	select {
	case f := <-c.frames:
		if f.err != nil {
			t.Fatalf("reading from the session: %v", f.err)
		}
		return f.text
	case <-time.After(waitTimeout):
		t.Fatalf("no frame within %v", waitTimeout)
	}
	return ""
}

// noFrameWithin fails if a frame arrives within d.
func (c *wsClient) noFrameWithin(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case f := <-c.frames:
		t.Fatalf("unexpected frame: %q (err %v)", f.text, f.err)
	case <-time.After(d):
	}
}

// envelope is a decoded protocol message as a test sees it.
type envelope struct {
	Topic     string            `json:"topic"`
	Headers   map[string]any    `json:"headers"`
	Path      string            `json:"path"`
	Value     json.RawMessage   `json:"value"`
	Status    int               `json:"status"`
	Revision  int64             `json:"revision"`
	Timestamp string            `json:"timestamp"`
	Extra     map[string]any    `json:"extra"`
	Raw       string            `json:"-"`
	Fields    map[string]string `json:"-"`
}

func decodeEnvelope(t testing.TB, text string) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal([]byte(text), &e); err != nil {
		t.Fatalf("not an envelope: %q: %v", text, err)
	}
	e.Raw = text
	return e
}

// errorCode returns the "error" field of an error value.
func (e envelope) errorCode() string {
	var v struct {
		Error string `json:"error"`
	}
	json.Unmarshal(e.Value, &v)
	return v.Error
}

// command sends env (a JSON object without correlation-id) with a fresh
// correlation-id and returns the response with that id, skipping other frames.
func (c *wsClient) command(t testing.TB, topic, path, value string, headers map[string]any) envelope {
	t.Helper()
	cid := fmt.Sprintf("cid-%d-%d", time.Now().UnixNano(), c.cid.Add(1))
	h := map[string]any{"correlation-id": cid}
	for k, v := range headers {
		h[k] = v
	}
	msg := map[string]any{"topic": topic, "path": path, "headers": h}
	if value != "" {
		msg["value"] = json.RawMessage(value)
	}
	b, _ := json.Marshal(msg)
	c.sendText(t, string(b))
	deadline := time.After(waitTimeout)
	for {
		select {
		case f := <-c.frames:
			if f.err != nil {
				t.Fatalf("reading response to %s: %v", topic, f.err)
			}
			if !strings.HasPrefix(f.text, "{") {
				continue
			}
			e := decodeEnvelope(t, f.text)
			if e.Headers["correlation-id"] == cid && e.Status != 0 {
				return e
			}
		case <-deadline:
			t.Fatalf("no response to %s %s within %v", topic, path, waitTimeout)
		}
	}
}

// startEvents sends START-SEND-EVENTS with optional parameters and waits for the ACK.
func (c *wsClient) startEvents(t testing.TB, params string) {
	t.Helper()
	cmd := "START-SEND-EVENTS"
	if params != "" {
		cmd += "?" + params
	}
	c.sendText(t, cmd)
	if got := c.next(t); got != "START-SEND-EVENTS:ACK" {
		t.Fatalf("%s: got %q, want the ACK", cmd, got)
	}
}

// nextEvent returns the next event envelope, skipping nothing: events are
// the only frames a pure observer session receives.
func (c *wsClient) nextEvent(t testing.TB) envelope {
	t.Helper()
	e := decodeEnvelope(t, c.next(t))
	if !strings.Contains(e.Topic, "/events/") {
		t.Fatalf("expected an event, got %s", e.Raw)
	}
	return e
}

// eventFor waits for the event of thingID with the given revision, skipping
// events of other things and earlier revisions.
func (c *wsClient) eventFor(t testing.TB, thingID string, revision int64) envelope {
	t.Helper()
	ns, name, _ := strings.Cut(thingID, ":")
	prefix := ns + "/" + name + "/things/twin/events/"
	deadline := time.After(waitTimeout)
	for {
		select {
		case f := <-c.frames:
			if f.err != nil {
				t.Fatalf("waiting for the event of %s rev %d: %v", thingID, revision, f.err)
			}
			e := decodeEnvelope(t, f.text)
			if strings.HasPrefix(e.Topic, prefix) && e.Revision == revision {
				return e
			}
		case <-deadline:
			t.Fatalf("no event for %s revision %d within %v", thingID, revision, waitTimeout)
		}
	}
}

// jsonEqual compares two JSON texts structurally.
func jsonEqual(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: not JSON: %q", what, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %q", what, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// thingPath is the HTTP path of a thing resource.
func thingPath(thingID, path string) string {
	p := "/api/2/things/" + url.PathEscape(thingID)
	if path != "/" {
		p += path
	}
	return p
}

// topicOf is the command topic of thingID for action.
func topicOf(thingID, action string) string {
	ns, name, _ := strings.Cut(thingID, ":")
	return ns + "/" + name + "/things/twin/commands/" + action
}

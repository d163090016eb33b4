//go:build unix

package e2e

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/server"
)

// TestSlowSessionIsClosedWhileOthersReceive: a session that never reads (with
// a tiny socket receive buffer) is closed with close code 1008 and a reason,
// while a session that reads keeps receiving every event.
func TestSlowSessionIsClosedWhileOthersReceive(t *testing.T) {
	g := startGateway(t, "", func(c *server.Config) {
		c.WebSocket.QueueMessages = 8
		c.WebSocket.QueueBytes = 64 << 10
	})
	reader := g.dial(t)
	reader.startEvents(t, "")

	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	h := http.Header{}
	h.Set("Authorization", "Basic ZGl0dG86ZGl0dG8=") // ditto:ditto
	slow, _, err := (&websocket.Dialer{NetDialContext: dialer.DialContext}).Dial(g.wsURL, h)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteMessage(websocket.TextMessage, []byte("START-SEND-EVENTS")); err != nil {
		t.Fatal(err)
	}
	// From here on the slow session reads nothing until the end.

	big := `"` + strings.Repeat("v", 16<<10) + `"`
	if r := g.do(t, http.MethodPut, thingPath("slow:t", "/"), `{}`, nil); r.status != 201 {
		t.Fatalf("create: %d", r.status)
	}
	reader.eventFor(t, "slow:t", 1)
	// 200 events of 16 kB: far beyond the slow session's queue (64 kB) and
	// what its tiny socket buffers hold, while the reader receives each one.
	const events = 200
	for rev := int64(2); rev < 2+events; rev++ {
		if r := g.do(t, http.MethodPut, thingPath("slow:t", "/attributes/blob"), big, nil); r.status/100 != 2 {
			t.Fatalf("modify: %d %s", r.status, r.body)
		}
		reader.eventFor(t, "slow:t", rev)
	}
	slow.SetReadDeadline(time.Now().Add(time.Minute))
	for err == nil {
		_, _, err = slow.ReadMessage()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "outbound queue full: session too slow" {
		t.Fatalf("the slow session ended with %v, want close 1008 with the reason", err)
	}
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(metricsText(t, g), `twinway_sessions_closed_total{reason="slow"} 1`) {
		if time.Now().After(deadline) {
			t.Fatal("the slow close was not counted in /metrics")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The reader is unaffected.
	g.do(t, http.MethodPut, thingPath("slow:t", "/attributes/after"), `1`, nil)
	reader.eventFor(t, "slow:t", 2+events)
}

// metricsText returns the gateway's /metrics page.
func metricsText(t testing.TB, g *gatewayUnderTest) string {
	t.Helper()
	resp, err := http.Get(g.baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

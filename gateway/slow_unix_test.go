//go:build unix

package gateway

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/protocol"
)

// smallReceiveBuffer dials with a tiny SO_RCVBUF, so that a client that does
// not read backs the server up after a few kilobytes.
func smallReceiveBuffer() *websocket.Dialer {
	nd := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	return &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: frameWait}
}

func TestSlowSessionIsClosed(t *testing.T) {
	tg := newTestGateway(t, func(c *Config) {
		c.QueueMessages = 8
		c.QueueBytes = 64 << 10
	})
	fast := tg.dial()
	slow := tg.dialWith(smallReceiveBuffer())
	for _, c := range []*websocket.Conn{fast, slow} {
		sendText(t, c, "START-SEND-EVENTS")
		expectText(t, c, "START-SEND-EVENTS:ACK")
	}
	// From here on slow reads nothing until the end.

	type frame struct {
		env protocol.Envelope
		err error
	}
	frames := make(chan frame, 16)
	go func() {
		for {
			_, data, err := fast.ReadMessage()
			if err != nil {
				frames <- frame{err: err}
				return
			}
			env, err := protocol.DecodeEnvelope(data)
			frames <- frame{env: env, err: err}
			if err != nil {
				return
			}
		}
	}()
	_ = fast.SetReadDeadline(time.Now().Add(time.Minute))

	value := `"` + strings.Repeat("v", 16<<10) + `"`
	const maxEvents = 4000 // 64 MB: far beyond any socket buffers
	published, extra := 0, -1
	for published < maxEvents && extra != 0 {
		published++
		tg.g.Publish(event("org.example", "big", int64(published), value))
		// Pace on the reader, so that only the slow session falls behind.
		select {
		case f := <-frames:
			if f.err != nil {
				t.Fatalf("reading session after %d events: %v", published, f.err)
			}
			if f.env.Revision != int64(published) {
				t.Fatalf("reading session got revision %d, want %d", f.env.Revision, published)
			}
		case <-time.After(frameWait):
			t.Fatalf("reading session: event %d did not arrive", published)
		}
		switch {
		case extra > 0:
			extra--
		case extra < 0 && tg.g.closingSessions() == 1:
			extra = 20 // the slow session is closing; the reader goes on receiving
		}
	}
	if extra != 0 {
		t.Fatalf("the slow session was not closed after %d events", published)
	}
	t.Logf("slow session closed; %d events published", published)

	// The slow client finally reads: the events that made it, then the close.
	_ = slow.SetReadDeadline(time.Now().Add(time.Minute))
	got := 0
	var err error
	for {
		if _, _, err = slow.ReadMessage(); err != nil {
			break
		}
		got++
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "outbound queue full: session too slow" {
		t.Fatalf("slow session ended with %v after %d events, want close 1008 with the reason", err, got)
	}
	if got >= published {
		t.Errorf("slow session got all %d events", got)
	}
	t.Logf("slow session read %d of %d events before the close", got, published)

	eventually(t, "the slow close to be counted", func() bool {
		return metricValue(t, tg.metrics.SessionsClosed.WithLabelValues("slow")) == 1
	})
	if got := metricValue(t, tg.metrics.EventsDropped.WithLabelValues("session_slow")); got != 1 {
		t.Errorf("events dropped %v, want 1", got)
	}
	// The reading session is still fine.
	if tg.g.openSessions() != 1 {
		t.Errorf("open sessions %d, want 1", tg.g.openSessions())
	}
	if n := metricValue(t, tg.metrics.EventsDelivered); n < float64(published) {
		t.Errorf("events delivered %v, want at least %d", n, published)
	}
}

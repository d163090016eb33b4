package gateway

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkFanout measures Publish: encoding an event once and queueing it to
// every subscribed session. The sessions are real: their write loops write to
// loopback connections drained by reader goroutines. Every 256 events the
// timer stops until every queue is empty, so queues never overflow and the
// measure is Publish alone.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			tg := newTestGateway(b, nil)
			for range n {
				c := tg.dial()
				sendText(b, c, "START-SEND-EVENTS")
				expectText(b, c, "START-SEND-EVENTS:ACK")
				_ = c.SetReadDeadline(time.Time{})
				go drain(c)
			}
			ev := event("org.example", "bench-thing", 42, `{"temperature":21.5,"humidity":40,"location":{"lat":47.68,"lon":9.38}}`)

			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tg.g.Publish(ev)
				if i++; i%256 == 0 {
					b.StopTimer()
					waitDrained(tg.g)
					b.StartTimer()
				}
			}
			b.StopTimer()
			if closed := tg.g.closingSessions(); closed != 0 {
				b.Fatalf("%d sessions closed during the benchmark", closed)
			}
		})
	}
}

// drain reads and discards frames until the connection ends.
func drain(c *websocket.Conn) {
	for {
		_, r, err := c.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

// waitDrained waits until every session's queue is empty.
func waitDrained(g *Gateway) {
	for {
		g.mu.Lock()
		pending := 0
		for s := range g.sessions {
			pending += s.queue.len()
		}
		g.mu.Unlock()
		if pending == 0 {
			return
		}
		runtime.Gosched()
	}
}

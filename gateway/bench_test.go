package gateway

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/auth/policy"
)

// BenchmarkFanout measures Publish alone: encoding an event once and
// queueing it to every subscribed session. The sessions have queues but no
// connections and no write loops (those are BenchmarkFanoutDelivery's), so
// nothing else competes for the CPU; every 256 events the timer stops while
// the queues are emptied, so they never overflow.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			g, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{testUser, testPass}})
			if err != nil {
				b.Fatal(err)
			}
			sessions := make([]*session, n)
			for i := range sessions {
				s := &session{g: g, queue: newOutQueue(g.cfg.QueueMessages, g.cfg.QueueBytes)}
				g.hubs[streamEvents].subscribe(subscriber{r: s})
				sessions[i] = s
			}
			ev := event("org.example", "bench-thing", 42, `{"temperature":21.5,"humidity":40,"location":{"lat":47.68,"lon":9.38}}`)

			b.ReportAllocs()
			i := 0
			var spare [][]byte
			for b.Loop() {
				g.Publish(ev)
				if i++; i%256 == 0 {
					b.StopTimer()
					for _, s := range sessions {
						msgs := s.queue.take(spare)
						s.queue.written(len(msgs), len(msgs)*len(msgs[0]))
						<-s.queue.wake
						clear(msgs)
						spare = msgs[:0]
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			for _, s := range sessions {
				if s.isClosing() {
					b.Fatal("a session was closed during the benchmark")
				}
			}
		})
	}
}

// BenchmarkFanoutDelivery measures the whole way of an event to its
// subscribers: Publish, the write loops (one system call per batch of queued
// events) and the clients reading the frames over loopback, all in this
// process. Events go out in rounds of 64, each published once every session
// has read the previous round, so that queues stay far from their bounds;
// the timer runs throughout.
func BenchmarkFanoutDelivery(b *testing.B) {
	const round = 64
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			tg := newTestGateway(b, nil)
			var delivered sync.WaitGroup // one per session and round
			for range n {
				c := tg.dial()
				sendText(b, c, "START-SEND-EVENTS")
				expectText(b, c, "START-SEND-EVENTS:ACK")
				_ = c.SetReadDeadline(time.Time{})
				go countRounds(c, round, &delivered)
			}
			ev := event("org.example", "bench-thing", 42, `{"temperature":21.5,"humidity":40,"location":{"lat":47.68,"lon":9.38}}`)

			b.ReportAllocs()
			published := 0
			start := time.Now()
			for b.Loop() {
				if published%round == 0 {
					delivered.Wait()
					delivered.Add(n)
				}
				tg.g.Publish(ev)
				published++
			}
			for ; published%round != 0; published++ { // complete the last round
				tg.g.Publish(ev)
			}
			delivered.Wait()
			b.ReportMetric(float64(published)*float64(n)/time.Since(start).Seconds(), "deliveries/s")
			if closed := tg.g.closingSessions(); closed != 0 {
				b.Fatalf("%d sessions closed during the benchmark", closed)
			}
		})
	}
}

// countRounds reads frames until the connection ends, calling
// delivered.Done after every round of frames.
func countRounds(c *websocket.Conn, round int, delivered *sync.WaitGroup) {
	for n := 1; ; n++ {
		_, r, err := c.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
		if n%round == 0 {
			delivered.Done()
		}
	}
}

// BenchmarkFanoutPolicies is BenchmarkFanout's 1,000 sessions under a policy:
// "entitled" gives every session READ on the whole thing; "views=10" splits
// them over ten subjects, each denied a different part of the changed value,
// so that every event is pruned ten ways and encoded ten times.
func BenchmarkFanoutPolicies(b *testing.B) {
	const sessionsN, subjectsN = 1000, 10
	var fields, entries []string
	for k := range subjectsN {
		fields = append(fields, fmt.Sprintf(`"f%d":%d`, k, k))
		entries = append(entries, fmt.Sprintf(`"e%d":{"subjects":{"nginx:u%d":{"type":"t"}},"resources":{`+
			`"thing:/":{"grant":["READ"],"revoke":[]},"thing:/attributes/x/f%d":{"grant":[],"revoke":["READ"]}}}`, k, k, k))
	}
	value := "{" + strings.Join(fields, ",") + "}"
	p, err := policy.Parse("org.example:p", []byte(`{"entries":{"admin":{"subjects":{"nginx:admin":{"type":"t"}},`+
		`"resources":{"policy:/":{"grant":["WRITE"],"revoke":[]}}},`+strings.Join(entries, ",")+`}}`))
	if err != nil {
		b.Fatal(err)
	}
	enf := policy.Compile(p, time.Now())
	for _, mode := range []string{"entitled", "views=10"} {
		b.Run(mode, func(b *testing.B) {
			g, err := New(Config{Twins: &fakeTwins{}, Auth: basicAuth{testUser, testPass}})
			if err != nil {
				b.Fatal(err)
			}
			sessions := make([]*session, sessionsN)
			for i := range sessions {
				s := &session{g: g, queue: newOutQueue(g.cfg.QueueMessages, g.cfg.QueueBytes)}
				subjects := []string{fmt.Sprintf("nginx:u%d", i%subjectsN)}
				g.hubs[streamEvents].subscribe(subscriber{r: s, subjects: subjects})
				sessions[i] = s
			}
			ev := event("org.example", "bench-thing", 42, value)
			ev.Unenforced = mode == "entitled"
			if !ev.Unenforced {
				ev.Policy = enf
			}
			b.ReportAllocs()
			i := 0
			var spare [][]byte
			for b.Loop() {
				g.Publish(ev)
				if i++; i%256 == 0 {
					b.StopTimer()
					for _, s := range sessions {
						msgs := s.queue.take(spare)
						if len(msgs) != 256 {
							b.Fatalf("a session got %d events, want 256", len(msgs))
						}
						s.queue.written(len(msgs), len(msgs)*len(msgs[0]))
						<-s.queue.wake
						clear(msgs)
						spare = msgs[:0]
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.N*sessionsN)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

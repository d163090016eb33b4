package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// fanout opens o.subscribers sessions that start events and o.writers
// connections that modify things as fast as their responses come. Each
// write carries its send time (Unix nanoseconds) as the value, so every
// subscriber measures write→event latency on receipt.
func fanout(ctx context.Context, o options, name string) (result, error) {
	if err := seed(o, o.writers); err != nil {
		return result{}, fmt.Errorf("seeding things: %w", err)
	}
	if o.views > 0 {
		for w := 0; w < o.writers; w++ {
			if err := putViewerPolicy(o, w); err != nil {
				return result{}, fmt.Errorf("policy of thing %d: %w", w, err)
			}
		}
	}
	subs := make([]*websocket.Conn, 0, o.subscribers)
	defer func() {
		for _, c := range subs {
			c.Close()
		}
	}()
	for i := 0; i < o.subscribers; i++ {
		dialSubscriber := dial
		if o.views > 0 {
			dialSubscriber = func(ctx context.Context, o options) (*websocket.Conn, error) {
				return dialAs(ctx, o, viewer(i%o.views))
			}
		}
		c, err := dialSubscriber(context.Background(), o)
		if err != nil {
			return result{}, fmt.Errorf("subscriber %d: %w", i, err)
		}
		subs = append(subs, c)
		if err := c.WriteMessage(websocket.TextMessage, []byte("START-SEND-EVENTS?namespaces="+o.namespace)); err != nil {
			return result{}, err
		}
		if _, ack, err := c.ReadMessage(); err != nil || string(ack) != "START-SEND-EVENTS:ACK" {
			return result{}, fmt.Errorf("subscriber %d: no ACK (%q, %v)", i, ack, err)
		}
	}

	var delivered atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	measuring := atomic.Bool{}
	measuring.Store(true)
	for _, c := range subs {
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			// Cheap on purpose: the frame is read into a reused buffer
			// and counted; one event in 16 is scanned for its send time.
			local := make([]time.Duration, 0, 1024)
			buf := make([]byte, 0, 1024)
			n := 0
			for {
				var err error
				if buf, err = readFrame(c, buf); err != nil {
					break
				}
				if !measuring.Load() {
					continue
				}
				n++
				if n%16 == 0 {
					if sent, ok := sentAt(buf); ok {
						local = append(local, time.Since(time.Unix(0, sent)))
					}
				}
			}
			delivered.Add(int64(n))
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(c)
	}

	writes, writeErrs := atomic.Int64{}, atomic.Int64{}
	var writersWG sync.WaitGroup
	meter := startCPUMeter(o)
	start := time.Now()
	for w := 0; w < o.writers; w++ {
		writersWG.Add(1)
		go func(w int) {
			defer writersWG.Done()
			conn, err := dial(ctx, o)
			if err != nil {
				writeErrs.Add(1)
				return
			}
			defer conn.Close()
			cmds := newModifyCommands(o, w)
			buf := make([]byte, 0, 1024)
			for n := 0; ctx.Err() == nil && writes.Load() < int64(o.maxOps); n++ {
				if conn.WriteMessage(websocket.TextMessage, cmds.next(n, time.Now().UnixNano())) != nil {
					writeErrs.Add(1)
					return
				}
				var err error
				if buf, err = readFrame(conn, buf); err != nil {
					writeErrs.Add(1)
					return
				}
				writes.Add(1)
			}
		}(w)
	}
	writersWG.Wait()
	elapsed := time.Since(start)
	// Let events in flight arrive, then stop counting and close.
	time.Sleep(500 * time.Millisecond)
	measuring.Store(false)
	gwCPU, lgCPU := meter.stop()
	for _, c := range subs {
		c.Close()
	}
	wg.Wait()
	subs = nil

	r := summarize(name, o.subscribers, lat, int(writeErrs.Load()), elapsed)
	r.Ops = int(delivered.Load())
	r.PerSecond = float64(r.Ops) / elapsed.Seconds()
	r.GatewayCPU, r.LoadCPU = gwCPU, lgCPU
	r.Note = fmt.Sprintf("deliveries/s to %d sessions; %d writes/s by %d writers; latency write→event (1 in 16 sampled)",
		o.subscribers, int(float64(writes.Load())/elapsed.Seconds()), o.writers)
	if o.views > 0 {
		r.Note += fmt.Sprintf("; sessions split over %d policy views", o.views)
	}
	return r, nil
}

var valueKey = []byte(`"value":`)

// sentAt extracts the integer value of an event without decoding it whole.
func sentAt(event []byte) (int64, bool) {
	i := bytes.Index(event, valueKey)
	if i < 0 {
		return 0, false
	}
	rest := event[i+len(valueKey):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n, err == nil
}

// viewer is the subject of the k-th viewer of the views option.
func viewer(k int) string { return fmt.Sprintf("nginx:viewer%d", k) }

// putViewerPolicy replaces the policy of writer thing w (its implicit policy,
// whose id is the thing's): -user keeps everything; viewer k may read the
// thing but attributes/hidden<k>, so that the viewers hold o.views different
// views of every event, each pruned and encoded on its own.
func putViewerPolicy(o options, w int) error {
	entries := []string{fmt.Sprintf(`"owner":{"subjects":{"nginx:%s":{"type":"load"}},"resources":{`+
		`"thing:/":{"grant":["READ","WRITE"],"revoke":[]},"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}}`, o.user)}
	for k := 0; k < o.views; k++ {
		entries = append(entries, fmt.Sprintf(`"viewer%d":{"subjects":{"%s":{"type":"load"}},"resources":{`+
			`"thing:/":{"grant":["READ"],"revoke":[]},"thing:/attributes/hidden%d":{"grant":[],"revoke":["READ"]}}}`, k, viewer(k), k))
	}
	body := `{"entries":{` + strings.Join(entries, ",") + `}}`
	req, _ := http.NewRequest(http.MethodPut, "http://"+o.addr+"/api/2/policies/"+thingID(o, w), strings.NewReader(body))
	req.SetBasicAuth(o.user, o.password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT policy: %s %s", resp.Status, msg)
	}
	return nil
}

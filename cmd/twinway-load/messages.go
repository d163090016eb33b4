package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// messages opens o.devices device sessions, device i answering the inbox
// messages of thing i (START-SEND-MESSAGES with a filter on its thing, so
// that the gateway hands each message to its own device only), then runs
// o.conns callers in a closed loop: each sends a message to the things in
// turn and waits for the device's answer, over HTTP (POST
// …/inbox/messages/ask, -via http) or from a WebSocket app session (-via
// ws). Latency is the caller's round trip: gateway → device → gateway.
func messages(ctx context.Context, o options, name string) (result, error) {
	if o.via != "http" && o.via != "ws" {
		return result{}, fmt.Errorf("-via must be http or ws, not %q", o.via)
	}
	if err := seed(o, o.devices); err != nil {
		return result{}, fmt.Errorf("seeding things: %w", err)
	}
	devices := make([]*websocket.Conn, 0, o.devices)
	var wg sync.WaitGroup
	defer func() {
		for _, c := range devices {
			c.Close()
		}
		wg.Wait()
	}()
	for i := 0; i < o.devices; i++ {
		c, err := dial(context.Background(), o)
		if err != nil {
			return result{}, fmt.Errorf("device %d: %w", i, err)
		}
		devices = append(devices, c)
		_, thing, _ := strings.Cut(thingID(o, i), ":")
		start := "START-SEND-MESSAGES?namespaces=" + o.namespace + "&filter=" + url.QueryEscape(`eq(topic:entityName,"`+thing+`")`)
		if err := c.WriteMessage(websocket.TextMessage, []byte(start)); err != nil {
			return result{}, err
		}
		if _, ack, err := c.ReadMessage(); err != nil || string(ack) != "START-SEND-MESSAGES:ACK" {
			return result{}, fmt.Errorf("device %d: no ACK (%q, %v)", i, ack, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answerMessages(c, o, i)
		}()
	}
	w := httpMessageWorker
	if o.via == "ws" {
		w = wsMessageWorker
	}
	r, err := closedLoop(w, func(options) error { return nil })(ctx, o, name)
	r.Note = fmt.Sprintf("%s → WebSocket device round trips/s; %d device sessions, %d callers", strings.ToUpper(o.via), o.devices, o.conns)
	return r, err
}

// answerMessages is device i: it answers every message it gets with a 200
// reply carrying the message's correlation-id, until its connection closes.
func answerMessages(c *websocket.Conn, o options, i int) {
	ns, thing, _ := strings.Cut(thingID(o, i), ":")
	prefix := fmt.Appendf(nil, `{"topic":"%s/%s/things/live/messages/ask","headers":{"content-type":"application/json","correlation-id":"`, ns, thing)
	const suffix = `"},"path":"/outbox/messages/ask","status":200,"value":{"ok":true}}`
	buf := make([]byte, 0, 1024)
	reply := make([]byte, 0, 256)
	for {
		var err error
		if buf, err = readFrame(c, buf); err != nil {
			return
		}
		cid, ok := correlationIDOf(buf)
		if !ok {
			continue
		}
		reply = append(append(append(reply[:0], prefix...), cid...), suffix...)
		if c.WriteMessage(websocket.TextMessage, reply) != nil {
			return
		}
	}
}

var cidKey = []byte(`"correlation-id":"`)

// correlationIDOf finds the correlation-id of a message without decoding it
// (the load's ids need no escapes).
func correlationIDOf(msg []byte) ([]byte, bool) {
	i := bytes.Index(msg, cidKey)
	if i < 0 {
		return nil, false
	}
	rest := msg[i+len(cidKey):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil, false
	}
	return rest[:end], true
}

// messageTargets are the things caller i sends to: i, i+conns, … below
// -devices, so that the callers spread over the devices.
func messageTargets(o options, i int) []int {
	var out []int
	for t := i % o.devices; t < o.devices; t += max(o.conns, 1) {
		out = append(out, t)
	}
	return out
}

// httpMessageWorker POSTs messages over one keep-alive connection and times
// each until the device's answer.
func httpMessageWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	const body = `{"q":1}`
	var reqs [][]byte
	for _, t := range messageTargets(o, i) {
		reqs = append(reqs, []byte("POST /api/2/things/"+thingID(o, t)+"/inbox/messages/ask HTTP/1.1\r\nHost: "+o.addr+
			"\r\nAuthorization: "+basicAuth(o)+"\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body))
	}
	return httpWorker(ctx, o, reqs, budget)
}

// wsMessageWorker sends messages from one WebSocket app session, one at a
// time, and times each until the device's answer.
func wsMessageWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	conn, err := dial(ctx, o)
	if err != nil {
		return nil, 1, err
	}
	defer conn.Close()
	type target struct{ prefix, suffix []byte }
	var targets []target
	for _, t := range messageTargets(o, i) {
		ns, thing, _ := strings.Cut(thingID(o, t), ":")
		targets = append(targets, target{
			prefix: fmt.Appendf(nil, `{"topic":"%s/%s/things/live/messages/ask","headers":{"content-type":"application/json","correlation-id":"%d-`, ns, thing, i),
			suffix: []byte(`"},"path":"/inbox/messages/ask","value":{"q":1}}`),
		})
	}
	lat := make([]time.Duration, 0, 4096)
	buf := make([]byte, 0, 1024)
	msg := make([]byte, 0, 256)
	errs := 0
	var firstErr error
	for n := 0; ctx.Err() == nil && budget.take(); n++ {
		tg := targets[n%len(targets)]
		msg = strconv.AppendInt(append(msg[:0], tg.prefix...), int64(n), 10)
		msg = append(msg, tg.suffix...)
		start := time.Now()
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			return lat, errs + 1, err
		}
		if buf, err = readFrame(conn, buf); err != nil {
			if ctx.Err() != nil {
				break
			}
			return lat, errs + 1, err
		}
		lat = append(lat, time.Since(start))
		if !responseOK(buf) {
			errs++
			if firstErr == nil {
				firstErr = errors.New(string(buf))
			}
		}
	}
	return lat, errs, firstErr
}

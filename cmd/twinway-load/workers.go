package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// dial opens an authenticated WebSocket session.
func dial(ctx context.Context, o options) (*websocket.Conn, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+o.addr+"/ws/2", http.Header{"Authorization": {basicAuth(o)}})
	return conn, err
}

// dialAs opens a session as subject, pre-authenticated as by a trusted proxy.
func dialAs(ctx context.Context, o options, subject string) (*websocket.Conn, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+o.addr+"/ws/2", http.Header{"x-ditto-pre-authenticated": {subject}})
	return conn, err
}

func basicAuth(o options) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(o.user+":"+o.password))
}

// modifyCommands encodes the modify commands of one thing's sensor value:
// the text around the correlation-id and the value is built once.
type modifyCommands struct {
	prefix, middle []byte // before the correlation-id, between it and the value
	buf            []byte
}

func newModifyCommands(o options, i int) *modifyCommands {
	ns, name, _ := strings.Cut(thingID(o, i), ":")
	acks := ""
	if o.acks {
		acks = `,"requested-acks":["twin-persisted"]`
	}
	return &modifyCommands{
		prefix: fmt.Appendf(nil, `{"topic":"%s/%s/things/twin/commands/modify","headers":{"correlation-id":"%d-`, ns, name, i),
		middle: fmt.Appendf(nil, `"%s},"path":"/features/sensor/properties/value","value":`, acks),
	}
}

// next returns command n with value v; the bytes are valid until the next call.
func (m *modifyCommands) next(n int, v int64) []byte {
	b := append(m.buf[:0], m.prefix...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, m.middle...)
	b = strconv.AppendInt(b, v, 10)
	b = append(b, '}')
	m.buf = b
	return b
}

// readFrame reads the next message into buf's array and returns it.
func readFrame(c *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := c.NextReader()
	if err != nil {
		return buf[:0], err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var statusKey = []byte(`"status":`)

// responseOK tells whether a response envelope has a 2xx status, without
// decoding it: the envelope's own status is the last "status" member (an
// error's value, which has one too, comes before it).
func responseOK(data []byte) bool {
	i := bytes.LastIndex(data, statusKey)
	return i >= 0 && i+len(statusKey) < len(data) && data[i+len(statusKey)] == '2'
}

// modifyWorker sends modify commands over one WebSocket, one at a time, and
// times each until its response.
func modifyWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	conn, err := dial(ctx, o)
	if err != nil {
		return nil, 1, err
	}
	defer conn.Close()
	cmds := newModifyCommands(o, i)
	lat := make([]time.Duration, 0, 4096)
	buf := make([]byte, 0, 1024)
	errs := 0
	var firstErr error
	for n := 0; ctx.Err() == nil && budget.take(); n++ {
		start := time.Now()
		if err := conn.WriteMessage(websocket.TextMessage, cmds.next(n, int64(n))); err != nil {
			return lat, errs + 1, err
		}
		if buf, err = readFrame(conn, buf); err != nil {
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

// httpConn is a minimal keep-alive HTTP/1.1 client for requests whose bytes
// are built once: much cheaper than net/http's client, so that the
// generator leaves the CPU to the gateway.
type httpConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func (c *httpConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// roundTrip sends req and reads the response; it returns the status code.
func (c *httpConn) roundTrip(ctx context.Context, req []byte) (int, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, err
}

// getRequest is the text of a GET of path with the workload's credentials.
func getRequest(o options, path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + o.addr + "\r\nAuthorization: " + basicAuth(o) + "\r\n\r\n")
}

// httpWorker sends reqs in turn over one keep-alive connection and times each
// until its response.
func httpWorker(ctx context.Context, o options, reqs [][]byte, budget *opsBudget) ([]time.Duration, int, error) {
	c := &httpConn{addr: o.addr}
	defer c.close()
	lat := make([]time.Duration, 0, 4096)
	errs := 0
	var firstErr error
	for n := 0; ctx.Err() == nil && budget.take(); n++ {
		start := time.Now()
		status, err := c.roundTrip(ctx, reqs[n%len(reqs)])
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return lat, errs + 1, err
		}
		lat = append(lat, time.Since(start))
		if status != http.StatusOK {
			errs++
			if firstErr == nil {
				firstErr = fmt.Errorf("status %d", status)
			}
		}
	}
	return lat, errs, firstErr
}

// readWorker GETs things by id: worker i reads things i, i+conns, … below
// -things in turn.
func readWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	var reqs [][]byte
	for t := i; t < max(o.things, o.conns); t += o.conns {
		reqs = append(reqs, getRequest(o, "/api/2/things/"+thingID(o, t)))
	}
	return httpWorker(ctx, o, reqs, budget)
}

// searchWorker runs the same search repeatedly.
func searchWorker(ctx context.Context, o options, _ int, budget *opsBudget) ([]time.Duration, int, error) {
	q := url.Values{"filter": {o.searchFilter}, "option": {o.searchOption}, "namespaces": {o.namespace}}
	return httpWorker(ctx, o, [][]byte{getRequest(o, "/api/2/search/things?"+q.Encode())}, budget)
}

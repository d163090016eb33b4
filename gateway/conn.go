package gateway

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// batchBytes is the most a write batch gathers before it is written out; a
// frame larger than that is written on its own.
const batchBytes = 32 << 10

// batchBuffers recycles the batch buffers: a session holds one only while
// its write loop drains the queue, so idle sessions hold none.
var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, batchBytes); return &b }}

// batchConn is the network connection under a session's *websocket.Conn.
// gorilla/websocket writes every frame with a write call of its own; between
// beginBatch and endBatch, batchConn gathers those frames instead and writes
// them with one call, so that a write loop draining n queued messages pays
// one system call, not n. Outside a batch it passes writes through.
//
// Reads, Close and the read deadline go straight to the connection. Write
// and SetWriteDeadline are serialised by mu, a leaf lock, which is held for
// the duration of a write to the connection: a write is bounded by its
// deadline (Config.WriteTimeout).
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	batching bool
	buf      *[]byte   // the batch, from batchBuffers; nil outside a batch
	deadline time.Time // the write deadline last set on the connection
	err      error     // the first write error; every later write fails with it
}

// Write writes p, or appends it to the batch.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.batching {
		return c.write(p)
	}
	if c.buf == nil {
		c.buf = batchBuffers.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > batchBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= batchBytes {
			return c.write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// write writes p to the connection; mu is held.
func (c *batchConn) write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// flushLocked writes the batch gathered so far; mu is held.
func (c *batchConn) flushLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.write(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

// SetWriteDeadline sets the connection's write deadline. gorilla sets it
// before every frame, nearly always to the same time; an unchanged deadline
// is not set again.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Equal(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets both deadlines.
func (c *batchConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// beginBatch starts gathering writes.
func (c *batchConn) beginBatch() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// endBatch writes what the batch gathered, ends it and releases its buffer.
// Frames written by other goroutines during the batch (a pong, the close
// frame) go out with it, in the order they were written.
func (c *batchConn) endBatch() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	var err error
	if c.err == nil {
		err = c.flushLocked()
	} else {
		err = c.err
	}
	if c.buf != nil {
		if cap(*c.buf) == batchBytes {
			*c.buf = (*c.buf)[:0]
			batchBuffers.Put(c.buf)
		}
		c.buf = nil
	}
	return err
}

// hijacker is the http.ResponseWriter handed to the upgrader: its Hijack
// wraps the connection in a batchConn, so that gorilla writes through it.
type hijacker struct {
	http.ResponseWriter
	conn *batchConn // set by Hijack
}

// Hijack takes over the connection from net/http.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: conn}
	return h.conn, brw, nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

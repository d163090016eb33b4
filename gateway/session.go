package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/auth"
)

const (
	// closeWait is how long the close handshake waits for the peer's close
	// frame after sending its own before it closes the connection.
	closeWait = time.Second
	// hardReadLimit is gorilla's per-message read limit, a last guard
	// far above MaxMessageBytes: messages between the two are read,
	// discarded and answered with 413 on an open socket; only beyond it
	// does gorilla fail the connection (close 1009).
	hardReadLimit = 64 << 20
	// keepReadBuffer is the largest read buffer a session keeps between
	// messages; a larger one (left by a big message) is released.
	keepReadBuffer = 64 << 10
)

// closeReason says why a session ends: the metrics label, the close frame
// (code 0: none) and the cause for the log.
type closeReason struct {
	label string // client, slow, shutdown, error
	code  int
	text  string
	err   error
}

var (
	// reasonSlow closes a session whose outbound queue overflowed.
	reasonSlow = closeReason{label: "slow", code: websocket.ClosePolicyViolation, text: "outbound queue full: session too slow"}
	// reasonShutdown closes every session on Shutdown.
	reasonShutdown = closeReason{label: "shutdown", code: websocket.CloseGoingAway, text: "gateway shutting down"}
)

// session is one WebSocket connection of an authenticated caller.
//
// Concurrency: two goroutines own a session. The read loop runs on the
// ServeHTTP goroutine: it reads frames, answers control commands and hands
// protocol commands to Twins one at a time (so responses come in command
// order). The write loop, started by serve, is the only one writing data
// frames and pings; it drains the outbound queue. Everybody else (Publish,
// the read loop's responses, Shutdown) only pushes to the queue or calls
// close, neither of which blocks.
//
// close is idempotent: the first call cancels ctx, closes done (the write
// loop stops between two frames), closes the queue and spawns the close
// handshake, which sends the close frame (its own deadline), waits up to
// closeWait for the read loop to see the peer's answer, and closes the
// connection, which ends the read loop. serve returns once the read loop,
// the write loop and the handshake have all ended.
type session struct {
	g     *Gateway
	conn  *websocket.Conn
	who   auth.Context
	log   *slog.Logger
	queue *outQueue
	// searches are the session's open search subscriptions; only the read
	// loop touches them.
	searches  map[string]*searchSubscription
	searchSeq int

	ctx    context.Context // handed to Twins; cancelled when closing starts
	cancel context.CancelFunc

	closed     atomic.Bool   // set by the first close
	done       chan struct{} // closed when closing starts
	readDone   chan struct{} // closed when the read loop ended
	writerDone chan struct{} // closed when the write loop ended
	closeDone  chan struct{} // closed when the close handshake ended
}

func newSession(g *Gateway, conn *websocket.Conn, who auth.Context, r *http.Request) *session {
	ctx, cancel := context.WithCancel(r.Context())
	s := &session{
		g:          g,
		conn:       conn,
		who:        who,
		queue:      newOutQueue(g.cfg.QueueMessages, g.cfg.QueueBytes),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		readDone:   make(chan struct{}),
		writerDone: make(chan struct{}),
		closeDone:  make(chan struct{}),
	}
	s.log = g.log.With("session", g.ids.Add(1), "remote", r.RemoteAddr, "subject", who.DefaultSubject())
	return s
}

// serve runs the session until both loops and the close handshake ended.
func (s *session) serve() {
	go s.writeLoop()
	reason := s.readLoop()
	close(s.readDone)
	s.close(reason) // no-op when the close started elsewhere
	<-s.writerDone
	<-s.closeDone
}

// close starts closing the session for r, once; later calls do nothing. It
// never blocks: the handshake runs on its own goroutine.
func (s *session) close(r closeReason) {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	s.cancel()
	close(s.done)
	s.queue.close()
	go s.handshake(r)
}

// isClosing reports whether close was called.
func (s *session) isClosing() bool { return s.closed.Load() }

// handshake sends the close frame of r, waits briefly for the peer's answer
// and closes the connection; then it counts and logs the close.
func (s *session) handshake(r closeReason) {
	defer close(s.closeDone)
	s.g.hub.unsubscribe(s)
	if r.code != 0 {
		// The write loop may hold the connection for up to WriteTimeout
		// finishing the frame in flight; the close frame gets the same bound.
		msg := websocket.FormatCloseMessage(r.code, r.text)
		if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.g.cfg.WriteTimeout)); err == nil {
			select {
			case <-s.readDone:
			case <-time.After(closeWait):
			}
		} else if !errors.Is(err, websocket.ErrCloseSent) {
			s.log.Debug("close frame not sent", "err", err)
		}
	}
	if err := s.conn.Close(); err != nil {
		s.log.Debug("closing the connection failed", "err", err)
	}

	m := s.g.metrics
	m.SessionsClosed.WithLabelValues(r.label).Inc()
	attrs := []any{"reason", r.label}
	if r.code != 0 {
		attrs = append(attrs, "code", r.code, "text", r.text)
	}
	if r.err != nil {
		attrs = append(attrs, "err", r.err)
	}
	if r.label == reasonSlow.label {
		// One count per slow close: the message that did not fit. The
		// messages still queued are dropped with the session.
		m.EventsDropped.WithLabelValues("session_slow").Inc()
		s.log.Info("websocket session closed", attrs...)
		return
	}
	s.log.Debug("websocket session closed", attrs...)
}

// readLoop reads messages until the connection fails or closes and returns
// why. Every message, however large, gets read to its end, so an oversized
// one is answered without losing the socket.
func (s *session) readLoop() closeReason {
	cfg := &s.g.cfg
	readWait := cfg.PingInterval + cfg.PongTimeout
	s.conn.SetReadLimit(max(hardReadLimit, 4*int64(cfg.MaxMessageBytes)))
	_ = s.conn.SetReadDeadline(time.Now().Add(readWait))
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(readWait))
	})

	var buf bytes.Buffer
	for {
		_, r, err := s.conn.NextReader() // text and binary alike
		if err != nil {
			return readErrorReason(err)
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(readWait))
		buf.Reset()
		n, err := buf.ReadFrom(io.LimitReader(r, int64(cfg.MaxMessageBytes)+1))
		if err != nil {
			return readErrorReason(err)
		}
		if n > int64(cfg.MaxMessageBytes) {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return readErrorReason(err)
			}
			if !s.isClosing() {
				s.replyTooLarge()
			}
		} else if !s.isClosing() {
			s.handleMessage(buf.Bytes())
		}
		if buf.Cap() > keepReadBuffer {
			buf = bytes.Buffer{}
		}
	}
}

// readErrorReason classifies the error that ended the read loop.
func readErrorReason(err error) closeReason {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		// The peer closed; gorilla's close handler answered its frame.
		return closeReason{label: "client", err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return closeReason{label: "client", err: err} // the peer dropped the connection
	case errors.As(err, &ne) && ne.Timeout():
		return closeReason{label: "error", err: errors.New("no frame or pong within the read deadline")}
	}
	return closeReason{label: "error", err: err}
}

// writeLoop writes the queued messages, one text frame each, and the pings,
// until the session closes or a write fails.
func (s *session) writeLoop() {
	defer close(s.writerDone)
	cfg := &s.g.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()

	var batch [][]byte
	for {
		select {
		case <-s.done:
			return
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				s.close(writeErrorReason(err))
				return
			}
		case <-s.queue.wake:
			batch = s.queue.take(batch)
			for i, msg := range batch {
				if s.isClosing() {
					return // stop between frames: the handshake needs the connection
				}
				_ = s.conn.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
				if err := s.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					s.close(writeErrorReason(err))
					return
				}
				s.queue.written(len(msg))
				batch[i] = nil // let the bytes go
			}
			batch = batch[:0]
		}
	}
}

// writeErrorReason classifies the error that ended the write loop.
func writeErrorReason(err error) closeReason {
	if errors.Is(err, websocket.ErrCloseSent) {
		// Not our close (that would have stopped the loop first): gorilla's
		// close handler answered the peer's close frame.
		return closeReason{label: "client", err: err}
	}
	return closeReason{label: "error", err: err}
}

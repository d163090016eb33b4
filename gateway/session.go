package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
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
	// reasonExpired ends a session whose credentials (a JWT) expired.
	reasonExpired = closeReason{label: "expired", code: websocket.ClosePolicyViolation,
		text: "The websocket session expired because the JWT used for authentication has expired."}
	// reasonContextChanged ends a session whose JWT-TOKEN refresh carried
	// other subjects (Ditto's gateway:websocket.session.closed).
	reasonContextChanged = closeReason{label: "jwt", code: websocket.ClosePolicyViolation,
		text: "The websocket session was closed: its authorization context changed (gateway:websocket.session.closed)."}
)

// reasonTokenInvalid ends a session whose JWT-TOKEN refresh did not verify.
func reasonTokenInvalid(err error) closeReason {
	text := "The websocket session was closed: the refreshed JWT is not valid: " + protocol.AsError(err).Message
	return closeReason{label: "jwt", code: websocket.ClosePolicyViolation, text: truncateCloseText(text), err: err}
}

// maxCloseText is the longest close reason a close frame carries: 125 bytes
// of control frame payload less the 2-byte code.
const maxCloseText = 123

// truncateCloseText cuts text to maxCloseText bytes on a rune boundary.
func truncateCloseText(text string) string {
	if len(text) <= maxCloseText {
		return text
	}
	cut := maxCloseText
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

// session is one WebSocket connection of an authenticated caller.
//
// Concurrency: two goroutines own a session, both started by ServeHTTP,
// which returns right after the upgrade so that net/http forgets the
// connection (its request, buffers and goroutine stack are freed: idle
// sessions are most of a gateway's sessions). The read loop reads frames,
// answers control commands and hands protocol commands to Twins one at a
// time (so responses come in command order). The write loop is the only one
// writing data frames and pings; it drains the outbound queue, writing all
// the messages it finds queued with one system call (see batchConn).
// Everybody else (Publish, the read loop's responses, Shutdown) only pushes
// to the queue or calls close, neither of which blocks.
//
// close is idempotent: the first call cancels ctx, closes the queue (the
// write loop stops between two frames) and spawns the close handshake, which sends the close frame (its own deadline), waits up to
// closeWait for the read loop to see the peer's answer, and closes the
// connection, which ends the read loop. The read loop's goroutine waits for
// the write loop and the handshake to end, then unregisters the session.
type session struct {
	g     *Gateway
	conn  *websocket.Conn
	bconn *batchConn // conn's network connection
	who   auth.Context
	queue *outQueue
	// searches are the session's open search subscriptions; only the read
	// loop touches them.
	searches  map[string]*searchSubscription
	searchSeq int
	// declared are the acknowledgement labels the session issues, set at
	// the handshake and fixed for its life (see acks.go).
	declared []string

	ctx    context.Context // handed to Twins; cancelled when closing starts
	cancel context.CancelFunc

	// writeDeadline is the write deadline set last; only the write loop
	// uses it.
	writeDeadline time.Time

	id      uint64 // for logs
	remote  string // the peer's address, for logs
	logOnce sync.Once
	log     *slog.Logger // built by logger on first use: most sessions never log

	// expiryMu guards expiry, the timer that ends the session when its
	// JWT does; JWT-TOKEN replaces it, the end of the read loop stops it.
	expiryMu sync.Mutex
	expiry   *time.Timer

	closed     atomic.Bool   // set by the first close
	pingDue    atomic.Bool   // set by the ping timer, cleared by the write loop
	readDone   chan struct{} // closed when the read loop ended
	writerDone chan struct{} // closed when the write loop ended
	closeDone  chan struct{} // closed when the close handshake ended
}

func newSession(g *Gateway, conn *websocket.Conn, bconn *batchConn, who auth.Context, r *http.Request) *session {
	// The session outlives the request: net/http cancels r's context when
	// ServeHTTP returns. Its values stay.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	return &session{
		g:          g,
		conn:       conn,
		bconn:      bconn,
		who:        who,
		queue:      newOutQueue(g.cfg.QueueMessages, g.cfg.QueueBytes),
		ctx:        ctx,
		cancel:     cancel,
		id:         g.ids.Add(1),
		remote:     r.RemoteAddr,
		readDone:   make(chan struct{}),
		writerDone: make(chan struct{}),
		closeDone:  make(chan struct{}),
	}
}

// logger is the session's logger, carrying its id, peer and subject.
func (s *session) logger() *slog.Logger {
	s.logOnce.Do(func() {
		s.log = s.g.log.With("session", s.id, "remote", s.remote, "subject", s.who.DefaultSubject())
	})
	return s.log
}

// logAt logs at level, building the session's logger only when the level
// is enabled.
func (s *session) logAt(level slog.Level, msg string, args ...any) {
	if s.g.log.Enabled(context.Background(), level) {
		s.logger().Log(context.Background(), level, msg, args...)
	}
}

// start runs the session on its own two goroutines; ServeHTTP returns.
// done is called once both loops and the close handshake ended.
func (s *session) start(done func()) {
	s.armExpiry(s.who.Expiry)
	go s.writeLoop()
	go func() {
		defer done()
		s.serve()
	}()
}

// serve runs the read loop until it ends, then waits for the write loop and
// the close handshake.
func (s *session) serve() {
	reason := s.readLoop()
	close(s.readDone)
	// Only the read loop re-arms the expiry timer (JWT-TOKEN): stop it now,
	// so that a long-lived token's timer does not keep the session in memory.
	s.armExpiry(time.Time{})
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
	s.queue.close() // wakes the write loop, which stops between two frames
	go s.handshake(r)
}

// isClosing reports whether close was called.
func (s *session) isClosing() bool { return s.closed.Load() }

// handshake sends the close frame of r, waits briefly for the peer's answer
// and closes the connection; then it counts and logs the close.
func (s *session) handshake(r closeReason) {
	defer close(s.closeDone)
	s.g.unsubscribeAll(s)
	s.g.acks.sessionClosed(s)
	s.g.liveSessionGone(s)
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
			s.logAt(slog.LevelDebug, "close frame not sent", "err", err)
		}
	}
	if err := s.conn.Close(); err != nil {
		s.logAt(slog.LevelDebug, "closing the connection failed", "err", err)
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
		s.logAt(slog.LevelInfo, "websocket session closed", attrs...)
		return
	}
	s.logAt(slog.LevelDebug, "websocket session closed", attrs...)
}

// readLoop reads messages until the connection fails or closes and returns
// why. Every message, however large, gets read to its end, so an oversized
// one is answered without losing the socket.
func (s *session) readLoop() closeReason {
	cfg := &s.g.cfg
	s.conn.SetReadLimit(max(hardReadLimit, 4*int64(cfg.MaxMessageBytes)))
	// Every frame and pong pushes the read deadline back to readWait from
	// now. Moving a deadline costs a timer update, so it is moved only when
	// it is at least slack old, and set readWait+slack ahead: a silent peer is
	// dropped between readWait and readWait+slack after its last frame.
	readWait := cfg.PingInterval + cfg.PongTimeout
	slack := readWait / 16
	var extended time.Time
	extend := func() error {
		now := time.Now()
		if now.Sub(extended) < slack {
			return nil
		}
		extended = now
		return s.conn.SetReadDeadline(now.Add(readWait + slack))
	}
	_ = extend()
	s.conn.SetPongHandler(func(string) error { return extend() })

	var buf bytes.Buffer
	var limited io.LimitedReader
	for {
		_, r, err := s.conn.NextReader() // text and binary alike
		if err != nil {
			return readErrorReason(err)
		}
		_ = extend()
		buf.Reset()
		limited.R, limited.N = r, int64(cfg.MaxMessageBytes)+1
		n, err := buf.ReadFrom(&limited)
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
// until the session closes or a write fails. It sleeps on the queue's wake
// channel alone: the ping timer and close wake it through the same channel.
// The messages it finds queued at each wake-up go out as one batch: one
// system call (batchConn) and one update of the queue's counts, once they
// are written.
func (s *session) writeLoop() {
	defer close(s.writerDone)
	cfg := &s.g.cfg
	ping := time.AfterFunc(cfg.PingInterval, func() {
		s.pingDue.Store(true)
		s.queue.wakeWriter()
	})
	defer ping.Stop()

	var batch [][]byte
	for range s.queue.wake {
		if s.isClosing() {
			return // the handshake needs the connection
		}
		if s.pingDue.CompareAndSwap(true, false) {
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				s.close(writeErrorReason(err))
				return
			}
			ping.Reset(cfg.PingInterval)
		}
		batch = s.queue.take(batch)
		if err := s.writeBatch(batch); err != nil {
			s.close(writeErrorReason(err))
			return
		}
		clear(batch) // let the bytes go
		batch = batch[:0]
	}
}

// writeBatch writes msgs as one batch. It stops between two frames when the
// session starts closing; what was gathered until then is still written.
func (s *session) writeBatch(msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	s.setWriteDeadline()
	// A lone frame that gorilla writes with one call needs no batch.
	batched := len(msgs) > 1 || len(msgs[0]) > loneFrameBytes
	if batched {
		s.bconn.beginBatch()
	}
	n, size := 0, 0
	var err error
	for _, msg := range msgs {
		if s.isClosing() {
			break
		}
		if err = s.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			break
		}
		n++
		size += len(msg)
	}
	if batched {
		if endErr := s.bconn.endBatch(); err == nil {
			err = endErr
		}
	}
	if err != nil {
		return err
	}
	s.queue.written(n, size)
	return nil
}

// loneFrameBytes is the largest message gorilla writes with one call of its
// write buffer (writeBufferSize, 4 kB, less the frame header).
const loneFrameBytes = 4000

// setWriteDeadline gives the writes to come a deadline WriteTimeout from
// now. Setting a deadline costs a timer update, so while the deadline set
// last is still at least 90% of WriteTimeout away it is kept: every write
// still gets a deadline between 0.9 and 1 WriteTimeout.
func (s *session) setWriteDeadline() {
	timeout := s.g.cfg.WriteTimeout
	now := time.Now()
	if s.writeDeadline.Sub(now) >= timeout-timeout/10 {
		return
	}
	s.writeDeadline = now.Add(timeout)
	_ = s.conn.SetWriteDeadline(s.writeDeadline)
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

// armExpiry makes the session end at expiry, on time, not at the next message
// (as Ditto's gateway:websocket.session.expired), replacing the timer set
// before; the zero time, or one beyond auth.MaxSessionLifetime, sets none.
func (s *session) armExpiry(expiry time.Time) {
	s.expiryMu.Lock()
	defer s.expiryMu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	if expiry.IsZero() || time.Until(expiry) >= auth.MaxSessionLifetime {
		return
	}
	s.expiry = time.AfterFunc(time.Until(expiry), func() { s.close(reasonExpired) })
}

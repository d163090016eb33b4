// Package gateway is the WebSocket door /ws/2 of the Ditto protocol, the
// Server-Sent Events streams, and the hubs that fan twin events and live
// signals out to the sessions and streams that asked for them (SPEC.md §7, §8).
//
// A Gateway is an http.Handler for the /ws/2 endpoint and a twin.EventSink.
// Each upgraded connection becomes a session (see session), run by its own
// read and write goroutines, with its own bounded outbound queue (see
// outQueue) that the write loop drains in batches, one system call per batch
// (see batchConn); one hub per stream (see hub and stream) keeps the
// sessions that started it (START-SEND-EVENTS, …) in a copy-on-write
// snapshot, so Publish takes no lock per event and never blocks on a
// session. Events reach only the sessions the thing's policy lets read them,
// pruned to what each may read (see eventView). A session that cannot keep
// up is closed with a clear reason instead of slowing the others down.
// ServeSSE is the other transport behind the same hub (see receiver): a
// Server-Sent Events stream of twin changes or of a thing's messages, run by
// the HTTP request's own goroutine (sse.go, sse_messages.go). Acknowledgements (acks.go): declared labels, the
// requests waiting for acknowledgements, and weak acknowledgements issued
// during the fan-out. The live channel (live.go): messages, live commands and
// live events routed between sessions and HTTP requests, and their answers.
//
// Locks: Gateway.mu (sessions, SSE streams), hub.mu (subscription changes), each
// outQueue.mu and each batchConn.mu are leaves; none is held while another
// is taken. Only batchConn.mu is held during I/O: a write to the connection,
// bounded by the write deadline. The acknowledgement registry's locks are
// described in acks.go; none of them is held while an answer is queued.
// liveRouter.mu and live.Pending's lock are leaves too, never held while a
// signal is queued.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/metrics"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// Twins handles one twin command envelope and returns the response envelope
// (an error envelope on failure). Implemented by *twin.Handler.
type Twins interface {
	Handle(ctx context.Context, who auth.Context, cmd protocol.Envelope) protocol.Envelope
}

// TokenVerifier verifies a raw JWT into its caller (Expiry = the token's exp).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (auth.Context, error)
}

// Authenticator authenticates the upgrade request; the error is a
// *protocol.Error (401).
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Context, error)
}

// Defaults of Config; a zero field takes its default.
const (
	DefaultQueueMessages   = 1024
	DefaultQueueBytes      = 8 << 20 // 8 MiB
	DefaultMaxMessageBytes = 256000  // Ditto's 250 kB message limit
	DefaultPingInterval    = 30 * time.Second
	DefaultPongTimeout     = 30 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
)

// Config configures a Gateway. Twins and Auth are required; every other zero
// field takes the documented default.
type Config struct {
	// Twins handles the twin commands that sessions send.
	Twins Twins
	// Auth authenticates every upgrade request.
	Auth Authenticator
	// Tokens verifies the JWT of a session's JWT-TOKEN refresh (an
	// *auth.OIDC); nil: JWT-TOKEN is answered with an error.
	Tokens TokenVerifier
	// Search answers the search protocol (_/_/things/twin/search/…); nil:
	// search messages are refused.
	Search Searcher
	// Metrics receives the session and event counters; nil: a private set
	// that nobody scrapes.
	Metrics *metrics.Metrics
	// Logger receives session lifecycle logs; nil: discard.
	Logger *slog.Logger

	// QueueMessages bounds a session's outbound queue by messages queued or
	// being written (default 1024).
	QueueMessages int
	// QueueBytes bounds a session's outbound queue by bytes queued or being
	// written (default 8 MiB). A single message larger than this is still
	// accepted into an empty queue.
	QueueBytes int
	// MaxMessageBytes is the largest inbound message; larger ones are answered
	// with gateway:websocket.message.toolarge (413) and the socket stays open
	// (default 256000, Ditto's 250 kB).
	MaxMessageBytes int
	// PingInterval is the period of server pings (default 30s).
	PingInterval time.Duration
	// PongTimeout is how long past PingInterval the gateway waits for any
	// inbound frame or pong before it drops the connection (default 30s).
	PongTimeout time.Duration
	// WriteTimeout is the deadline of every write, frames and control
	// frames alike (default 10s).
	WriteTimeout time.Duration
	// MaxPendingAcks bounds the requests of the whole gateway waiting for
	// acknowledgements (default DefaultMaxPendingAcks); MaxPendingAcksPerSession
	// bounds those of one session (default DefaultMaxPendingAcksPerSession).
	// A command beyond either is refused with too.many.requests (429).
	MaxPendingAcks           int
	MaxPendingAcksPerSession int

	// Live authorises live messages, commands and events (a *twin.Handler,
	// see live.go); nil: the live channel is refused with signal.unsupported
	// and its streams cannot be started.
	Live LiveThings
	// LiveMaxPerSession bounds the live commands and messages one session,
	// or one caller (its default subject) through the HTTP door, waits for
	// at once (default live.DefaultMaxPerOwner, 100); LiveMaxPending bounds
	// those of the whole gateway (default live.DefaultMaxTotal, 10000).
	// LiveMaxClaimsPerCaller bounds the claim messages, which need no
	// permission, that one caller waits for at once through both doors
	// (default DefaultLiveMaxClaimsPerCaller). Beyond any of them a request
	// is refused with too.many.requests (429). See liveRouter.admit.
	LiveMaxPerSession      int
	LiveMaxPending         int
	LiveMaxClaimsPerCaller int
}

// DefaultLiveMaxClaimsPerCaller is the default of
// Config.LiveMaxClaimsPerCaller: claiming a thing is a rare step, and a
// claim may wait ten minutes.
const DefaultLiveMaxClaimsPerCaller = 10

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Twins == nil {
		return c, errors.New("gateway: Config.Twins is required")
	}
	if c.Auth == nil {
		return c, errors.New("gateway: Config.Auth is required")
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"QueueMessages", &c.QueueMessages, DefaultQueueMessages},
		{"QueueBytes", &c.QueueBytes, DefaultQueueBytes},
		{"MaxMessageBytes", &c.MaxMessageBytes, DefaultMaxMessageBytes},
		{"MaxPendingAcks", &c.MaxPendingAcks, DefaultMaxPendingAcks},
		{"MaxPendingAcksPerSession", &c.MaxPendingAcksPerSession, DefaultMaxPendingAcksPerSession},
		{"LiveMaxClaimsPerCaller", &c.LiveMaxClaimsPerCaller, DefaultLiveMaxClaimsPerCaller},
	}
	for _, f := range ints {
		if *f.v < 0 {
			return c, fmt.Errorf("gateway: Config.%s must not be negative, got %d", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"PingInterval", &c.PingInterval, DefaultPingInterval},
		{"PongTimeout", &c.PongTimeout, DefaultPongTimeout},
		{"WriteTimeout", &c.WriteTimeout, DefaultWriteTimeout},
	}
	for _, f := range durations {
		if *f.v < 0 {
			return c, fmt.Errorf("gateway: Config.%s must not be negative, got %s", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// readBufferSize is the size of a session's read buffer.
const readBufferSize = 1024

// Gateway serves /ws/2 and fans events out to its sessions. Create it with
// New; it is safe for concurrent use.
type Gateway struct {
	cfg      Config // defaults filled
	metrics  *metrics.Metrics
	log      *slog.Logger
	upgrader websocket.Upgrader
	// hubs are the subscribers of each stream.
	hubs [numStreams]hub
	ids  atomic.Uint64 // session ids, for logs
	// acks are the declared labels and the requests waiting for
	// acknowledgements (acks.go).
	acks *ackRegistry
	// live routes the live channel (live.go); nil without Config.Live.
	live *liveRouter

	mu       sync.Mutex // guards sessions, streams and closing
	sessions map[*session]struct{}
	streams  map[*sseStream]struct{} // the open SSE streams (sse.go); made on first use
	closing  bool                    // Shutdown started: refuse new sessions and streams
	wg       sync.WaitGroup          // one per upgrade in progress, session or SSE stream not yet ended
}

var _ twin.EventSink = (*Gateway)(nil)

// New validates cfg, fills its defaults and returns the gateway.
func New(cfg Config) (*Gateway, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg:      cfg,
		metrics:  cfg.Metrics,
		log:      cfg.Logger,
		sessions: make(map[*session]struct{}),
		acks:     newAckRegistry(cfg.MaxPendingAcks, cfg.MaxPendingAcksPerSession),
	}
	if cfg.Live != nil {
		if g.live, err = newLiveRouter(g, cfg); err != nil {
			return nil, err
		}
	}
	g.upgrader = websocket.Upgrader{
		// Any origin: the clients are API clients authenticating with
		// credentials on the upgrade, not browsers riding on cookies.
		CheckOrigin: func(*http.Request) bool { return true },
		// A read buffer of the session's own: reusing net/http's (4 kB)
		// would keep net/http's whole connection alive behind it. 1 kB
		// holds a typical command; larger messages are read straight into
		// the message buffer.
		ReadBufferSize: readBufferSize,
		// Write buffers are taken per message and given back, so idle
		// sessions hold none.
		WriteBufferPool: new(sync.Pool),
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			g.log.Debug("websocket upgrade failed", "status", status, "err", reason)
			http.Error(w, http.StatusText(status), status)
		},
	}
	return g, nil
}

// ServeHTTP is the /ws/2 endpoint: it authenticates the request, upgrades it
// to a WebSocket and starts the session, which runs on its own goroutines
// until it ends (see session). A failed
// authentication is answered with the Ditto error as JSON body (usually 401
// gateway:authentication.failed) and no upgrade; after Shutdown started the
// answer is 503 gateway:service.unavailable. The labels the session issues
// acknowledgements for come in declared-acks (see acks.go): an invalid one
// refuses the upgrade (400), one that another session holds ends the new
// session at once (acknowledgement:label.not.unique).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.isClosing() {
		writeError(w, errShuttingDown())
		return
	}
	who, err := g.cfg.Auth.Authenticate(r)
	if err != nil {
		e := protocol.AsError(err)
		if e.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="twinway"`)
		}
		writeError(w, e)
		return
	}
	declared, err := parseDeclaredAcks(r)
	if err != nil {
		// An invalid label refuses the upgrade, as Ditto refuses the
		// handshake whose headers do not parse.
		writeError(w, protocol.AsError(err))
		return
	}
	if !g.begin() {
		writeError(w, errShuttingDown())
		return
	}
	hj := &hijacker{ResponseWriter: w}
	conn, err := g.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		g.wg.Done()
		return // the upgrader answered the request and logged
	}
	s := newSession(g, conn, hj.conn, who, r)
	// Declared before anybody else knows s: its labels are fixed then.
	unique := s.declare(declared)
	if g.register(s) {
		// Shutdown started while upgrading: close right away, through the
		// same path as every other session.
		s.close(reasonShutdown)
	} else if !unique {
		s.close(reasonLabelNotUnique)
	}
	s.start(func() {
		g.unregister(s)
		g.wg.Done()
	})
}

func errShuttingDown() *protocol.Error {
	return protocol.Errorf(protocol.CodeServiceUnavailable, "The gateway is shutting down.")
}

// writeError answers a plain HTTP request with a Ditto error body.
func writeError(w http.ResponseWriter, e *protocol.Error) {
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

func (g *Gateway) isClosing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

// begin counts a request that is about to become a session, unless Shutdown
// started. Counting under mu keeps wg.Add from racing with Shutdown's Wait.
func (g *Gateway) begin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	return true
}

// register adds s to the open sessions; it reports whether Shutdown has
// started in the meantime.
func (g *Gateway) register(s *session) (closing bool) {
	g.mu.Lock()
	g.sessions[s] = struct{}{}
	closing = g.closing
	g.mu.Unlock()
	g.metrics.SessionsOpen.WithLabelValues("ws").Inc()
	s.logAt(slog.LevelDebug, "websocket session opened")
	return closing
}

// unregister forgets s once both of its goroutines and its close handshake
// ended.
func (g *Gateway) unregister(s *session) {
	g.unsubscribeAll(s)
	g.liveSessionGone(s) // again: the read loop may have asked after the close began
	g.mu.Lock()
	delete(g.sessions, s)
	g.mu.Unlock()
	g.metrics.SessionsOpen.WithLabelValues("ws").Dec()
}

// Shutdown refuses new sessions and SSE streams, closes every session with
// close code 1001 "gateway shutting down", ends every SSE stream and waits
// for all session goroutines and stream handlers to end, or for ctx to be
// done (then it returns ctx's error and the sessions finish closing in the
// background). It may be called more than once.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	open := make([]*session, 0, len(g.sessions))
	for s := range g.sessions {
		open = append(open, s)
	}
	g.mu.Unlock()

	for _, s := range open {
		s.close(reasonShutdown) // spawns the close handshake, never blocks
	}
	g.acks.shutdown()
	g.liveShutdown()
	g.closeStreams()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
	}
}

package live

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/protocol"
)

// OwnerID names a party that waits for or answers live requests: a WebSocket
// session or one HTTP request. The gateway chooses the ids; they only need to
// be unique among the parties alive at a time.
type OwnerID string

// Defaults of Config.
const (
	// DefaultMaxPerOwner bounds the requests one owner may have waiting. It is
	// the number of in-flight commands Ditto lets a WebSocket client have
	// (gateway.conf websocket.subscriber.backpressure-queue-size).
	DefaultMaxPerOwner = 100
	// DefaultMaxTotal bounds all waiting requests, so that many owners cannot
	// together grow the registry without limit.
	DefaultMaxTotal = 10000
)

// Config bounds a Pending registry; a zero field takes its default.
type Config struct {
	MaxPerOwner int // requests one owner may have waiting (DefaultMaxPerOwner)
	MaxTotal    int // requests waiting in all (DefaultMaxTotal)
}

// ErrCanceled ends the requests of an owner that went away (CancelOwner):
// nobody is left to tell, so it is not a Ditto error.
var ErrCanceled = errors.New("live: the asker went away")

// errNotDone is Result's error before the request has ended.
var errNotDone = errors.New("live: the request has not ended yet")

// Pending correlates live commands and messages with their replies: an
// asker registers a request under its correlation-id, the gateway routes the
// signal to the sessions that may answer (the responders), and the first
// reply with that correlation-id ends the request; later replies are dropped.
// At its deadline a request ends with command.timeout, as Ditto's
// AcknowledgementAggregatorActor answers when the live response does not come.
//
// No goroutine waits per request: each has a runtime timer (time.AfterFunc)
// that is stopped when the request ends earlier. Every way a request ends
// (reply, deadline, Cancel, CancelOwner, the last responder leaving) removes
// it from every index, so nothing outlives it. Safe for concurrent use; one
// mutex guards the indexes and is never held while calling out.
type Pending struct {
	maxPerOwner, maxTotal int

	mu          sync.Mutex
	byRoute     map[string]*Request               // routing id → request
	byOwner     map[OwnerID]map[string]*Request   // asker → its correlation-ids
	byResponder map[OwnerID]map[*Request]struct{} // responder → requests it may answer
}

// NewPending returns an empty registry bounded by cfg.
func NewPending(cfg Config) (*Pending, error) {
	if cfg.MaxPerOwner < 0 || cfg.MaxTotal < 0 {
		return nil, fmt.Errorf("live: negative bound in %+v", cfg)
	}
	if cfg.MaxPerOwner == 0 {
		cfg.MaxPerOwner = DefaultMaxPerOwner
	}
	if cfg.MaxTotal == 0 {
		cfg.MaxTotal = DefaultMaxTotal
	}
	return &Pending{
		maxPerOwner: cfg.MaxPerOwner,
		maxTotal:    cfg.MaxTotal,
		byRoute:     make(map[string]*Request),
		byOwner:     make(map[OwnerID]map[string]*Request),
		byResponder: make(map[OwnerID]map[*Request]struct{}),
	}, nil
}

// Request is one live command or message waiting for its reply.
type Request struct {
	p             *Pending
	owner         OwnerID
	correlationID string
	routingID     string
	deadline      time.Time
	timeout       time.Duration
	done          chan struct{}

	// Guarded by Pending.mu until done is closed; read-only afterwards.
	timer      *time.Timer
	responders map[OwnerID]struct{}
	ended      bool
	reply      protocol.Envelope
	err        error
}

// Owner is the asker.
func (r *Request) Owner() OwnerID { return r.owner }

// CorrelationID is the asker's correlation-id.
func (r *Request) CorrelationID() string { return r.correlationID }

// RoutingID is the correlation-id the signal carries to the responders and
// their replies carry back. It is CorrelationID unless another asker was
// already waiting under that id: then, as Ditto's ResponseReceiverCache does,
// it is CorrelationID + "_" + a UUID, and Resolve gives the reply the asker's
// id back.
func (r *Request) RoutingID() string { return r.routingID }

// Deadline is when the request ends with command.timeout.
func (r *Request) Deadline() time.Time { return r.deadline }

// Done is closed when the request has ended.
func (r *Request) Done() <-chan struct{} { return r.done }

// Result is the reply (with the asker's correlation-id), or the error that
// ended the request: command.timeout (408) at the deadline or when the last
// responder left (a *protocol.Error), the error given to Cancel, or
// ErrCanceled. Before Done is closed it returns an error saying so.
func (r *Request) Result() (protocol.Envelope, error) {
	select {
	case <-r.done:
		return r.reply, r.err
	default:
		return protocol.Envelope{}, errNotDone
	}
}

// Register records that owner waits for the reply to the signal with
// correlationID until deadline. The error is a *protocol.Error:
//
//   - too.many.requests (429) when owner or everyone together already wait
//     for as many requests as the Config allows: Ditto's answer to a client
//     that sends faster than it may (TooManyRequestsException); the client
//     should wait for answers before sending more;
//   - acknowledgement:request.duplicate.correlation-id (409) when owner
//     already waits under correlationID: its replies could not be told
//     apart. (Ditto has the code, but its gateway rather renames a second
//     request; refusing is the honest answer for an asker that reuses ids.)
//   - header.invalid for an empty correlationID.
//
// Another owner waiting under the same id is no error: see RoutingID.
// The timeout in command.timeout's message is deadline minus now, rounded to
// the millisecond, so register right after computing the deadline.
func (p *Pending) Register(owner OwnerID, correlationID string, deadline time.Time) (*Request, error) {
	if correlationID == "" {
		return nil, protocol.Errorf(protocol.CodeHeaderInvalid,
			"The value '' of the header '%s' is not a valid non-empty string.", protocol.HeaderCorrelationID)
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	mine := p.byOwner[owner]
	if _, dup := mine[correlationID]; dup {
		return nil, protocol.Errorf(protocol.CodeAckDuplicateCorrelationID,
			"Correlation-id <%s> for acknowledgement request was already used very recently.", correlationID)
	}
	if len(mine) >= p.maxPerOwner {
		return nil, tooMany(fmt.Sprintf("This session already waits for %d answers, the most it may; wait for answers before sending more.", p.maxPerOwner))
	}
	if len(p.byRoute) >= p.maxTotal {
		return nil, tooMany(fmt.Sprintf("The gateway already waits for %d answers, the most it may; try again soon.", p.maxTotal))
	}
	routingID := correlationID
	for p.byRoute[routingID] != nil {
		routingID = correlationID + "_" + uuid.NewString()
	}
	r := &Request{
		p:             p,
		owner:         owner,
		correlationID: correlationID,
		routingID:     routingID,
		deadline:      deadline,
		timeout:       deadline.Sub(now).Round(time.Millisecond),
		done:          make(chan struct{}),
	}
	p.byRoute[routingID] = r
	if mine == nil {
		mine = make(map[string]*Request)
		p.byOwner[owner] = mine
	}
	mine[correlationID] = r
	// The callback takes p.mu, which is held until r.timer is set, so it
	// cannot see the request half-built even when the deadline has passed.
	r.timer = time.AfterFunc(deadline.Sub(now), func() { p.expire(r) })
	return r, nil
}

func tooMany(description string) *protocol.Error {
	return protocol.Errorf(protocol.CodeTooManyRequests, "You made too many requests.").WithDescription(description)
}

// Resolve delivers reply to the request whose RoutingID is correlationID
// and reports whether it was still waiting. It does not check who replies:
// a gateway routing replies from sessions uses ResolveFrom. The first reply wins; a reply
// after the request ended (answered, timed out, canceled) or for an unknown
// id is dropped and false returned. A renamed request's reply gets the
// asker's correlation-id back.
func (p *Pending) Resolve(correlationID string, reply protocol.Envelope) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.byRoute[correlationID]
	if r == nil {
		return false
	}
	if r.routingID != r.correlationID {
		reply.Headers = reply.Headers.Clone()
		reply.Headers[protocol.HeaderCorrelationID] = r.correlationID
	}
	p.end(r, reply, nil)
	return true
}

// ResolveFrom delivers reply to r if it is still waiting and responder is
// one of the owners r was delivered to (AddResponders), and reports whether
// it did. Nobody else may answer a request: a reply from any other party
// (one that guessed or overheard the correlation-id) is refused, and r
// keeps waiting. The first accepted reply wins, as with Resolve; its
// correlation-id is given back as the asker's.
func (p *Pending) ResolveFrom(r *Request, responder OwnerID, reply protocol.Envelope) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.ended {
		return false
	}
	if _, ok := r.responders[responder]; !ok {
		return false
	}
	if r.routingID != r.correlationID {
		reply.Headers = reply.Headers.Clone()
		reply.Headers[protocol.HeaderCorrelationID] = r.correlationID
	}
	p.end(r, reply, nil)
	return true
}

// HasResponder tells whether owner may still answer r: r was delivered to
// it and neither r has ended nor owner left.
func (r *Request) HasResponder(owner OwnerID) bool {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	_, ok := r.responders[owner]
	return ok
}

// AddResponders records the owners the signal was delivered to, the ones who
// may answer. When the last of them leaves (ResponderGone) before answering,
// the request ends at once rather than at its deadline. A request that
// never gets a responder waits for its deadline, as in Ditto.
func (p *Pending) AddResponders(r *Request, owners ...OwnerID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.ended {
		return
	}
	if r.responders == nil {
		r.responders = make(map[OwnerID]struct{}, len(owners))
	}
	for _, o := range owners {
		r.responders[o] = struct{}{}
		reqs := p.byResponder[o]
		if reqs == nil {
			reqs = make(map[*Request]struct{})
			p.byResponder[o] = reqs
		}
		reqs[r] = struct{}{}
	}
}

// Responders is how many of the owners that may answer are still there.
func (r *Request) Responders() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return len(r.responders)
}

// ResponderGone is called when owner's session closes: owner can no longer
// answer. Every request for which it was the last candidate ends at once with
// RespondersGoneError; the number of requests ended is returned.
//
// Ditto has no such hook: the asker waits for its timeout and gets
// command.timeout. The asker here gets the same code (408, Ditto's clients
// know it and retry on 408) as soon as no answer can come, with a message
// saying why.
func (p *Pending) ResponderGone(owner OwnerID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for r := range p.byResponder[owner] {
		delete(r.responders, owner)
		if len(r.responders) == 0 && !r.ended {
			p.end(r, protocol.Envelope{}, RespondersGoneError(r.timeout))
			n++
		}
	}
	delete(p.byResponder, owner)
	return n
}

// RespondersGoneError is command.timeout (408) for a request whose every
// possible responder disconnected before answering: the outcome the asker
// would get at its timeout, given early.
func RespondersGoneError(timeout time.Duration) *protocol.Error {
	return protocol.Errorf(protocol.CodeCommandTimeout,
		"No answer can arrive within the specified timeout of %sms: every session the request was delivered to has disconnected.",
		ack.FormatMillis(timeout)).
		WithDescription("Make sure that a device which answers is connected, and try again.")
}

// CancelOwner ends every request owner waits for with ErrCanceled (its
// session closed, its HTTP request was abandoned), releasing the waiters and
// their timers; the number ended is returned. Requests addressed to owner as
// a responder are ResponderGone's.
func (p *Pending) CancelOwner(owner OwnerID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	mine := p.byOwner[owner]
	n := len(mine)
	for _, r := range mine {
		p.end(r, protocol.Envelope{}, ErrCanceled)
	}
	return n
}

// Cancel ends r with err unless it has ended, and reports whether it did;
// for example when the gateway answers otherwise (live-channel-timeout-strategy
// use-twin) or the asker's HTTP request goes away.
func (p *Pending) Cancel(r *Request, err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.ended {
		return false
	}
	p.end(r, protocol.Envelope{}, err)
	return true
}

// Len is the number of requests waiting.
func (p *Pending) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byRoute)
}

// expire ends r at its deadline.
func (p *Pending) expire(r *Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !r.ended {
		p.end(r, protocol.Envelope{}, ack.CommandTimeoutError(r.timeout))
	}
}

// end ends r with reply or err and removes it from every index; p.mu held.
func (p *Pending) end(r *Request, reply protocol.Envelope, err error) {
	r.ended = true
	r.timer.Stop()
	r.reply, r.err = reply, err
	delete(p.byRoute, r.routingID)
	if mine := p.byOwner[r.owner]; mine != nil {
		delete(mine, r.correlationID)
		if len(mine) == 0 {
			delete(p.byOwner, r.owner)
		}
	}
	for o := range r.responders {
		if reqs := p.byResponder[o]; reqs != nil {
			delete(reqs, r)
			if len(reqs) == 0 {
				delete(p.byResponder, o)
			}
		}
	}
	r.responders = nil
	close(r.done)
}

package gateway

import "sync"

// pushResult tells what became of a message handed to an outQueue.
type pushResult int

const (
	pushed     pushResult = iota // queued; the writer was woken
	pushFull                     // a bound would be exceeded: the session is too slow
	pushClosed                   // the session is closing; the message is dropped
)

// spareKeep is the largest batch array the writer hands back for reuse; a
// larger one (left by a burst) goes to the garbage collector.
const spareKeep = 256

// outQueue is a session's outbound queue. It is bounded both by messages and
// by bytes, counting every message from push until the writer has written it,
// so the memory a session pins is bounded however large its messages are.
//
// push never blocks: it appends under mu and wakes the writer through the
// 1-buffered wake channel with a non-blocking send (one pending token is
// enough, the writer takes everything queued). The message bytes are shared,
// never copied or changed: Publish hands the same encoded event to every
// session.
type outQueue struct {
	wake chan struct{} // 1-buffered; a token means "there may be messages" (or a ping due, or close)

	maxMsgs, maxBytes int

	mu      sync.Mutex
	msgs    [][]byte // waiting for the writer
	pending int      // messages pushed and not yet written
	bytes   int      // their bytes
	closed  bool
}

func newOutQueue(maxMsgs, maxBytes int) *outQueue {
	return &outQueue{wake: make(chan struct{}, 1), maxMsgs: maxMsgs, maxBytes: maxBytes}
}

// push queues b for the writer. A message always fits into an empty queue,
// so one large response cannot close a session on its own.
func (q *outQueue) push(b []byte) pushResult {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return pushClosed
	}
	if q.pending > 0 && (q.pending+1 > q.maxMsgs || q.bytes+len(b) > q.maxBytes) {
		q.mu.Unlock()
		return pushFull
	}
	q.msgs = append(q.msgs, b)
	q.pending++
	q.bytes += len(b)
	q.mu.Unlock()
	q.wakeWriter()
	return pushed
}

// wakeWriter wakes the writer, unless a wake-up is pending already (one
// pending token is enough, the writer takes everything queued).
func (q *outQueue) wakeWriter() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take hands the writer every waiting message. spare, the writer's previous
// (written and cleared) batch, becomes the queue's next array, so steady
// state allocates nothing.
func (q *outQueue) take(spare [][]byte) [][]byte {
	if cap(spare) > spareKeep {
		spare = nil
	}
	q.mu.Lock()
	out := q.msgs
	if !q.closed {
		q.msgs = spare[:0]
	}
	q.mu.Unlock()
	return out
}

// written records that the writer is done with n messages of size bytes in
// all.
func (q *outQueue) written(n, size int) {
	q.mu.Lock()
	q.pending -= n
	q.bytes -= size
	q.mu.Unlock()
}

// close drops the waiting messages, makes later pushes report pushClosed
// and wakes the writer, which then sees its session closing.
func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.msgs = nil
	q.mu.Unlock()
	q.wakeWriter()
}

// len reports the messages pushed and not yet written.
func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

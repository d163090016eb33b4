package policies

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/twin"
)

// maxWriteAttempts bounds retries after a revision conflict, which only
// happens when another process writes the same store.
const maxWriteAttempts = 3

// decideFunc decides a write on the current state cur (whose policy it must
// not change): the policy to store (nil deletes the policy) and whether to
// store anything at all, or the error that refuses the command.
type decideFunc func(cur *snapshot) (next *policy.Policy, store bool, err error)

// write runs one write of policy id under its lock: read the stored state,
// decide, store durably with the next revision (a tombstone's revision
// counts on), and put the new revision in the cache at once, compiled, so
// that every caller of Enforcer sees it from now on. It returns the state
// after the write (the current one when nothing was stored).
//
// The state is read from the store, not the cache: another process sharing
// the store may have written the policy since it was cached. A write that
// still meets a revision conflict is decided again on the new state.
func (h *Handler) write(ctx context.Context, id string, decide decideFunc) (*snapshot, error) {
	l := h.locks.lock(id)
	defer h.locks.unlock(id, l)
	for attempt := 1; ; attempt++ {
		cur, err := h.reload(ctx, id)
		if err != nil {
			return nil, h.unavailable(id, err)
		}
		next, store, err := decide(cur)
		if err != nil || !store {
			return cur, err
		}
		now := h.now().UTC()
		ns, _, _ := strings.Cut(id, ":")
		rec := twin.Record{ID: id, Namespace: ns, Revision: cur.revision + 1, Created: now, Modified: now, Deleted: next == nil}
		if next != nil {
			if cur.policy != nil {
				rec.Created = cur.policy.Created
			}
			next.ID, next.Revision, next.Created, next.Modified = id, rec.Revision, rec.Created, rec.Modified
			rec.Doc = next.StoredJSON()
		}
		// Once the write may be committed it must be finished and cached,
		// whether or not the caller is still waiting.
		err = h.store.PutPolicy(context.WithoutCancel(ctx), rec, cur.revision)
		if errors.Is(err, twin.ErrRevisionConflict) && attempt < maxWriteAttempts {
			continue
		}
		if err != nil {
			return nil, h.unavailable(id, err)
		}
		s := &snapshot{revision: rec.Revision, policy: next, checked: now}
		if next != nil {
			s.enforcer = policy.Compile(next, now)
		}
		h.cache.put(id, s)
		return s, nil
	}
}

// idLocks gives each policy id its own mutex while some write holds or
// waits for it; idle entries are dropped, so memory follows the writes in
// flight, not the policies stored.
type idLocks struct {
	mu sync.Mutex
	m  map[string]*idLock
}

type idLock struct {
	sync.Mutex
	refs int // writes holding or waiting; guarded by idLocks.mu
}

// lock locks id and returns its entry, to be passed to unlock.
func (l *idLocks) lock(id string) *idLock {
	l.mu.Lock()
	e := l.m[id]
	if e == nil {
		e = &idLock{}
		l.m[id] = e
	}
	e.refs++
	l.mu.Unlock()
	e.Lock()
	return e
}

// unlock unlocks the entry e of id, which the caller locked.
func (l *idLocks) unlock(id string, e *idLock) {
	e.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(l.m, id)
	}
}

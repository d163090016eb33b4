package policies

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/twin"
)

// maxCached bounds the policies kept compiled; past it, arbitrary entries
// are dropped (and loaded again when asked for).
const maxCached = 1 << 16

// snapshot is a policy as this process last saw it in the store. It is
// immutable once cached: readers share it.
type snapshot struct {
	// revision is the stored revision, a tombstone's included (0: never
	// stored).
	revision int64
	// policy is nil when the policy is missing or deleted.
	policy   *policy.Policy
	enforcer *policy.Enforcer
	// checked is when the store last confirmed this revision.
	checked time.Time
}

// cache keeps the compiled current revision of the policies asked for, and
// the loads in flight so that concurrent callers for one uncached policy
// share a single load.
type cache struct {
	mu      sync.Mutex
	entries map[string]*snapshot
	loads   map[string]*pendingLoad
}

type pendingLoad struct {
	done chan struct{}
	snap *snapshot
	err  error
}

// put caches s as the state of id unless a newer revision is cached (a load
// that read the store before a write finished must not undo it), and
// returns the state cached.
func (c *cache) put(id string, s *snapshot) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[id]; old != nil && old.revision > s.revision {
		return old
	}
	if _, ok := c.entries[id]; !ok {
		for k := range c.entries {
			if len(c.entries) < maxCached {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[id] = s
	return s
}

// current returns the state of policy id: the cached one while it is
// younger than the TTL, else the stored one (one load per id at a time).
// Store failures wrap twin.ErrUnavailable.
func (h *Handler) current(ctx context.Context, id string) (*snapshot, error) {
	now := h.now()
	h.cache.mu.Lock()
	s := h.cache.entries[id]
	if s != nil && now.Sub(s.checked) < h.ttl {
		h.cache.mu.Unlock()
		return h.fresh(id, s, now), nil
	}
	if l := h.cache.loads[id]; l != nil {
		h.cache.mu.Unlock()
		select {
		case <-l.done:
			if l.err != nil {
				return nil, l.err
			}
			return h.fresh(id, l.snap, h.now()), nil
		case <-ctx.Done():
			return nil, storeError(id, fmt.Errorf("%w: %w", twin.ErrUnavailable, ctx.Err()))
		}
	}
	l := &pendingLoad{done: make(chan struct{})}
	h.cache.loads[id] = l
	h.cache.mu.Unlock()

	// The load serves every waiter: one caller going away must not fail it.
	l.snap, l.err = h.load(context.WithoutCancel(ctx), id, s)
	if l.err == nil {
		l.snap = h.cache.put(id, l.snap)
	}
	h.cache.mu.Lock()
	delete(h.cache.loads, id)
	h.cache.mu.Unlock()
	close(l.done)
	if l.err != nil {
		return nil, l.err
	}
	return h.fresh(id, l.snap, now), nil
}

// reload reads policy id from the store whatever the cache holds, and caches
// what it read.
func (h *Handler) reload(ctx context.Context, id string) (*snapshot, error) {
	h.cache.mu.Lock()
	prev := h.cache.entries[id]
	h.cache.mu.Unlock()
	s, err := h.load(ctx, id, prev)
	if err != nil {
		return nil, err
	}
	h.cache.put(id, s)
	return s, nil
}

// load reads policy id from the store. A revision equal to prev's keeps
// prev's parsed and compiled policy: a policy is compiled once per revision.
func (h *Handler) load(ctx context.Context, id string, prev *snapshot) (*snapshot, error) {
	rec, err := h.store.GetPolicy(ctx, id)
	now := h.now()
	switch {
	case errors.Is(err, twin.ErrNotFound):
		return &snapshot{checked: now}, nil
	case err != nil:
		return nil, storeError(id, fmt.Errorf("%w: %w", twin.ErrUnavailable, err))
	case rec.Deleted:
		return &snapshot{revision: rec.Revision, checked: now}, nil
	case prev != nil && prev.policy != nil && prev.revision == rec.Revision:
		return &snapshot{revision: rec.Revision, policy: prev.policy, enforcer: prev.enforcer, checked: now}, nil
	}
	p, err := policy.Parse(id, rec.Doc)
	if err != nil {
		h.log.Error("stored policy cannot be read", "policy", id, "revision", rec.Revision, "err", err)
		return nil, storeError(id, fmt.Errorf("%w: stored policy unreadable: %w", twin.ErrUnavailable, err))
	}
	p.Revision, p.Created, p.Modified = rec.Revision, rec.Created, rec.Modified
	return &snapshot{revision: rec.Revision, policy: p, enforcer: policy.Compile(p, now), checked: now}, nil
}

// fresh returns s, its policy compiled again when a subject has expired
// since it was compiled (expired subjects no longer count).
func (h *Handler) fresh(id string, s *snapshot, now time.Time) *snapshot {
	if s.policy == nil || !s.enforcer.Stale(now) {
		return s
	}
	next := &snapshot{revision: s.revision, policy: s.policy, enforcer: policy.Compile(s.policy, now), checked: s.checked}
	h.cache.mu.Lock()
	if h.cache.entries[id] == s {
		h.cache.entries[id] = next
	}
	h.cache.mu.Unlock()
	return next
}

package twin

import "sync"

// thingLocks gives each thing its own mutex, created on first use and
// dropped when no command holds or waits for it, so memory follows the
// number of things being written, not the number stored.
type thingLocks struct {
	mu sync.Mutex
	m  map[string]*thingLock
}

type thingLock struct {
	sync.Mutex
	refs int // commands holding or waiting; guarded by thingLocks.mu
}

// lock locks the thing id and returns the function that unlocks it.
func (l *thingLocks) lock(id string) (unlock func()) {
	l.mu.Lock()
	tl := l.m[id]
	if tl == nil {
		tl = &thingLock{}
		l.m[id] = tl
	}
	tl.refs++
	l.mu.Unlock()
	tl.Lock()
	return func() {
		tl.Unlock()
		l.mu.Lock()
		tl.refs--
		if tl.refs == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}

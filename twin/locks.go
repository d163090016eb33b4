package twin

import "sync"

// Bounds of the records that idle lock entries keep (see thingLocks).
const (
	maxIdleRecords     = 16384
	maxIdleRecordBytes = 32 << 20
	// recordOverhead is what an entry costs besides its document, roughly.
	recordOverhead = 256
)

// thingLocks gives each thing its own mutex, created on first use.
//
// An entry also remembers the thing's record as this process last stored it
// (thingLock.last), so that the next write of the thing can skip reading it
// back from the store (see Handler.write). An entry that no command holds or
// waits for is kept for its record while the kept records stay within
// maxIdleRecords entries and maxIdleRecordBytes of documents; beyond that,
// idle entries are dropped in random order. An entry without a record is
// dropped as soon as it is idle. So memory follows the number of things
// recently written, not the number stored.
//
// Lock order: a thing's mutex may be held while taking mu, never the reverse.
type thingLocks struct {
	mu        sync.Mutex
	m         map[string]*thingLock
	idle      int // idle entries kept for their record
	idleBytes int // their accounted size
}

type thingLock struct {
	sync.Mutex
	refs int // commands holding or waiting; guarded by thingLocks.mu
	size int // accounted size while idle, 0 when in use; guarded by thingLocks.mu

	// last is the record this process last stored for the thing, valid
	// when hasLast. Only the holder of the mutex reads or changes them. The
	// document stays JSON (last.Doc): bytes cost the garbage collector
	// nothing to keep, while a decoded tree is many small objects it would
	// scan at every cycle.
	last    Record
	hasLast bool
}

// remember records rec as the thing's stored state; the caller holds tl.
func (tl *thingLock) remember(rec Record) { tl.last, tl.hasLast = rec, true }

// forget drops the remembered state; the caller holds tl.
func (tl *thingLock) forget() { tl.last, tl.hasLast = Record{}, false }

// lock locks the thing id and returns its entry, to be passed to unlock.
func (l *thingLocks) lock(id string) *thingLock {
	l.mu.Lock()
	tl := l.m[id]
	if tl == nil {
		tl = &thingLock{}
		l.m[id] = tl
	}
	if tl.refs == 0 && tl.size > 0 {
		l.idle--
		l.idleBytes -= tl.size
		tl.size = 0
	}
	tl.refs++
	l.mu.Unlock()
	tl.Lock()
	return tl
}

// unlock unlocks the entry tl of id, which the caller locked.
func (l *thingLocks) unlock(id string, tl *thingLock) {
	size := 0
	if tl.hasLast {
		size = len(tl.last.Doc) + len(id) + recordOverhead
	}
	tl.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	tl.refs--
	if tl.refs > 0 {
		return
	}
	if size == 0 {
		delete(l.m, id)
		return
	}
	tl.size = size
	l.idle++
	l.idleBytes += size
	for k, e := range l.m {
		if l.idle <= maxIdleRecords && l.idleBytes <= maxIdleRecordBytes {
			break
		}
		if e.refs == 0 {
			l.idle--
			l.idleBytes -= e.size
			delete(l.m, k)
		}
	}
}

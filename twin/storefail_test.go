package twin_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// faultyStore is the real store with injected failures.
type faultyStore struct {
	twin.Store
	mu      sync.Mutex
	puts    int
	putErr  func(n int) error // the error of the n-th Put (from 1), nil to store
	getErr  error
	manyErr error
}

func (s *faultyStore) Put(ctx context.Context, rec twin.Record, prev int64) error {
	s.mu.Lock()
	s.puts++
	n := s.puts
	s.mu.Unlock()
	if s.putErr != nil {
		if err := s.putErr(n); err != nil {
			return err
		}
	}
	return s.Store.Put(ctx, rec, prev)
}

func (s *faultyStore) Get(ctx context.Context, id string) (twin.Record, error) {
	if s.getErr != nil {
		return twin.Record{}, s.getErr
	}
	return s.Store.Get(ctx, id)
}

func (s *faultyStore) GetMany(ctx context.Context, ids []string) ([]twin.Record, error) {
	if s.manyErr != nil {
		return nil, s.manyErr
	}
	return s.Store.GetMany(ctx, ids)
}

var errDisk = fmt.Errorf("disk full: %w", twin.ErrUnavailable)

func newFaulty(t *testing.T) (*fixture, *faultyStore) {
	var fs *faultyStore
	f := newFixture(t, withStore(func(s twin.Store) twin.Store {
		fs = &faultyStore{Store: s}
		return fs
	}))
	return f, fs
}

// A failed Put is 503 things:thing.unavailable, publishes no event and leaves
// the thing as it was.
func TestStorePutFails(t *testing.T) {
	f, fs := newFaulty(t)
	id := "org.example:sf"
	f.mustCreate(id, `{"attributes":{"a":1}}`)
	f.events.take()
	fs.putErr = func(int) error { return errDisk }
	for _, c := range []struct{ action, thing, path, value string }{
		{"modify", id, "/attributes/a", `2`},
		{"merge", id, "/", `{"attributes":{"b":1}}`},
		{"delete", id, "/", ""},
		{"modify", "org.example:new", "/", `{}`},
		{"create", "org.example:new", "/", `{}`},
		{"merge", "org.example:new", "/", `{"attributes":{"a":1}}`},
	} {
		resp := f.send(c.action, c.thing, c.path, c.value, "correlation-id", "sf")
		e := wantError(t, resp, 503, "things:thing.unavailable")
		if want := "The Thing with ID '" + c.thing + "' is not available, please try again later."; e.Message != want {
			t.Errorf("message %q", e.Message)
		}
		if resp.Headers["correlation-id"] != "sf" || resp.Topic != errorTopic(c.thing) {
			t.Errorf("error envelope %s", mustJSON(resp))
		}
	}
	noEvent(t, f)
	fs.putErr = nil
	jsonEqual(t, "unchanged", f.retrieve(id, "/", "_revision,attributes").Value, `{"_revision":1,"attributes":{"a":1}}`)
	wantError(t, f.retrieve("org.example:new", "/", ""), 404, "things:thing.notfound")
	// Once the store is back the writes work and count on from where it was.
	resp := f.modify(id, "/attributes/a", `2`)
	wantStatus(t, resp, 204)
	if resp.Headers[protocol.HeaderEntityRevision] != "2" {
		t.Errorf("revision %s", resp.Headers[protocol.HeaderEntityRevision])
	}
	checkEventOrder(t, f.events.take(), 2, 1)
}

// A failed read is 503 too, for retrieves and writes.
func TestStoreReadFails(t *testing.T) {
	f, fs := newFaulty(t)
	id := "org.example:rf"
	f.mustCreate(id, `{}`)
	f.events.take()
	fs.getErr = errDisk
	wantError(t, f.retrieve(id, "/", ""), 503, "things:thing.unavailable")
	wantError(t, f.modify(id, "/attributes", `{}`), 503, "things:thing.unavailable")
	fs.getErr = nil
	fs.manyErr = errors.New("boom")
	wantError(t, f.handle(protocol.Envelope{Topic: "_/_/things/twin/commands/retrieve", Path: "/", Value: raw(`{"thingIds":["` + id + `"]}`)}),
		503, "things:thing.unavailable")
	noEvent(t, f)
}

// A revision conflict (another process wrote the thing) is retried on the
// state read again; after three conflicts the write gives up with 503.
func TestStoreRevisionConflict(t *testing.T) {
	f, fs := newFaulty(t)
	id := "org.example:rc"
	f.mustCreate(id, `{"attributes":{"a":1}}`)
	f.events.take()

	conflicts := 0
	fs.mu.Lock()
	start := fs.puts
	fs.mu.Unlock()
	fs.putErr = func(n int) error {
		if n == start+1 {
			conflicts++
			return fmt.Errorf("sqlitestore: put: %w", twin.ErrRevisionConflict)
		}
		return nil
	}
	resp := f.modify(id, "/attributes/a", `2`)
	wantStatus(t, resp, 204)
	if conflicts != 1 || resp.Headers[protocol.HeaderEntityRevision] != "2" {
		t.Errorf("conflicts %d, revision %s", conflicts, resp.Headers[protocol.HeaderEntityRevision])
	}
	checkEventOrder(t, f.events.take(), 2, 1)

	fs.mu.Lock()
	start = fs.puts
	fs.mu.Unlock()
	fs.putErr = func(int) error { return twin.ErrRevisionConflict }
	wantError(t, f.modify(id, "/attributes/a", `3`), 503, "things:thing.unavailable")
	fs.mu.Lock()
	attempts := fs.puts - start
	fs.mu.Unlock()
	if attempts != 3 {
		t.Errorf("%d attempts, want 3", attempts)
	}
	noEvent(t, f)
}

package twin_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/twinway/twinway/twin"
)

const (
	writers          = 32
	writesPerWriter  = 50
	concurrentWrites = writers * writesPerWriter
)

// checkEventOrder checks that evs (one thing's, in publish order) have the
// revisions first, first+1, …
func checkEventOrder(t *testing.T, evs []twin.Event, first int64, n int) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
	for i, ev := range evs {
		want := first + int64(i)
		if ev.Revision != want || ev.Envelope.Revision != want ||
			ev.Envelope.Headers["entity-revision"] != strconv.FormatInt(want, 10) {
			t.Fatalf("event %d has revision %d (envelope %d), want %d", i, ev.Revision, ev.Envelope.Revision, want)
		}
	}
}

// 32 goroutines each send 50 modifies to the same thing: all succeed, each
// gets its own revision, and the events come out in revision order. A reader
// meanwhile never sees the revision go back.
func TestConcurrentWritesToOneThing(t *testing.T) {
	if testing.Short() {
		t.Skip("1600 durable writes")
	}
	f := newFixture(t)
	id := "org.example:hot"
	f.mustCreate(id, `{"features":{"f":{"properties":{}}}}`)

	var wg sync.WaitGroup
	revs := make(chan int64, concurrentWrites)
	errs := make(chan string, concurrentWrites)
	for w := range writers {
		wg.Go(func() {
			for i := range writesPerWriter {
				path := fmt.Sprintf("/features/f/properties/w%d", w)
				resp := f.modify(id, path, strconv.Itoa(i), "correlation-id", fmt.Sprintf("w%d-%d", w, i))
				want := 204
				if i == 0 {
					want = 201
				}
				if resp.Status != want || resp.Headers["correlation-id"] != fmt.Sprintf("w%d-%d", w, i) {
					errs <- mustJSON(resp)
					return
				}
				rev, err := strconv.ParseInt(resp.Headers["entity-revision"], 10, 64)
				if err != nil {
					errs <- mustJSON(resp)
					return
				}
				revs <- rev
			}
		})
	}
	stop := make(chan struct{})
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		last := int64(0)
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp := f.retrieve(id, "/", "_revision")
			var v struct {
				Revision int64 `json:"_revision"`
			}
			if resp.Status != 200 || json.Unmarshal(resp.Value, &v) != nil || v.Revision < last {
				errs <- "reader: " + mustJSON(resp)
				return
			}
			last = v.Revision
		}
	})
	wg.Wait()
	close(stop)
	readerWG.Wait()
	close(revs)
	close(errs)
	for e := range errs {
		t.Fatalf("failed: %s", e)
	}
	seen := make(map[int64]bool, concurrentWrites)
	for r := range revs {
		if seen[r] || r < 2 || r > 1+concurrentWrites {
			t.Fatalf("revision %d twice or out of range", r)
		}
		seen[r] = true
	}
	if len(seen) != concurrentWrites {
		t.Fatalf("%d responses", len(seen))
	}
	got := f.retrieve(id, "/", "_revision")
	jsonEqual(t, "final revision", got.Value, fmt.Sprintf(`{"_revision":%d}`, 1+concurrentWrites))
	checkEventOrder(t, f.events.of(id), 1, 1+concurrentWrites)
	// Every writer's last value is there.
	want := map[string]int{}
	for w := range writers {
		want[fmt.Sprintf("w%d", w)] = writesPerWriter - 1
	}
	jsonEqual(t, "properties", f.retrieve(id, "/features/f/properties", "").Value, mustJSON(want))
}

// 32 goroutines each create and write their own thing at the same time.
func TestConcurrentWritesToManyThings(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	errs := make(chan string, writers)
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("org.example:t%d", w)
			if resp := f.modify(id, "/", `{"attributes":{}}`); resp.Status != 201 {
				errs <- mustJSON(resp)
				return
			}
			for i := range writesPerWriter {
				resp := f.merge(id, "/attributes", fmt.Sprintf(`{"n":%d,"w":%d}`, i, w))
				if resp.Status != 204 || resp.Headers["entity-revision"] != strconv.Itoa(i+2) {
					errs <- mustJSON(resp)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("failed: %s", e)
	}
	if n := len(f.events.all()); n != writers*(1+writesPerWriter) {
		t.Errorf("%d events", n)
	}
	for w := range writers {
		id := fmt.Sprintf("org.example:t%d", w)
		checkEventOrder(t, f.events.of(id), 1, 1+writesPerWriter)
		jsonEqual(t, id, f.retrieve(id, "/", "_revision,attributes").Value,
			fmt.Sprintf(`{"_revision":%d,"attributes":{"n":%d,"w":%d}}`, 1+writesPerWriter, writesPerWriter-1, w))
	}
}

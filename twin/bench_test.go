package twin_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/twinway/twinway/twin"
)

// countingSink counts events: benchmarks must not hold them all.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) Publish(twin.Event) { s.n.Add(1) }

func withEvents(sink twin.EventSink) option { return func(c *twin.Config) { c.Events = sink } }

func BenchmarkModifyProperty(b *testing.B) {
	sink := &countingSink{}
	f := newFixture(b, withEvents(sink))
	id := "org.example:bench"
	f.mustCreate(id, lampThing)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if resp := f.modify(id, "/features/lamp/properties/level", strconv.Itoa(i)); resp.Status != 204 {
			b.Fatalf("%s", mustJSON(resp))
		}
	}
	b.StopTimer()
	if sink.n.Load() < int64(b.N) {
		b.Fatalf("%d events for %d writes", sink.n.Load(), b.N)
	}
}

func BenchmarkModifyPropertyParallel(b *testing.B) {
	sink := &countingSink{}
	f := newFixture(b, withEvents(sink))
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("org.example:bench-%d", next.Add(1))
		if resp := f.modify(id, "/", lampThing); resp.Status != 201 {
			b.Errorf("%s", mustJSON(resp))
			return
		}
		for i := 0; pb.Next(); i++ {
			if resp := f.modify(id, "/features/lamp/properties/level", strconv.Itoa(i)); resp.Status != 204 {
				b.Errorf("%s", mustJSON(resp))
				return
			}
		}
	})
}

func BenchmarkRetrieveThing(b *testing.B) {
	f := newFixture(b, withEvents(&countingSink{}))
	id := "org.example:bench"
	f.mustCreate(id, lampThing)
	b.ReportAllocs()
	for b.Loop() {
		if resp := f.retrieve(id, "/", ""); resp.Status != 200 {
			b.Fatalf("%s", mustJSON(resp))
		}
	}
}

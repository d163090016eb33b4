package sqlitestore

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinway/twinway/twin"
)

// benchRecord is a thing of about 400 bytes, a typical small twin.
func benchRecord(id string) twin.Record {
	now := time.Now()
	return twin.Record{
		ID: id, Namespace: "org.example", PolicyID: "org.example:policy", Revision: 1,
		Created: now, Modified: now,
		Doc: []byte(`{"thingId":"` + id + `","policyId":"org.example:policy","attributes":{"manufacturer":"ACME","location":{"building":"B7","floor":3}},` +
			`"features":{"temperature":{"properties":{"value":21.5,"unit":"°C"}},"humidity":{"properties":{"value":48.2,"unit":"%"}},` +
			`"battery":{"properties":{"level":87,"charging":false},"desiredProperties":{"charging":true}}}}`),
	}
}

// commitCounter is an Observe hook reporting puts per group commit.
type commitCounter struct {
	puts, commits atomic.Int64
}

func (c *commitCounter) observe(n int, _ time.Duration) {
	c.puts.Add(int64(n))
	c.commits.Add(1)
}

func (c *commitCounter) report(b *testing.B) {
	if n := c.commits.Load(); n > 0 {
		b.ReportMetric(float64(c.puts.Load())/float64(n), "puts/commit")
	}
}

// BenchmarkPutSerial is one writer: every Put pays a whole commit (fsync).
func BenchmarkPutSerial(b *testing.B) {
	var cc commitCounter
	st := openTest(b, b.TempDir(), Config{Observe: cc.observe})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := st.Put(ctx, benchRecord("bench:"+strconv.Itoa(i)), 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
	cc.report(b)
}

// BenchmarkPutParallel is many writers on distinct things: group commit
// shares each fsync between the Puts waiting for it.
func BenchmarkPutParallel(b *testing.B) {
	var cc commitCounter
	st := openTest(b, b.TempDir(), Config{Observe: cc.observe})
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS writers, as many sessions would
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "bench:" + strconv.FormatInt(next.Add(1), 10)
			if err := st.Put(ctx, benchRecord(id), 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cc.report(b)
}

const benchThings = 1000

func populate(b *testing.B, st *Store) {
	b.Helper()
	var wg sync.WaitGroup
	for w := range 50 {
		wg.Go(func() {
			for i := w; i < benchThings; i += 50 {
				if err := st.Put(context.Background(), benchRecord("bench:"+strconv.Itoa(i)), 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkGet(b *testing.B) {
	st := openTest(b, b.TempDir(), Config{})
	populate(b, st)
	ctx := context.Background()
	ids := make([]string, benchThings)
	for i := range ids {
		ids[i] = "bench:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := st.Get(ctx, ids[i%benchThings]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetParallel(b *testing.B) {
	st := openTest(b, b.TempDir(), Config{})
	populate(b, st)
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := "bench:" + strconv.FormatInt(next.Add(1)%benchThings, 10)
			if _, err := st.Get(ctx, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGetMany100(b *testing.B) {
	st := openTest(b, b.TempDir(), Config{})
	populate(b, st)
	ctx := context.Background()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = "bench:" + strconv.Itoa(i*7%benchThings)
	}
	b.ReportAllocs()
	for b.Loop() {
		recs, err := st.GetMany(ctx, ids)
		if err != nil || len(recs) != len(ids) {
			b.Fatal(len(recs), err)
		}
	}
}

package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

// searchBenchRecord is a realistic thing of about 500 bytes whose fields
// vary with i: 100 manufacturers, serial numbers, temperatures from 15 to
// 30 °C.
func searchBenchRecord(i int) twin.Record {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	id := fmt.Sprintf("org.example:device-%06d", i)
	temp := 15 + float64((i*7919)%1500)/100
	doc := fmt.Sprintf(`{"thingId":%q,"policyId":"org.example:policy","definition":"org.example:Sensor:1.0.0",`+
		`"attributes":{"manufacturer":"ACME-%d","serial":"SN-%07d","model":"T%d","location":{"building":"B%d","floor":%d}},`+
		`"features":{"temperature":{"properties":{"value":%g,"unit":"°C"}},"humidity":{"properties":{"value":%d,"unit":"%%"}},`+
		`"battery":{"properties":{"level":%d,"charging":%t},"desiredProperties":{"charging":true}}}}`,
		id, i%100, i, i%7, i%20, i%10, temp, 30+i%50, i%101, i%3 == 0)
	return twin.Record{ID: id, Namespace: "org.example", PolicyID: "org.example:policy", Revision: 1,
		Created: now, Modified: now, Doc: []byte(doc)}
}

// seedBench stores n things with parallel Puts (group commit) and reports
// how long it took.
func seedBench(tb testing.TB, st *Store, n int) time.Duration {
	tb.Helper()
	start := time.Now()
	ctx := context.Background()
	var wg sync.WaitGroup
	workers := 64
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := st.Put(ctx, searchBenchRecord(i), 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// The queries the issue asks figures for.
var searchBenchQueries = []struct {
	name, filter, options string
}{
	{"equality", `eq(attributes/manufacturer,"ACME-42")`, ""},
	{"equality-rare", `eq(attributes/serial,"SN-0012345")`, ""},
	{"range+sort+size25", `and(ge(features/temperature/properties/value,20),lt(features/temperature/properties/value,21))`,
		"sort(-features/temperature/properties/value),size(25)"},
	{"like", `like(attributes/serial,"*42*")`, ""},
	{"like-prefix", `like(attributes/serial,"SN-00042*")`, ""},
	{"like-rare", `like(attributes/serial,"*99999*")`, ""},
	{"count-equality", `eq(attributes/manufacturer,"ACME-42")`, "count"},
	{"sort-modified", `exists(thingId)`, "sort(-_modified),size(25)"},
}

func benchQuery(tb testing.TB, filter, options string) (twin.SearchQuery, bool) {
	tb.Helper()
	n, err := rql.ParseFilter(filter)
	if err != nil {
		tb.Fatal(err)
	}
	q := twin.SearchQuery{Filter: n}
	if options == "count" {
		return q, true
	}
	if options != "" {
		o, err := rql.ParseOptions(options)
		if err != nil {
			tb.Fatal(err)
		}
		q.Sort, q.Size = o.Sort, o.Size
	}
	return q, false
}

// BenchmarkSearch runs the queries over 10,000 things (the 100,000-thing
// figures come from TestSearchLatency, see below).
func BenchmarkSearch(b *testing.B) {
	st := openTest(b, b.TempDir(), Config{})
	seedBench(b, st, 10_000)
	ctx := context.Background()
	for _, sq := range searchBenchQueries {
		b.Run(sq.name, func(b *testing.B) {
			q, count := benchQuery(b, sq.filter, sq.options)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if count {
					_, err = st.Count(ctx, q)
				} else {
					_, err = st.Search(ctx, q)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSearchLatency seeds 100,000 things and reports p50/p99 latencies of
// the benchmark queries (first page, and the page after it). It takes a
// while, so it runs only with TWINWAY_SEARCH_BENCH=1 (the number of things
// may be set with TWINWAY_SEARCH_BENCH_THINGS):
//
//	TWINWAY_SEARCH_BENCH=1 go test -run TestSearchLatency -v ./twin/sqlitestore/
func TestSearchLatency(t *testing.T) {
	if os.Getenv("TWINWAY_SEARCH_BENCH") != "1" {
		t.Skip("set TWINWAY_SEARCH_BENCH=1 to seed 100,000 things and measure search latency")
	}
	things := 100_000
	if s := os.Getenv("TWINWAY_SEARCH_BENCH_THINGS"); s != "" {
		things, _ = strconv.Atoi(s)
	}
	st := openTest(t, t.TempDir(), Config{})
	took := seedBench(t, st, things)
	t.Logf("seeded %d things in %v (%.0f puts/s); %s, GOMAXPROCS %d", things, took.Round(time.Millisecond),
		float64(things)/took.Seconds(), runtime.GOARCH, runtime.GOMAXPROCS(0))
	ctx := context.Background()
	const runs = 40
	for _, sq := range searchBenchQueries {
		q, count := benchQuery(t, sq.filter, sq.options)
		var first, next []time.Duration
		var results int
		for range runs {
			start := time.Now()
			if count {
				n, err := st.Count(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				results = int(n)
				first = append(first, time.Since(start))
				continue
			}
			page, err := st.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			first = append(first, time.Since(start))
			results = len(page.Records)
			if page.NextCursor != "" {
				q2 := q
				q2.Cursor = page.NextCursor
				start = time.Now()
				if _, err := st.Search(ctx, q2); err != nil {
					t.Fatal(err)
				}
				next = append(next, time.Since(start))
			}
		}
		line := fmt.Sprintf("%-18s %-100s results %5d  first page p50 %8v p99 %8v", sq.name, sq.filter+" "+sq.options,
			results, percentile(first, 50), percentile(first, 99))
		if len(next) > 0 {
			line += fmt.Sprintf("  next page p50 %8v p99 %8v", percentile(next, 50), percentile(next, 99))
		}
		t.Log(line)
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(i, 0)].Round(10 * time.Microsecond)
}

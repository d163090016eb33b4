// Command twinway-load drives a running gateway over real sockets and
// reports, per workload, throughput, latency percentiles and errors, as a
// table for people and (with -json) JSON lines for scripts.
//
//	twinway-load -addr 127.0.0.1:8080 -workload modify,read -conns 32 -duration 10s
//
// Workloads:
//   - modify: WebSocket connections sending modify-feature-property commands,
//     each waiting for its response, i.e. until the change is durable
//     (-acks adds requested-acks twin-persisted);
//   - read: HTTP GET of things by id over keep-alive connections;
//   - fanout: -subscribers sessions with START-SEND-EVENTS and -writers
//     connections modifying things; deliveries/s and write→event latency;
//   - idle: -sessions idle WebSocket sessions; the gateway's memory per
//     session, read from its /metrics.
//
// Every run is bounded by -duration and -max-ops and stops by itself.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type options struct {
	addr, user, password string
	conns                int
	duration             time.Duration
	maxOps               int
	namespace            string
	acks                 bool
	subscribers, writers int
	sessions             int
	asJSON               bool
}

// result is one workload's figures.
type result struct {
	Workload   string  `json:"workload"`
	Conns      int     `json:"conns"`
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"perSecond"`
	P50Millis  float64 `json:"p50Ms"`
	P90Millis  float64 `json:"p90Ms"`
	P99Millis  float64 `json:"p99Ms"`
	MaxMillis  float64 `json:"maxMs"`
	Note       string  `json:"note,omitempty"`
	FirstError string  `json:"firstError,omitempty"`
}

type workload func(ctx context.Context, o options, name string) (result, error)

var workloads = map[string]workload{
	"modify": closedLoop(modifyWorker),
	"read":   closedLoop(readWorker),
	"fanout": fanout,
	"idle":   idle,
}

func main() {
	var o options
	names := flag.String("workload", "modify", "comma-separated workloads: modify, read, fanout, idle")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "gateway host:port")
	flag.StringVar(&o.user, "user", "ditto", "HTTP Basic user")
	flag.StringVar(&o.password, "password", "ditto", "HTTP Basic password")
	flag.IntVar(&o.conns, "conns", 32, "concurrent connections for modify and read (one thing each)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each workload runs")
	flag.IntVar(&o.maxOps, "max-ops", 10_000_000, "stop a workload after this many operations")
	flag.StringVar(&o.namespace, "namespace", "load", "namespace of the things used")
	flag.BoolVar(&o.acks, "acks", false, "modify: request the twin-persisted acknowledgement")
	flag.IntVar(&o.subscribers, "subscribers", 1000, "fanout: sessions receiving events")
	flag.IntVar(&o.writers, "writers", 4, "fanout: connections writing")
	flag.IntVar(&o.sessions, "sessions", 10000, "idle: sessions to open")
	flag.BoolVar(&o.asJSON, "json", false, "print JSON lines instead of a table")
	flag.Parse()
	if err := run(o, strings.Split(*names, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "twinway-load:", err)
		os.Exit(1)
	}
}

func run(o options, names []string) error {
	if !o.asJSON {
		fmt.Printf("%-8s %6s %9s %7s %10s %8s %8s %8s %8s  %s\n", "workload", "conns", "ops", "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "note")
	}
	for _, name := range names {
		w, ok := workloads[name]
		if !ok {
			return fmt.Errorf("unknown workload %q", name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.duration)
		r, err := w(ctx, o, name)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if o.asJSON {
			json.NewEncoder(os.Stdout).Encode(r)
			continue
		}
		fmt.Printf("%-8s %6d %9d %7d %10.0f %8.2f %8.2f %8.2f %8.2f  %s\n", r.Workload, r.Conns, r.Ops, r.Errors, r.PerSecond,
			r.P50Millis, r.P90Millis, r.P99Millis, r.MaxMillis, r.Note)
		if r.FirstError != "" {
			fmt.Println("  first error:", r.FirstError)
		}
	}
	return nil
}

// worker runs one connection's loop and returns its latencies and errors.
type worker func(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error)

// closedLoop runs o.conns workers, each with one operation in flight.
func closedLoop(w worker) workload {
	return func(ctx context.Context, o options, name string) (result, error) {
		if err := seed(o, o.conns); err != nil {
			return result{}, fmt.Errorf("seeding things: %w", err)
		}
		budget := &opsBudget{left: o.maxOps}
		var mu sync.Mutex
		var all []time.Duration
		errCount := 0
		var firstErr error
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < o.conns; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				lat, errs, err := w(ctx, o, i, budget)
				mu.Lock()
				defer mu.Unlock()
				all = append(all, lat...)
				errCount += errs
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}(i)
		}
		wg.Wait()
		r := summarize(name, o.conns, all, errCount, time.Since(start))
		if firstErr != nil {
			r.FirstError = firstErr.Error()
		}
		return r, nil
	}
}

// opsBudget bounds the operations of all workers together.
type opsBudget struct {
	mu   sync.Mutex
	left int
}

func (b *opsBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return false
	}
	b.left--
	return true
}

func summarize(name string, conns int, lat []time.Duration, errs int, elapsed time.Duration) result {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	return result{Workload: name, Conns: conns, Ops: len(lat), Errors: errs, Seconds: elapsed.Seconds(),
		PerSecond: float64(len(lat)) / elapsed.Seconds(), P50Millis: pct(0.50), P90Millis: pct(0.90),
		P99Millis: pct(0.99), MaxMillis: pct(1)}
}

func thingID(o options, i int) string { return fmt.Sprintf("%s:thing-%d", o.namespace, i) }

// seed creates (or replaces) things 0..n-1.
func seed(o options, n int) error {
	for i := 0; i < n; i++ {
		body := `{"features":{"sensor":{"properties":{"value":0}}}}`
		req, _ := http.NewRequest(http.MethodPut, "http://"+o.addr+"/api/2/things/"+thingID(o, i), strings.NewReader(body))
		req.SetBasicAuth(o.user, o.password)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("PUT %s: %s", thingID(o, i), resp.Status)
		}
	}
	return nil
}

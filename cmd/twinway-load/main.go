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
//   - search: HTTP GET /api/2/search/things with a filter, a sort and a
//     size (-search-filter, -search-option) over keep-alive connections;
//   - fanout: -subscribers sessions with START-SEND-EVENTS and -writers
//     connections modifying things; deliveries/s and write→event latency;
//   - idle: -sessions idle WebSocket sessions; the gateway's memory per
//     session, read from its /metrics;
//   - messages: -devices WebSocket device sessions, each answering the live
//     messages to its thing, and -conns callers sending messages and
//     waiting for the answers, over HTTP or from WebSocket app sessions
//     (-via http|ws); round trips/s and latency.
//
// Every run is bounded by -duration and -max-ops and stops by itself.
//
// The generator runs on the same machine as the gateway in `make bench`, so
// it is built to be cheap: requests are pre-encoded, responses are checked
// without decoding them, frames are read into reused buffers. Each result
// reports the CPU the generator and the gateway used during the measured
// window (in cores), so that a reader can tell what the gateway had left.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
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
	views                int
	sessions             int
	hold                 time.Duration
	things               int
	searchFilter         string
	searchOption         string
	asJSON               bool
	label                string
	header               bool
	jsonOut              string
	cpuProfile           string
	devices              int
	via                  string
}

// result is one workload's figures.
type result struct {
	Workload  string  `json:"workload"`
	Conns     int     `json:"conns"`
	Ops       int     `json:"ops"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	P50Millis float64 `json:"p50Ms"`
	P90Millis float64 `json:"p90Ms"`
	P99Millis float64 `json:"p99Ms"`
	MaxMillis float64 `json:"maxMs"`
	// GatewayCPU and LoadCPU are the cores the gateway (from its
	// process_cpu_seconds_total) and this generator used while measuring.
	GatewayCPU float64 `json:"gatewayCpuCores"`
	LoadCPU    float64 `json:"loadgenCpuCores"`
	// KBPerSession is the idle workload's figure: the gateway's resident
	// memory and Go heap in use per session.
	RSSKBPerSession  float64 `json:"rssKBPerSession,omitempty"`
	HeapKBPerSession float64 `json:"heapKBPerSession,omitempty"`
	Note             string  `json:"note,omitempty"`
	FirstError       string  `json:"firstError,omitempty"`
}

type workload func(ctx context.Context, o options, name string) (result, error)

var workloads = map[string]workload{
	"modify":   closedLoop(modifyWorker, seedWriters),
	"read":     closedLoop(readWorker, seedThings),
	"search":   closedLoop(searchWorker, seedThings),
	"fanout":   fanout,
	"idle":     idle,
	"messages": messages,
}

func main() {
	var o options
	names := flag.String("workload", "modify", "comma-separated workloads: modify, read, search, fanout, idle, messages")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "gateway host:port")
	flag.StringVar(&o.user, "user", "ditto", "HTTP Basic user")
	flag.StringVar(&o.password, "password", "ditto", "HTTP Basic password")
	flag.IntVar(&o.conns, "conns", 32, "concurrent connections for modify, read and search (modify: one thing each)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each workload runs")
	flag.IntVar(&o.maxOps, "max-ops", 10_000_000, "stop a workload after this many operations")
	flag.StringVar(&o.namespace, "namespace", "load", "namespace of the things used")
	flag.BoolVar(&o.acks, "acks", false, "modify: request the twin-persisted acknowledgement")
	flag.IntVar(&o.subscribers, "subscribers", 1000, "fanout: sessions receiving events")
	flag.IntVar(&o.writers, "writers", 4, "fanout: connections writing")
	flag.IntVar(&o.views, "views", 0, "fanout: give the things a policy with this many viewer subjects, each denied a different part, and split the subscribers over them (sessions authenticate with x-ditto-pre-authenticated: the gateway must trust 127.0.0.1 as a proxy); 0: every subscriber is -user")
	flag.IntVar(&o.sessions, "sessions", 10000, "idle: sessions to open")
	flag.IntVar(&o.devices, "devices", 100, "messages: device sessions, one thing each")
	flag.StringVar(&o.via, "via", "http", "messages: how callers send, http or ws")
	flag.DurationVar(&o.hold, "hold", 0, "idle: keep the sessions open this long after measuring (for profiling)")
	flag.IntVar(&o.things, "things", 0, "read, search: things to seed and read (default: -conns)")
	flag.StringVar(&o.searchFilter, "search-filter", "and(eq(_namespace,\"load\"),ge(features/sensor/properties/value,0))", "search: RQL filter")
	flag.StringVar(&o.searchOption, "search-option", "sort(-_modified),size(25)", "search: options")
	flag.BoolVar(&o.asJSON, "json", false, "print JSON lines instead of a table")
	flag.StringVar(&o.label, "label", "", "name the result rows this instead of by workload (e.g. modify-acks)")
	flag.BoolVar(&o.header, "header", true, "print the table header")
	flag.StringVar(&o.jsonOut, "json-out", "", "also append each result as a JSON line to this file")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the generator's own CPU profile to this file")
	flag.Parse()
	if o.things <= 0 {
		o.things = o.conns
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "twinway-load:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(o, strings.Split(*names, ",")); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "twinway-load:", err)
		os.Exit(1)
	}
}

func run(o options, names []string) error {
	if !o.asJSON && o.header {
		fmt.Printf("%-12s %6s %9s %7s %10s %8s %8s %8s %8s %6s %6s  %s\n", "workload", "conns", "ops", "errors", "ops/s",
			"p50 ms", "p90 ms", "p99 ms", "max ms", "gw cpu", "lg cpu", "note")
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
		if o.label != "" {
			r.Workload = o.label
		}
		if o.jsonOut != "" {
			if err := appendJSON(o.jsonOut, r); err != nil {
				return err
			}
		}
		if o.asJSON {
			json.NewEncoder(os.Stdout).Encode(r)
			continue
		}
		fmt.Printf("%-12s %6d %9d %7d %10.0f %8.2f %8.2f %8.2f %8.2f %6.2f %6.2f  %s\n", r.Workload, r.Conns, r.Ops, r.Errors, r.PerSecond,
			r.P50Millis, r.P90Millis, r.P99Millis, r.MaxMillis, r.GatewayCPU, r.LoadCPU, r.Note)
		if r.FirstError != "" {
			fmt.Println("  first error:", r.FirstError)
		}
	}
	return nil
}

func appendJSON(path string, r result) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// worker runs one connection's loop and returns its latencies and errors.
type worker func(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error)

// closedLoop runs o.conns workers, each with one operation in flight, after
// seed has prepared the things they use.
func closedLoop(w worker, seed func(o options) error) workload {
	return func(ctx context.Context, o options, name string) (result, error) {
		if err := seed(o); err != nil {
			return result{}, fmt.Errorf("seeding things: %w", err)
		}
		budget := &opsBudget{left: o.maxOps}
		var mu sync.Mutex
		var all []time.Duration
		errCount := 0
		var firstErr error
		var wg sync.WaitGroup
		meter := startCPUMeter(o)
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
		r.GatewayCPU, r.LoadCPU = meter.stop()
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

// seedWriters creates the things of the modify workers, one per connection.
func seedWriters(o options) error { return seed(o, o.conns) }

// seedThings creates the things that read and search use.
func seedThings(o options) error { return seed(o, max(o.things, o.conns)) }

// seed creates (or replaces) things 0..n-1, over a few connections at once.
func seed(o options, n int) error {
	const parallel = 8
	errs := make(chan error, parallel)
	for p := 0; p < parallel; p++ {
		go func(p int) {
			for i := p; i < n; i += parallel {
				if err := put(o, i); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(p)
	}
	var first error
	for p := 0; p < parallel; p++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func put(o options, i int) error {
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
	return nil
}

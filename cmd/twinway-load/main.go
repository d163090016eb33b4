// Command twinway-load drives a running gateway over real sockets and
// reports, per workload, throughput, latency percentiles and errors.
//
//	twinway-load -addr 127.0.0.1:8080 -workload modify -conns 32 -duration 10s
//
// Workloads: modify (WebSocket modify-feature-property commands, each waiting
// for its response, i.e. for the change to be durable) and read (HTTP GET of
// things by id over keep-alive connections). Every run is bounded by
// -duration and -max-ops and stops by itself.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type options struct {
	addr, user, password string
	workload             string
	conns                int
	duration             time.Duration
	maxOps               int
	namespace            string
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
	FirstError string  `json:"firstError,omitempty"`
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "gateway host:port")
	flag.StringVar(&o.user, "user", "ditto", "HTTP Basic user")
	flag.StringVar(&o.password, "password", "ditto", "HTTP Basic password")
	flag.StringVar(&o.workload, "workload", "modify", "modify or read")
	flag.IntVar(&o.conns, "conns", 32, "concurrent connections (one thing each)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to run")
	flag.IntVar(&o.maxOps, "max-ops", 10_000_000, "stop after this many operations in all")
	flag.StringVar(&o.namespace, "namespace", "load", "namespace of the things used")
	flag.BoolVar(&o.asJSON, "json", false, "print JSON instead of a table")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "twinway-load:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if err := seed(o); err != nil {
		return fmt.Errorf("seeding things: %w", err)
	}
	var worker func(ctx context.Context, o options, i int, ops *opsBudget) ([]time.Duration, int, error)
	switch o.workload {
	case "modify":
		worker = modifyWorker
	case "read":
		worker = readWorker
	default:
		return fmt.Errorf("unknown workload %q", o.workload)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
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
			lat, errs, err := worker(ctx, o, i, budget)
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
	elapsed := time.Since(start)
	r := summarize(o, all, errCount, elapsed)
	if firstErr != nil {
		r.FirstError = firstErr.Error()
	}
	if o.asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	fmt.Printf("%-8s %6s %9s %7s %10s %8s %8s %8s %8s\n", "workload", "conns", "ops", "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
	fmt.Printf("%-8s %6d %9d %7d %10.0f %8.2f %8.2f %8.2f %8.2f\n", r.Workload, r.Conns, r.Ops, r.Errors, r.PerSecond,
		r.P50Millis, r.P90Millis, r.P99Millis, r.MaxMillis)
	if r.FirstError != "" {
		fmt.Println("first error:", r.FirstError)
	}
	return nil
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

func summarize(o options, lat []time.Duration, errs int, elapsed time.Duration) result {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return result{Workload: o.workload, Conns: o.conns, Ops: len(lat), Errors: errs, Seconds: elapsed.Seconds(),
		PerSecond: float64(len(lat)) / elapsed.Seconds(), P50Millis: pct(0.50), P90Millis: pct(0.90),
		P99Millis: pct(0.99), MaxMillis: pct(1)}
}

func thingID(o options, i int) string { return fmt.Sprintf("%s:thing-%d", o.namespace, i) }

// seed creates (or replaces) one thing per connection.
func seed(o options) error {
	for i := 0; i < o.conns; i++ {
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

// modifyWorker sends modify commands over one WebSocket, one at a time, and
// times each until its response.
func modifyWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	h := http.Header{}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(o.user, o.password)
	h.Set("Authorization", req.Header.Get("Authorization"))
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+o.addr+"/ws/2", h)
	if err != nil {
		return nil, 1, err
	}
	defer conn.Close()
	ns, name, _ := strings.Cut(thingID(o, i), ":")
	topic := ns + "/" + name + "/things/twin/commands/modify"
	var lat []time.Duration
	errs := 0
	var firstErr error
	var resp struct {
		Status int `json:"status"`
	}
	for n := 0; ctx.Err() == nil && budget.take(); n++ {
		msg := fmt.Sprintf(`{"topic":%q,"headers":{"correlation-id":"%d-%d"},"path":"/features/sensor/properties/value","value":%d}`, topic, i, n, n)
		start := time.Now()
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			return lat, errs + 1, err
		}
		_, data, err := conn.ReadMessage()
		if err != nil {
			return lat, errs + 1, err
		}
		lat = append(lat, time.Since(start))
		if json.Unmarshal(data, &resp) != nil || resp.Status/100 != 2 {
			errs++
			if firstErr == nil {
				firstErr = errors.New(string(data))
			}
		}
	}
	return lat, errs, firstErr
}

// readWorker GETs one thing repeatedly over a keep-alive connection.
func readWorker(ctx context.Context, o options, i int, budget *opsBudget) ([]time.Duration, int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	url := "http://" + o.addr + "/api/2/things/" + thingID(o, i)
	var lat []time.Duration
	errs := 0
	var firstErr error
	for ctx.Err() == nil && budget.take() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.SetBasicAuth(o.user, o.password)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return lat, errs + 1, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			errs++
			if firstErr == nil {
				firstErr = errors.New(resp.Status)
			}
		}
	}
	return lat, errs, firstErr
}

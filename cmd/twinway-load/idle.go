package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// idle opens o.sessions WebSocket sessions that send nothing and reports the
// gateway's memory growth per session, from the process_resident_memory_bytes
// and go_memstats_heap_inuse_bytes it exports on /metrics.
func idle(ctx context.Context, o options, name string) (result, error) {
	runtime.GC()
	rssBefore, heapBefore, err := gatewayMemory(o)
	if err != nil {
		return result{}, err
	}
	conns := make([]*websocket.Conn, 0, o.sessions)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < o.sessions; i++ {
		c, err := dial(context.Background(), o)
		if err != nil {
			return result{}, fmt.Errorf("session %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	opened := time.Since(start)
	time.Sleep(2 * time.Second) // let the gateway settle
	rssAfter, heapAfter, err := gatewayMemory(o)
	if err != nil {
		return result{}, err
	}
	n := float64(len(conns))
	return result{Workload: name, Conns: len(conns), Ops: len(conns), Seconds: opened.Seconds(),
		PerSecond: n / opened.Seconds(),
		Note: fmt.Sprintf("per idle session: %.1f kB RSS, %.1f kB Go heap in use (ops/s = sessions opened/s)",
			(rssAfter-rssBefore)/n/1024, (heapAfter-heapBefore)/n/1024)}, nil
}

// gatewayMemory reads the gateway's resident set and Go heap in use.
func gatewayMemory(o options) (rss, heap float64, err error) {
	resp, err := http.Get("http://" + o.addr + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, m := range []struct {
			name string
			into *float64
		}{{"process_resident_memory_bytes ", &rss}, {"go_memstats_heap_inuse_bytes ", &heap}} {
			if v, ok := strings.CutPrefix(line, m.name); ok {
				*m.into, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("the gateway's /metrics has no process_resident_memory_bytes")
	}
	return rss, heap, sc.Err()
}

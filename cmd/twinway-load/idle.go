package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/gorilla/websocket"
)

// idle opens o.sessions WebSocket sessions that send nothing and reports the
// gateway's memory growth per session, from the process_resident_memory_bytes
// and go_memstats_heap_inuse_bytes it exports on /metrics. With -hold the
// sessions stay open that much longer, for a heap profile of the gateway.
func idle(ctx context.Context, o options, name string) (result, error) {
	runtime.GC()
	before, err := gatewayMemory(o)
	if err != nil {
		return result{}, err
	}
	conns := make([]*websocket.Conn, 0, o.sessions)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	meter := startCPUMeter(o)
	start := time.Now()
	for i := 0; i < o.sessions; i++ {
		c, err := dial(context.Background(), o)
		if err != nil {
			return result{}, fmt.Errorf("session %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	opened := time.Since(start)
	gwCPU, lgCPU := meter.stop()
	time.Sleep(2 * time.Second) // let the gateway settle
	after, err := gatewayMemory(o)
	if err != nil {
		return result{}, err
	}
	n := float64(len(conns))
	r := result{Workload: name, Conns: len(conns), Ops: len(conns), Seconds: opened.Seconds(),
		PerSecond: n / opened.Seconds(), GatewayCPU: gwCPU, LoadCPU: lgCPU,
		RSSKBPerSession: (after[0] - before[0]) / n / 1024, HeapKBPerSession: (after[1] - before[1]) / n / 1024}
	r.Note = fmt.Sprintf("per idle session: %.1f kB RSS, %.1f kB Go heap in use (ops/s = sessions opened/s)",
		r.RSSKBPerSession, r.HeapKBPerSession)
	if o.hold > 0 {
		time.Sleep(o.hold)
	}
	return r, nil
}

// gatewayMemory reads the gateway's resident set and Go heap in use.
func gatewayMemory(o options) ([]float64, error) {
	return gatewayMetrics(o, "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes")
}

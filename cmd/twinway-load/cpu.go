package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cpuMeter measures the CPU time the gateway and this process use over a
// window, in cores (CPU seconds per wall second).
type cpuMeter struct {
	o          options
	start      time.Time
	gw0, self0 float64
	gwOK       bool
}

func startCPUMeter(o options) *cpuMeter {
	m := &cpuMeter{o: o, start: time.Now(), self0: selfCPU()}
	if v, err := gatewayMetrics(o, "process_cpu_seconds_total"); err == nil {
		m.gw0, m.gwOK = v[0], true
	}
	return m
}

// stop returns the cores used by the gateway (0 when its /metrics has no
// process_cpu_seconds_total) and by this process since start.
func (m *cpuMeter) stop() (gateway, self float64) {
	wall := time.Since(m.start).Seconds()
	self = (selfCPU() - m.self0) / wall
	if m.gwOK {
		if v, err := gatewayMetrics(m.o, "process_cpu_seconds_total"); err == nil {
			gateway = (v[0] - m.gw0) / wall
		}
	}
	return gateway, self
}

// gatewayMetrics reads the named unlabelled samples from the gateway's
// /metrics, in the order of names.
func gatewayMetrics(o options, names ...string) ([]float64, error) {
	resp, err := http.Get("http://" + o.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := make([]float64, len(names))
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for i, name := range names {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				out[i], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
				found++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found < len(names) {
		return nil, fmt.Errorf("the gateway's /metrics lacks some of %v", names)
	}
	return out, nil
}

// Package metrics holds the gateway's Prometheus collectors. They are
// registered on a registry passed in (never the global default), so several
// gateways can run in one process, as the tests do.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's collectors. Labels are low-cardinality on purpose:
// no thing ids or subjects.
type Metrics struct {
	registry *prometheus.Registry

	SessionsOpen    *prometheus.GaugeVec   // by transport (ws)
	Commands        *prometheus.CounterVec // by door (ws|http), action, status
	EventsDelivered prometheus.Counter
	EventsDropped   *prometheus.CounterVec // by reason
	SessionsClosed  *prometheus.CounterVec // by reason
	StoreWrite      prometheus.Histogram   // seconds per group commit
	StoreBatchSize  prometheus.Histogram   // writes per group commit
}

// New creates the collectors and registers them, with Go and process
// collectors, on a new registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		SessionsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "twinway_sessions_open", Help: "Open streaming sessions.",
		}, []string{"transport"}),
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twinway_commands_total", Help: "Twin commands handled, by door, action and response status.",
		}, []string{"door", "action", "status"}),
		EventsDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twinway_events_delivered_total", Help: "Events queued to sessions.",
		}),
		EventsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twinway_events_dropped_total", Help: "Events not delivered to a subscribed session, by reason.",
		}, []string{"reason"}),
		SessionsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twinway_sessions_closed_total", Help: "Sessions closed, by reason.",
		}, []string{"reason"}),
		StoreWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "twinway_store_commit_seconds", Help: "Duration of one group commit of the thing store.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		StoreBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "twinway_store_batch_size", Help: "Writes per group commit of the thing store.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	reg.MustRegister(m.SessionsOpen, m.Commands, m.EventsDelivered, m.EventsDropped, m.SessionsClosed,
		m.StoreWrite, m.StoreBatchSize,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// ObserveCommit records one group commit of the store.
func (m *Metrics) ObserveCommit(batch int, d time.Duration) {
	m.StoreBatchSize.Observe(float64(batch))
	m.StoreWrite.Observe(d.Seconds())
}

// CountCommand records one handled command.
func (m *Metrics) CountCommand(door, action string, status int) {
	m.Commands.WithLabelValues(door, action, strconv.Itoa(status)).Inc()
}

// ObserveLivePending exports the number of live commands and messages waiting
// for their answer, as read from pending on every scrape (the live channel's
// registry owns the count; a gauge kept beside it could drift). Only the
// first source registered on m is exported.
func (m *Metrics) ObserveLivePending(pending func() int) {
	_ = m.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "twinway_live_requests_pending", Help: "Live commands and messages waiting for their answer.",
	}, func() float64 { return float64(pending()) }))
}

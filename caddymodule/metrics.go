package caddymodule

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// gatewayMetrics are the gateway's Prometheus collectors, registered in
// Caddy's metrics registry (served by Caddy's `metrics` handler and admin
// endpoint).
type gatewayMetrics struct {
	requests     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	upstream     *prometheus.HistogramVec
}

var (
	metricsOnce sync.Once
	metrics     gatewayMetrics
)

// newGatewayMetrics returns the process-wide collectors, registered in reg.
// Several gateways (and config reloads) share them, as Caddy's own modules do.
func newGatewayMetrics(reg prometheus.Registerer) (*gatewayMetrics, error) {
	const ns, sub = "caddy", "mcp_gateway"
	metricsOnce.Do(func() {
		metrics.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "MCP requests by JSON-RPC method and outcome.",
		}, []string{"resource", "method", "outcome"})
		metrics.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "auth_failures_total",
			Help: "Requests refused by the Bearer guard, by reason.",
		}, []string{"resource", "reason"})
		metrics.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "upstream_duration_seconds",
			Help:    "Time from forwarding an MCP request to the backend until its answer began.",
			Buckets: prometheus.DefBuckets,
		}, []string{"resource", "method"})
	})
	for _, c := range []prometheus.Collector{metrics.requests, metrics.authFailures, metrics.upstream} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return nil, err
			}
		}
	}
	return &metrics, nil
}

package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func (m *Metrics) newTCP() {
	labels := []string{"cluster", "endpoint"}
	m.tcpOpened = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strait_tcp_connections_opened_total",
		Help: "Upstream TCP connections the L4 proxy opened.",
	}, labels)
	m.tcpActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "strait_tcp_connections_active",
		Help: "Upstream TCP connections the L4 proxy holds open.",
	}, labels)
	m.tcpFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strait_tcp_connection_failures_total",
		Help: "Upstream TCP dials that failed.",
	}, labels)
	m.tcpSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strait_tcp_upstream_sent_bytes_total",
		Help: "Bytes the L4 proxy sent to upstream endpoints (client to server).",
	}, labels)
	m.tcpReceived = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strait_tcp_upstream_received_bytes_total",
		Help: "Bytes the L4 proxy received from upstream endpoints (server to client).",
	}, labels)
	m.tcpDial = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "strait_tcp_dial_duration_seconds",
		Help:    "Time to establish successful upstream TCP connections.",
		Buckets: latencyBuckets,
	}, []string{"cluster"})
}

// TCPConn counts one proxied connection. Its methods are safe for
// concurrent use and do nothing on a nil *TCPConn, so a failed dial's
// result needs no checks.
type TCPConn struct {
	sent, received prometheus.Counter
	active         prometheus.Gauge
	closed         atomic.Bool
}

// TCPDialed records a dial to endpoint of cluster that took took. On
// error it counts a failure and returns nil; otherwise it counts the
// connection open and returns the handle to count its bytes and close.
func (m *Metrics) TCPDialed(cluster, endpoint string, took time.Duration, err error) *TCPConn {
	m.endpoints.add(cluster, endpoint)
	if err != nil {
		m.tcpFailed.WithLabelValues(cluster, endpoint).Inc()
		return nil
	}
	m.tcpDial.WithLabelValues(cluster).Observe(took.Seconds())
	m.tcpOpened.WithLabelValues(cluster, endpoint).Inc()
	c := &TCPConn{
		sent:     m.tcpSent.WithLabelValues(cluster, endpoint),
		received: m.tcpReceived.WithLabelValues(cluster, endpoint),
		active:   m.tcpActive.WithLabelValues(cluster, endpoint),
	}
	c.active.Inc()
	return c
}

// Sent counts n bytes copied from the client to the endpoint.
func (c *TCPConn) Sent(n int) {
	if c != nil && n > 0 {
		c.sent.Add(float64(n))
	}
}

// Received counts n bytes copied from the endpoint to the client.
func (c *TCPConn) Received(n int) {
	if c != nil && n > 0 {
		c.received.Add(float64(n))
	}
}

// Close marks the connection closed; calls after the first do nothing.
func (c *TCPConn) Close() {
	if c != nil && c.closed.CompareAndSwap(false, true) {
		c.active.Dec()
	}
}

package tcpproxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The per-endpoint metrics (connections, failures, bytes, dial time) are
// package metrics' strait_tcp_*, fed through Observer; these are the
// listener's own, which no endpoint owns.
var (
	listenerLabels = []string{"listener", "cluster"}

	descAccepted = prometheus.NewDesc("strait_tcp_listener_accepted_total",
		"Client connections taken off the listener.", listenerLabels, nil)
	descActive = prometheus.NewDesc("strait_tcp_listener_active_connections",
		"Client connections being served.", listenerLabels, nil)
	descRejected = prometheus.NewDesc("strait_tcp_listener_rejected_total",
		"Client connections closed at once because max_connections were open.", listenerLabels, nil)
	descUnserved = prometheus.NewDesc("strait_tcp_listener_unserved_total",
		"Client connections closed because no endpoint could be dialled.", listenerLabels, nil)
	descClosed = prometheus.NewDesc("strait_tcp_listener_closed_total",
		"Connections the proxy closed itself, by reason (idle, lifetime, drain, shutdown).",
		append(listenerLabels, "reason"), nil)
)

var _ prometheus.Collector = (*Proxy)(nil) // API check

// Describe sends the descriptions of the metrics Collect produces.
func (p *Proxy) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAccepted, descActive, descRejected, descUnserved, descClosed} {
		ch <- d
	}
}

// Collect reads the listener's counters; register the Proxy with a
// prometheus.Registerer to export them.
func (p *Proxy) Collect(ch chan<- prometheus.Metric) {
	s := p.Stats()
	l, c := s.Listener, s.Cluster
	ch <- prometheus.MustNewConstMetric(descAccepted, prometheus.CounterValue, float64(s.Accepted), l, c)
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(s.Active), l, c)
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(s.Rejected), l, c)
	ch <- prometheus.MustNewConstMetric(descUnserved, prometheus.CounterValue, float64(s.Unserved), l, c)
	for reason, v := range map[string]uint64{"idle": s.IdleClosed, "lifetime": s.LifetimeClosed,
		"drain": s.DrainClosed, "shutdown": s.ShutdownClosed} {
		ch <- prometheus.MustNewConstMetric(descClosed, prometheus.CounterValue, float64(v), l, c, reason)
	}
}

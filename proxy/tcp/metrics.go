package tcpproxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	listenerLabels = []string{"listener", "cluster"}
	endpointLabels = []string{"listener", "cluster", "endpoint"}

	descAccepted = prometheus.NewDesc("strait_tcp_connections_accepted_total",
		"Client connections taken off the listener.", listenerLabels, nil)
	descActive = prometheus.NewDesc("strait_tcp_connections_active",
		"Client connections being served.", listenerLabels, nil)
	descRejected = prometheus.NewDesc("strait_tcp_connections_rejected_total",
		"Client connections closed at once because max_connections were open.", listenerLabels, nil)
	descUnserved = prometheus.NewDesc("strait_tcp_connections_unserved_total",
		"Client connections closed because no endpoint could be dialled.", listenerLabels, nil)
	descClosed = prometheus.NewDesc("strait_tcp_connections_closed_by_proxy_total",
		"Connections the proxy closed itself, by reason (idle, lifetime, drain, shutdown).",
		append(listenerLabels, "reason"), nil)
	descEpOpened = prometheus.NewDesc("strait_tcp_endpoint_connections_opened_total",
		"Connections established to the endpoint.", endpointLabels, nil)
	descEpActive = prometheus.NewDesc("strait_tcp_endpoint_connections_active",
		"Open connections to the endpoint.", endpointLabels, nil)
	descEpFailed = prometheus.NewDesc("strait_tcp_endpoint_dial_failures_total",
		"Dials to the endpoint that failed.", endpointLabels, nil)
	descEpBytes = prometheus.NewDesc("strait_tcp_endpoint_bytes_total",
		"Bytes relayed, by direction (up: client to endpoint, down: endpoint to client).",
		append(endpointLabels, "direction"), nil)
	descEpDial = prometheus.NewDesc("strait_tcp_endpoint_dial_duration_seconds",
		"Time to connect to the endpoint, failed dials included.", endpointLabels, nil)
)

var _ prometheus.Collector = (*Proxy)(nil) // API check

// Describe sends the descriptions of the metrics Collect produces.
func (p *Proxy) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAccepted, descActive, descRejected, descUnserved,
		descClosed, descEpOpened, descEpActive, descEpFailed, descEpBytes, descEpDial} {
		ch <- d
	}
}

// Collect reads the proxy's counters; register the Proxy with a
// prometheus.Registerer to export them.
func (p *Proxy) Collect(ch chan<- prometheus.Metric) {
	s := p.Stats()
	l := []string{s.Listener, s.Cluster}
	ch <- constMetric(descAccepted, prometheus.CounterValue, float64(s.Accepted), l...)
	ch <- constMetric(descActive, prometheus.GaugeValue, float64(s.Active), l...)
	ch <- constMetric(descRejected, prometheus.CounterValue, float64(s.Rejected), l...)
	ch <- constMetric(descUnserved, prometheus.CounterValue, float64(s.Unserved), l...)
	for reason, v := range map[string]uint64{"idle": s.IdleClosed, "lifetime": s.LifetimeClosed,
		"drain": s.DrainClosed, "shutdown": s.ShutdownClosed} {
		ch <- constMetric(descClosed, prometheus.CounterValue, float64(v), s.Listener, s.Cluster, reason)
	}
	for _, e := range s.Endpoints {
		el := []string{s.Listener, s.Cluster, e.Addr}
		ch <- constMetric(descEpOpened, prometheus.CounterValue, float64(e.Opened), el...)
		ch <- constMetric(descEpActive, prometheus.GaugeValue, float64(e.Active), el...)
		ch <- constMetric(descEpFailed, prometheus.CounterValue, float64(e.Failed), el...)
		ch <- constMetric(descEpBytes, prometheus.CounterValue, float64(e.BytesUp), s.Listener, s.Cluster, e.Addr, "up")
		ch <- constMetric(descEpBytes, prometheus.CounterValue, float64(e.BytesDown), s.Listener, s.Cluster, e.Addr, "down")
		ch <- dialHistogram(e, el)
	}
}

func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, t, v, labels...)
}

// dialHistogram turns the per-bucket counts into Prometheus's cumulative
// ones.
func dialHistogram(e EndpointStats, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(dialBuckets))
	var cum uint64
	for i, le := range dialBuckets {
		cum += e.DialCounts[i]
		buckets[le.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(descEpDial, e.DialCount, e.DialTotal.Seconds(), buckets, labels...)
}

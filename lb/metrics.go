package lb

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descEstimate = prometheus.NewDesc("strait_lb_endpoint_latency_estimate_seconds",
		"Peak-EWMA latency estimate of the endpoint.", []string{"cluster", "endpoint"}, nil)
	descInFlight = prometheus.NewDesc("strait_lb_endpoint_in_flight",
		"Calls and open streams running on the endpoint.", []string{"cluster", "endpoint"}, nil)
	descBreaker = prometheus.NewDesc("strait_lb_endpoint_breaker_state",
		"Breaker position: 0 closed, 1 half-open, 2 open (ejected).", []string{"cluster", "endpoint"}, nil)
	descEjections = prometheus.NewDesc("strait_lb_endpoint_ejections_total",
		"Times the endpoint was ejected by its breaker.", []string{"cluster", "endpoint"}, nil)
	descRequests = prometheus.NewDesc("strait_lb_endpoint_requests_total",
		"Calls started on the endpoint.", []string{"cluster", "endpoint"}, nil)
	descFailures = prometheus.NewDesc("strait_lb_endpoint_failures_total",
		"Calls on the endpoint that counted as failures.", []string{"cluster", "endpoint"}, nil)
	descPanic = prometheus.NewDesc("strait_lb_panic",
		"1 while too many endpoints are ejected and ejection is ignored.", []string{"cluster"}, nil)
	descPanicActivations = prometheus.NewDesc("strait_lb_panic_activations_total",
		"Times the cluster entered panic mode.", []string{"cluster"}, nil)
	descEjected = prometheus.NewDesc("strait_lb_ejected_endpoints",
		"Member endpoints whose breaker is not closed.", []string{"cluster"}, nil)
)

var _ prometheus.Collector = (*Registry)(nil) // API check

// Describe sends the descriptions of the metrics Collect produces.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEstimate, descInFlight, descBreaker, descEjections,
		descRequests, descFailures, descPanic, descPanicActivations, descEjected} {
		ch <- d
	}
}

// Collect reads every registered pool; register the Registry with a
// prometheus.Registerer to export them.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	for _, s := range r.Stats() {
		c := s.Cluster
		ch <- gauge(descPanic, boolFloat(s.Panicking), c)
		ch <- counter(descPanicActivations, float64(s.PanicActivations), c)
		ch <- gauge(descEjected, float64(s.Ejected), c)
		for _, e := range s.Endpoints {
			ch <- gauge(descEstimate, e.Estimate.Seconds(), c, e.Addr)
			ch <- gauge(descInFlight, float64(e.InFlight), c, e.Addr)
			ch <- gauge(descBreaker, float64(breakerValue(e.Breaker)), c, e.Addr)
			ch <- counter(descEjections, float64(e.Ejections), c, e.Addr)
			ch <- counter(descRequests, float64(e.Requests), c, e.Addr)
			ch <- counter(descFailures, float64(e.Failures), c, e.Addr)
		}
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func breakerValue(state string) int {
	switch state {
	case "closed":
		return 0
	case "half-open":
		return 1
	default:
		return 2
	}
}

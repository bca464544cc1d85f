package admin

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func newRegistry(version string, src StatusSource) *prometheus.Registry {
	if version == "" {
		version = "dev"
	}
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "strait_build_info",
		Help:        "Always 1; the labels say which strait is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(
		build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newStatusCollector(src, time.Now),
	)
	return reg
}

// statusCollector reads the StatusSource at scrape time, so the balancer
// and the guards keep one set of numbers and the metrics never lag them.
type statusCollector struct {
	src StatusSource
	now func() time.Time
}

var (
	descEWMA = prometheus.NewDesc("strait_endpoint_ewma_seconds",
		"The balancer's peak-biased EWMA latency estimate of the endpoint.", []string{"cluster", "endpoint"}, nil)
	descInFlight = prometheus.NewDesc("strait_endpoint_in_flight_requests",
		"Requests (streams included) open on the endpoint.", []string{"cluster", "endpoint"}, nil)
	descBreaker = prometheus.NewDesc("strait_endpoint_breaker_state",
		"1 for the endpoint's current circuit breaker state, 0 for the others.", []string{"cluster", "endpoint", "state"}, nil)
	descEjections = prometheus.NewDesc("strait_endpoint_ejections_total",
		"Times the endpoint's breaker opened.", []string{"cluster", "endpoint"}, nil)
	descEndpoints = prometheus.NewDesc("strait_cluster_endpoints",
		"Endpoints in the cluster's current set.", []string{"cluster"}, nil)
	descPanic = prometheus.NewDesc("strait_cluster_panic_mode",
		"1 while the balancer ignores ejection because too many endpoints are ejected.", []string{"cluster"}, nil)
	descPanicTotal = prometheus.NewDesc("strait_cluster_panic_activations_total",
		"Times the cluster entered panic mode.", []string{"cluster"}, nil)
	descSourceState = prometheus.NewDesc("strait_discovery_state",
		"1 for the cluster's current discovery state, 0 for the others.", []string{"cluster", "source", "state"}, nil)
	descSyncAge = prometheus.NewDesc("strait_discovery_last_sync_age_seconds",
		"Seconds since the source last delivered a good set; absent if it never did.", []string{"cluster", "source"}, nil)
	descSkipped = prometheus.NewDesc("strait_discovery_skipped_values_total",
		"Registry values skipped because they could not be parsed.", []string{"cluster", "source"}, nil)
)

var (
	breakerStates = []string{BreakerClosed, BreakerOpen, BreakerHalfOpen}
	sourceStates  = []string{StateSynced, StateStale, StateNeverSynced}
)

func newStatusCollector(src StatusSource, now func() time.Time) *statusCollector {
	return &statusCollector{src: src, now: now}
}

// Describe sends the fixed descriptors of the scrape-time metrics.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEWMA, descInFlight, descBreaker, descEjections,
		descEndpoints, descPanic, descPanicTotal, descSourceState, descSyncAge, descSkipped} {
		ch <- d
	}
}

// Collect reads one Status and turns it into samples.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, cl := range c.src.Status().Clusters {
		collectCluster(ch, cl, now)
		for _, e := range cl.Endpoints {
			collectEndpoint(ch, cl.Name, e)
		}
	}
}

func collectCluster(ch chan<- prometheus.Metric, cl ClusterStatus, now time.Time) {
	ch <- prometheus.MustNewConstMetric(descEndpoints, prometheus.GaugeValue, float64(len(cl.Endpoints)), cl.Name)
	ch <- prometheus.MustNewConstMetric(descPanic, prometheus.GaugeValue, boolValue(cl.Panic), cl.Name)
	ch <- prometheus.MustNewConstMetric(descPanicTotal, prometheus.CounterValue, float64(cl.PanicActivations), cl.Name)
	for _, s := range sourceStates {
		ch <- prometheus.MustNewConstMetric(descSourceState, prometheus.GaugeValue, boolValue(cl.State == s), cl.Name, cl.Source, s)
	}
	if !cl.LastSync.IsZero() {
		ch <- prometheus.MustNewConstMetric(descSyncAge, prometheus.GaugeValue, now.Sub(cl.LastSync).Seconds(), cl.Name, cl.Source)
	}
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(cl.SkippedValues), cl.Name, cl.Source)
}

func collectEndpoint(ch chan<- prometheus.Metric, cluster string, e EndpointStatus) {
	ch <- prometheus.MustNewConstMetric(descEWMA, prometheus.GaugeValue, e.EWMA, cluster, e.Addr)
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(e.InFlight), cluster, e.Addr)
	ch <- prometheus.MustNewConstMetric(descEjections, prometheus.CounterValue, float64(e.Ejections), cluster, e.Addr)
	for _, s := range breakerStates {
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, boolValue(e.Breaker == s), cluster, e.Addr, s)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

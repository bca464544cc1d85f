package upstream

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SkippedValues counts registry values that could not be parsed into an
// endpoint and were left out of a set, by cluster and source kind. Sources
// count a value once, when they first see it under a key.
var SkippedValues = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "strait_discovery_skipped_values_total",
	Help: "Registry values skipped because they do not parse as an endpoint.",
}, []string{"cluster", "source"})

// Collectors returns the discovery metrics shared by all sources, for the
// admin server to register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{SkippedValues}
}

var (
	endpointsDesc = prometheus.NewDesc("strait_discovery_endpoints",
		"Endpoints in the set a cluster serves.", []string{"cluster"}, nil)
	stateDesc = prometheus.NewDesc("strait_discovery_state",
		"1 for the cluster's current source state (synced, stale, never_synced), 0 for the others.",
		[]string{"cluster", "state"}, nil)
	syncAgeDesc = prometheus.NewDesc("strait_discovery_last_sync_age_seconds",
		"Seconds since the registry last reported the cluster's set; absent if it never did.",
		[]string{"cluster"}, nil)
)

// GuardCollector exports every added Guard's set size, state and seconds
// since the last sync, read at scrape time. Safe for concurrent use.
type GuardCollector struct {
	mu     sync.Mutex
	guards []*Guard
	now    func() time.Time
}

var _ prometheus.Collector = (*GuardCollector)(nil)

// NewGuardCollector returns a collector with no Guards.
func NewGuardCollector() *GuardCollector { return &GuardCollector{now: time.Now} }

// Add exports g's freshness.
func (c *GuardCollector) Add(g *Guard) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.guards = append(c.guards, g)
}

// Describe sends the descriptors of the metrics Collect sends.
func (c *GuardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- endpointsDesc
	ch <- stateDesc
	ch <- syncAgeDesc
}

// Collect sends each Guard's current metrics.
func (c *GuardCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	guards := append([]*Guard(nil), c.guards...)
	c.mu.Unlock()
	now := c.now()
	for _, g := range guards {
		s := g.Snapshot()
		ch <- prometheus.MustNewConstMetric(endpointsDesc, prometheus.GaugeValue, float64(len(s.Endpoints)), s.Cluster)
		for _, st := range []State{NeverSynced, Synced, Stale} {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, v, s.Cluster, st.String())
		}
		if !s.LastSync.IsZero() {
			ch <- prometheus.MustNewConstMetric(syncAgeDesc, prometheus.GaugeValue, now.Sub(s.LastSync).Seconds(), s.Cluster)
		}
	}
}

package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// EjectionSource reports ejections as they happen. The gateway
// implements it over the balancer pools' events.
type EjectionSource interface {
	// SubscribeEjections calls fn with every ejection from now on, until
	// cancel. fn is quick and safe to call from any goroutine.
	SubscribeEjections(fn func(Ejection)) (cancel func())
}

// Ejection kinds.
const (
	// EjectionBreaker: the endpoint's circuit breaker opened.
	EjectionBreaker = "breaker_open"
	// EjectionHealth: an active health check drained the endpoint.
	EjectionHealth = "health_drain"
)

// Ejection is an endpoint taken out of rotation at one moment.
type Ejection struct {
	Time     time.Time `json:"t"`
	Cluster  string    `json:"-"`
	Endpoint string    `json:"endpoint"`
	// Kind is EjectionBreaker or EjectionHealth.
	Kind string `json:"kind"`
}

// History is what /history.json serves: the sampled points, oldest
// first, of every tracked cluster and endpoint.
type History struct {
	Time            time.Time        `json:"time"`
	IntervalSeconds float64          `json:"interval_seconds"`
	Points          int              `json:"points"` // ring capacity per series
	Clusters        []ClusterHistory `json:"clusters"`
}

// ClusterHistory is one cluster's series and ejections.
type ClusterHistory struct {
	Name      string            `json:"name"`
	Points    []ClusterPoint    `json:"points"`
	Ejections []Ejection        `json:"ejections"`
	Endpoints []EndpointHistory `json:"endpoints"`
}

// EndpointHistory is one endpoint's series.
type EndpointHistory struct {
	Addr   string          `json:"addr"`
	Points []EndpointPoint `json:"points"`
}

// ClusterPoint is a cluster between two samples: the sum of its
// endpoints' traffic, and the median and 99th percentile (nearest rank)
// of its endpoints' latency estimates at the sample.
type ClusterPoint struct {
	Time time.Time `json:"t"`
	// Rate is requests per second.
	Rate float64 `json:"rps"`
	// ErrorRate is the fraction (0..1) of requests that failed.
	ErrorRate float64 `json:"error_rate"`
	P50       float64 `json:"p50_seconds"`
	P99       float64 `json:"p99_seconds"`
}

// EndpointPoint is an endpoint between two samples.
type EndpointPoint struct {
	Time      time.Time `json:"t"`
	Rate      float64   `json:"rps"`
	ErrorRate float64   `json:"error_rate"`
	// EWMA is the balancer's latency estimate at the sample, in seconds.
	EWMA float64 `json:"ewma_seconds"`
	// Breaker is the breaker state at the sample.
	Breaker string `json:"breaker"`
}

// view copies the history out, clusters and endpoints sorted by name,
// with the ejections of the last ring's span before now.
func (h *history) view(now time.Time) History {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := History{Time: now, IntervalSeconds: h.interval.Seconds(), Points: historyPoints,
		Clusters: make([]ClusterHistory, 0, len(h.clusters))}
	since := now.Add(-historyPoints * h.interval)
	byCluster := map[string][]Ejection{}
	for _, e := range h.ejections.items() {
		if !e.Time.Before(since) {
			byCluster[e.Cluster] = append(byCluster[e.Cluster], e)
		}
	}
	for name, cs := range h.clusters {
		ch := ClusterHistory{Name: name, Points: cs.points.items(), Ejections: byCluster[name],
			Endpoints: make([]EndpointHistory, 0, len(cs.endpoints))}
		if ch.Ejections == nil {
			ch.Ejections = []Ejection{}
		}
		for addr, es := range cs.endpoints {
			ch.Endpoints = append(ch.Endpoints, EndpointHistory{Addr: addr, Points: es.points.items()})
		}
		slices.SortFunc(ch.Endpoints, func(a, b EndpointHistory) int { return strings.Compare(a.Addr, b.Addr) })
		out.Clusters = append(out.Clusters, ch)
	}
	slices.SortFunc(out.Clusters, func(a, b ClusterHistory) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Server) historyJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(s.history.view(s.now())); err != nil {
		s.opts.Logger.Warn("admin: writing history.json", "err", err)
	}
}

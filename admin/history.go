package admin

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Bounds of the history kept in memory. At the default interval the
// points cover 15 minutes; whatever the interval, memory stays fixed:
// every series is a ring of historyPoints, at most maxHistoryClusters
// clusters and maxHistoryEndpoints endpoints have one (those past the
// bound are not charted), and the last maxHistoryEjections ejections
// are kept.
const (
	DefaultHistoryInterval = 5 * time.Second
	historyPoints          = 180
	maxHistoryClusters     = 64
	maxHistoryEndpoints    = 512
	maxHistoryEjections    = 256
)

// history samples the StatusSource at a fixed interval into per-cluster
// and per-endpoint rings, and records ejections as the source reports
// them. Safe for concurrent use.
type history struct {
	interval time.Duration

	mu        sync.Mutex
	clusters  map[string]*clusterSeries
	endpoints int // endpoint series across all clusters
	ejections *ring[Ejection]
}

// clusterSeries is one cluster's points and its endpoints' series.
type clusterSeries struct {
	points    *ring[ClusterPoint]
	endpoints map[string]*endpointSeries
	sampled   bool // a sample has set the endpoints' baselines
}

// endpointSeries is one endpoint's points and the counters of the
// previous sample, which the next one subtracts.
type endpointSeries struct {
	points   *ring[EndpointPoint]
	at       time.Time
	requests uint64
	failures uint64
}

func newHistory(interval time.Duration) *history {
	return &history{
		interval:  interval,
		clusters:  make(map[string]*clusterSeries),
		ejections: newRing[Ejection](maxHistoryEjections),
	}
}

// record keeps one ejection. It is called from the data path's locks,
// so it only takes the history's.
func (h *history) record(e Ejection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ejections.push(e)
}

// sample adds one point per cluster and endpoint of st, taken at now,
// and drops the series of clusters and endpoints st no longer has.
func (h *history) sample(st Status, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(st.Clusters))
	for _, c := range st.Clusters {
		seen[c.Name] = true
		cs := h.clusters[c.Name]
		if cs == nil {
			if len(h.clusters) >= maxHistoryClusters {
				continue
			}
			cs = &clusterSeries{points: newRing[ClusterPoint](historyPoints), endpoints: make(map[string]*endpointSeries)}
			h.clusters[c.Name] = cs
		}
		h.sampleCluster(cs, c, now)
	}
	for name, cs := range h.clusters {
		if !seen[name] {
			h.endpoints -= len(cs.endpoints)
			delete(h.clusters, name)
		}
	}
}

// sampleCluster adds a point to each endpoint's series and one to the
// cluster's, which sums the endpoints' traffic and takes the
// percentiles of their estimates.
func (h *history) sampleCluster(cs *clusterSeries, c ClusterStatus, now time.Time) {
	var reqs, fails float64
	var secs float64
	estimates := make([]float64, 0, len(c.Endpoints))
	seen := make(map[string]bool, len(c.Endpoints))
	for _, e := range c.Endpoints {
		seen[e.Addr] = true
		if est := finite(e.EWMA); est > 0 {
			estimates = append(estimates, est)
		}
		es := h.endpoint(cs, e.Addr)
		if es == nil {
			continue
		}
		dReqs, dFails, dt := es.advance(e, now)
		reqs, fails, secs = reqs+dReqs, fails+dFails, max(secs, dt)
	}
	for addr := range cs.endpoints {
		if !seen[addr] {
			delete(cs.endpoints, addr)
			h.endpoints--
		}
	}
	if !cs.sampled {
		cs.sampled = true
		return
	}
	slices.Sort(estimates)
	p := ClusterPoint{Time: now, ErrorRate: errorRate(fails, reqs),
		P50: percentile(estimates, 0.50), P99: percentile(estimates, 0.99)}
	if secs > 0 {
		p.Rate = reqs / secs
	}
	cs.points.push(p)
}

// endpoint returns addr's series, starting one if the bound allows.
func (h *history) endpoint(cs *clusterSeries, addr string) *endpointSeries {
	es := cs.endpoints[addr]
	if es == nil && h.endpoints < maxHistoryEndpoints {
		es = &endpointSeries{points: newRing[EndpointPoint](historyPoints)}
		cs.endpoints[addr] = es
		h.endpoints++
	}
	return es
}

// advance adds the point for e at now and returns the requests and
// failures since the previous sample and the seconds between them; the
// first sample only sets the baseline.
func (es *endpointSeries) advance(e EndpointStatus, now time.Time) (reqs, fails, secs float64) {
	first := es.at.IsZero()
	// A counter that went down was reset (the endpoint left and came
	// back, or its pool was rebuilt): all it counted is new.
	dReqs, dFails := e.Requests, e.Failures
	if e.Requests >= es.requests {
		dReqs -= es.requests
	}
	if e.Failures >= es.failures {
		dFails -= es.failures
	}
	secs = now.Sub(es.at).Seconds()
	es.at, es.requests, es.failures = now, e.Requests, e.Failures
	if first || secs <= 0 {
		return 0, 0, 0
	}
	reqs, fails = float64(dReqs), float64(dFails)
	es.points.push(EndpointPoint{Time: now, Rate: reqs / secs,
		ErrorRate: errorRate(fails, reqs), EWMA: finite(e.EWMA), Breaker: e.Breaker})
	return reqs, fails, secs
}

// errorRate is the fraction of requests that failed. Failures are
// counted when calls end and requests when they start, so a sample can
// hold more of the first: the rate is capped at 1.
func errorRate(fails, reqs float64) float64 {
	if reqs <= 0 {
		return 0
	}
	return min(1, fails/reqs)
}

// percentile is the nearest-rank q-quantile of sorted, 0 if empty.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

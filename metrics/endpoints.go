package metrics

import (
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// endpointSet tracks, per cluster, the endpoints that may have series
// here, so that RetainEndpoints finds the ones to delete without
// walking every series. An endpoint is added before its first series is
// created and removed before its series are deleted, so every series
// has its endpoint listed.
type endpointSet struct {
	mu        sync.Mutex
	byCluster map[string]map[string]struct{}
}

// add lists endpoint under cluster.
func (s *endpointSet) add(cluster, endpoint string) {
	if endpoint == NoEndpoint {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byCluster == nil {
		s.byCluster = map[string]map[string]struct{}{}
	}
	eps := s.byCluster[cluster]
	if eps == nil {
		eps = map[string]struct{}{}
		s.byCluster[cluster] = eps
	}
	eps[endpoint] = struct{}{}
}

// drop unlists the endpoints of cluster that are not in current and
// returns them.
func (s *endpointSet) drop(cluster string, current []string) []string {
	keep := make(map[string]bool, len(current))
	for _, e := range current {
		keep[e] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for e := range s.byCluster[cluster] {
		if !keep[e] {
			gone = append(gone, e)
			delete(s.byCluster[cluster], e)
		}
	}
	if len(s.byCluster[cluster]) == 0 {
		delete(s.byCluster, cluster)
	}
	return gone
}

// RetainEndpoints deletes the series of every endpoint of cluster that
// is not in current: strait_grpc_requests_total and the strait_tcp_*
// series labelled by endpoint. Call it whenever discovery changes the
// cluster's set (and with nil once the cluster is gone), so endpoint
// churn does not grow /metrics without bound.
//
// An endpoint that comes back starts fresh series: its counters restart
// from zero, which rate() and increase() read as a counter reset. A call
// that ends on an endpoint after it was deleted counts into a fresh
// series, deleted by the cluster's next change.
func (m *Metrics) RetainEndpoints(cluster string, current []string) {
	for _, ep := range m.endpoints.drop(cluster, current) {
		m.forgetEndpoint(cluster, ep)
	}
}

func (m *Metrics) forgetEndpoint(cluster, endpoint string) {
	// The vecs first: a series a call creates meanwhile is deleted
	// again below, with its cached child, under the method's lock.
	labels := prometheus.Labels{"cluster": cluster, "endpoint": endpoint}
	m.requests.DeletePartialMatch(labels)
	for _, v := range []*prometheus.CounterVec{m.tcpOpened, m.tcpFailed, m.tcpSent, m.tcpReceived} {
		v.DeletePartialMatch(labels)
	}
	m.tcpActive.DeletePartialMatch(labels)
	m.methodsMu.Lock()
	defer m.methodsMu.Unlock()
	c := m.methods.Load()
	for _, mm := range c.byName {
		if mm.cluster == cluster {
			mm.forget(endpoint)
		}
	}
	if mm := c.others[cluster]; mm != nil {
		mm.forget(endpoint)
	}
}

// forget deletes the method's series for endpoint and drops their cached
// children, under countersMu so that a call creating a child at the same
// time does not leave one cached that the vec no longer holds.
func (mm *methodMetrics) forget(endpoint string) {
	mm.countersMu.Lock()
	defer mm.countersMu.Unlock()
	next := maps.Clone(*mm.counters.Load())
	maps.DeleteFunc(next, func(k counterKey, _ prometheus.Counter) bool { return k.endpoint == endpoint })
	mm.counters.Store(&next)
	mm.requests.DeletePartialMatch(prometheus.Labels{"cluster": mm.cluster, "endpoint": endpoint, "method": mm.method})
}

package admin

import (
	"fmt"
	"testing"
	"time"
)

// counters is one cluster "c" whose endpoints have the given requests,
// failures and estimates.
func counters(eps ...EndpointStatus) Status {
	return Status{Clusters: []ClusterStatus{{Name: "c", Endpoints: eps}}}
}

func TestHistoryRatesErrorsAndPercentiles(t *testing.T) {
	h := newHistory(5 * time.Second)
	t0 := time.Unix(1000, 0)
	h.sample(counters(
		EndpointStatus{Addr: "a", Requests: 100, EWMA: 0.001},
		EndpointStatus{Addr: "b", Requests: 50, EWMA: 0.002}), t0)
	if v := h.view(t0); len(v.Clusters[0].Points) != 0 || len(v.Clusters[0].Endpoints[0].Points) != 0 {
		t.Fatalf("first sample made points: %+v; it only sets the baseline", v)
	}

	h.sample(counters(
		EndpointStatus{Addr: "a", Requests: 600, Failures: 50, EWMA: 0.001, Breaker: BreakerClosed},
		EndpointStatus{Addr: "b", Requests: 50, EWMA: 0.004, Breaker: BreakerOpen},
		EndpointStatus{Addr: "n", Requests: 7, EWMA: 0.1}), t0.Add(5*time.Second))
	v := h.view(t0.Add(5 * time.Second))
	c := v.Clusters[0]
	if len(c.Points) != 1 || len(c.Endpoints) != 3 {
		t.Fatalf("after two samples: %d cluster points, %d endpoints; want 1 and 3", len(c.Points), len(c.Endpoints))
	}
	a, b := c.Endpoints[0].Points[0], c.Endpoints[1].Points[0]
	if !near(a.Rate, 100) || !near(a.ErrorRate, 0.1) || a.EWMA != 0.001 || a.Breaker != BreakerClosed {
		t.Fatalf("a: %+v, want 100/s with 10%% errors", a)
	}
	if b.Rate != 0 || b.Breaker != BreakerOpen {
		t.Fatalf("b: %+v, want no traffic, open", b)
	}
	if len(c.Endpoints[2].Points) != 0 {
		t.Fatalf("new endpoint n has points %+v at its first sample", c.Endpoints[2].Points)
	}
	p := c.Points[0]
	// The cluster sums a and b (n has no baseline yet); its percentiles
	// take every estimate: 1 ms, 4 ms, 100 ms.
	if !near(p.Rate, 100) || !near(p.ErrorRate, 0.1) || p.P50 != 0.004 || p.P99 != 0.1 {
		t.Fatalf("cluster point %+v, want 100/s, 10%% errors, p50 4 ms, p99 100 ms", p)
	}
	if v.IntervalSeconds != 5 || v.Points != historyPoints {
		t.Fatalf("view says interval %v, %d points", v.IntervalSeconds, v.Points)
	}
}

func TestHistoryCounterResetCountsAsNew(t *testing.T) {
	h := newHistory(time.Second)
	t0 := time.Unix(1000, 0)
	h.sample(counters(EndpointStatus{Addr: "a", Requests: 500, Failures: 20}), t0)
	h.sample(counters(EndpointStatus{Addr: "a", Requests: 30, Failures: 3}), t0.Add(time.Second))
	got := h.view(t0).Clusters[0].Endpoints[0].Points[0]
	if !near(got.Rate, 30) || !near(got.ErrorRate, 0.1) {
		t.Fatalf("after a reset: %+v, want the 30 new requests, 3 failed", got)
	}
}

func TestHistoryDropsWhatLeaves(t *testing.T) {
	h := newHistory(time.Second)
	t0 := time.Unix(1000, 0)
	two := Status{Clusters: []ClusterStatus{
		{Name: "c", Endpoints: []EndpointStatus{{Addr: "a"}, {Addr: "b"}}},
		{Name: "d", Endpoints: []EndpointStatus{{Addr: "x"}}},
	}}
	h.sample(two, t0)
	h.sample(counters(EndpointStatus{Addr: "a"}), t0.Add(time.Second))
	v := h.view(t0)
	if len(v.Clusters) != 1 || len(v.Clusters[0].Endpoints) != 1 || v.Clusters[0].Endpoints[0].Addr != "a" {
		t.Fatalf("after b and cluster d left: %+v", v)
	}
	if h.endpoints != 1 {
		t.Fatalf("%d endpoint series counted, want 1", h.endpoints)
	}
}

func TestHistoryBoundsEndpointsAndClusters(t *testing.T) {
	h := newHistory(time.Second)
	var st Status
	for c := range maxHistoryClusters + 5 {
		cs := ClusterStatus{Name: fmt.Sprintf("c%03d", c)}
		for e := range 20 {
			cs.Endpoints = append(cs.Endpoints, EndpointStatus{Addr: fmt.Sprintf("10.0.%d.%d:80", c, e)})
		}
		st.Clusters = append(st.Clusters, cs)
	}
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		h.sample(st, t0.Add(time.Duration(i)*time.Second))
	}
	v := h.view(t0)
	n := 0
	for _, c := range v.Clusters {
		n += len(c.Endpoints)
	}
	if len(v.Clusters) != maxHistoryClusters || n != maxHistoryEndpoints || h.endpoints != n {
		t.Fatalf("tracking %d clusters, %d endpoints (counted %d); want %d and %d",
			len(v.Clusters), n, h.endpoints, maxHistoryClusters, maxHistoryEndpoints)
	}
}

func TestHistoryShowsRecentEjectionsOnly(t *testing.T) {
	h := newHistory(time.Second) // the charts span 180 s
	t0 := time.Unix(1000, 0)
	h.sample(counters(EndpointStatus{Addr: "a"}), t0)
	h.record(Ejection{Time: t0, Cluster: "c", Endpoint: "a", Kind: EjectionBreaker})
	h.record(Ejection{Time: t0.Add(100 * time.Second), Cluster: "c", Endpoint: "a", Kind: EjectionHealth})
	h.record(Ejection{Time: t0.Add(100 * time.Second), Cluster: "gone", Endpoint: "z", Kind: EjectionBreaker})
	ej := h.view(t0.Add(200 * time.Second)).Clusters[0].Ejections
	if len(ej) != 1 || ej[0].Kind != EjectionHealth {
		t.Fatalf("ejections shown at t0+200s: %+v, want only the drain at t0+100s", ej)
	}
	for range 2 * maxHistoryEjections {
		h.record(Ejection{Time: t0, Cluster: "c"})
	}
	if n := h.ejections.len(); n != maxHistoryEjections {
		t.Fatalf("%d ejections kept, want %d", n, maxHistoryEjections)
	}
}

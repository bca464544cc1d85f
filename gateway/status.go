package gateway

import (
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/upstream"
)

// Status reports every cluster's discovery state and each endpoint's
// balancer state, for the admin page and the scrape-time metrics. Safe
// for concurrent use.
func (g *Gateway) Status() admin.Status {
	g.mu.Lock()
	clusters := make(map[string]*cluster, len(g.clusters))
	for name, c := range g.clusters {
		clusters[name] = c
	}
	g.mu.Unlock()
	st := admin.Status{Time: time.Now()}
	for _, name := range sortedNames(clusters) {
		c := clusters[name]
		cs := admin.FromSnapshot(c.source, c.guard.Snapshot())
		if sc, ok := c.src.(upstream.SkipCounter); ok {
			cs.SkippedValues = sc.SkippedValues()
		}
		if pool, ok := lb.DefaultRegistry.Pool(name); ok {
			addBalancerState(&cs, pool.Stats())
		} else if pool, ok := lb.DefaultRegistry.Pool(tcpPoolName(name)); ok {
			addBalancerState(&cs, pool.Stats())
		}
		st.Clusters = append(st.Clusters, cs)
	}
	return st
}

// addBalancerState fills in the balancer's numbers for the endpoints that
// discovery lists (endpoints kept only for their grace period are not
// shown).
func addBalancerState(cs *admin.ClusterStatus, ps lb.PoolStats) {
	cs.Panic, cs.PanicActivations = ps.Panicking, ps.PanicActivations
	byAddr := make(map[string]lb.EndpointStats, len(ps.Endpoints))
	for _, e := range ps.Endpoints {
		byAddr[e.Addr] = e
	}
	for i := range cs.Endpoints {
		ep := &cs.Endpoints[i]
		e, ok := byAddr[ep.Addr]
		if !ok {
			continue
		}
		ep.EWMA = e.Estimate.Seconds()
		ep.InFlight = e.InFlight
		ep.Breaker = e.Breaker
		ep.Ejections = e.Ejections
		ep.LastError = e.LastError
		ep.Requests = e.Requests
		if !e.Serving && ep.LastError == "" {
			ep.LastError = "active health check: not serving"
		}
	}
}

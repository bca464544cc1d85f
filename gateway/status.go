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
		if ps, ok := busiestPool(name); ok {
			addBalancerState(&cs, ps)
		}
		st.Clusters = append(st.Clusters, cs)
	}
	return st
}

// busiestPool returns the stats of the cluster's pool that has served the
// most calls: the relay's, the grpc-go path's or L4's, whichever the
// cluster's listeners use.
func busiestPool(cluster string) (lb.PoolStats, bool) {
	var best lb.PoolStats
	var bestReqs uint64
	found := false
	for _, name := range []string{cluster, grpcPoolName(cluster), tcpPoolName(cluster)} {
		pool, ok := lb.DefaultRegistry.Pool(name)
		if !ok {
			continue
		}
		ps := pool.Stats()
		var reqs uint64
		for _, e := range ps.Endpoints {
			reqs += e.Requests
		}
		if !found || reqs > bestReqs {
			best, bestReqs, found = ps, reqs, true
		}
	}
	return best, found
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

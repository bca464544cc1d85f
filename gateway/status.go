package gateway

import (
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/config"
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
		cs.DataPaths = c.pathNames()
		addBalancerState(&cs, c.poolStats())
		st.Clusters = append(st.Clusters, cs)
	}
	return st
}

// pathNames names the data paths that reach c, for the status page.
func (c *cluster) pathNames() []string {
	var names []string
	for _, p := range []struct {
		name string
		on   bool
	}{{config.DataplaneRelay, c.paths.Relay}, {config.DataplaneGRPC, c.paths.GRPC}, {config.ProtocolTCP, c.paths.TCP}} {
		if p.on {
			names = append(names, p.name)
		}
	}
	return names
}

// poolStats returns the stats of the lb pool of every data path that
// reaches c (the relay's, the grpc-go path's, L4's).
func (c *cluster) poolStats() []lb.PoolStats {
	var out []lb.PoolStats
	for _, p := range []struct {
		name string
		on   bool
	}{{c.name, c.paths.Relay}, {grpcPoolName(c.name), c.paths.GRPC}, {tcpPoolName(c.name), c.paths.TCP}} {
		if pool, ok := lb.DefaultRegistry.Pool(p.name); ok && p.on {
			out = append(out, pool.Stats())
		}
	}
	return out
}

// addBalancerState fills in the balancer's numbers for the endpoints that
// discovery lists (endpoints kept only for their grace period are not
// shown). With several data paths, each keeping a pool of its own, an
// endpoint's counts are summed over them, its breaker is the worst of
// them, and its estimate and last error are those of the pool that sent
// it the most requests.
func addBalancerState(cs *admin.ClusterStatus, pools []lb.PoolStats) {
	type merged struct {
		lb.EndpointStats
		most uint64 // requests of the pool the estimate comes from
	}
	byAddr := map[string]*merged{}
	for _, ps := range pools {
		cs.Panic = cs.Panic || ps.Panicking
		cs.PanicActivations += ps.PanicActivations
		for _, e := range ps.Endpoints {
			m, ok := byAddr[e.Addr]
			if !ok {
				byAddr[e.Addr] = &merged{EndpointStats: e, most: e.Requests}
				continue
			}
			m.InFlight += e.InFlight
			m.Ejections += e.Ejections
			m.Requests += e.Requests
			m.Failures += e.Failures
			m.Serving = m.Serving && e.Serving
			if breakerRank(e.Breaker) > breakerRank(m.Breaker) {
				m.Breaker = e.Breaker
			}
			if e.Requests > m.most {
				m.most, m.Estimate, m.LastError = e.Requests, e.Estimate, e.LastError
			}
		}
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
		ep.Failures = e.Failures
		if !e.Serving && ep.LastError == "" {
			ep.LastError = "active health check: not serving"
		}
	}
}

// breakerRank orders breaker states from best to worst.
func breakerRank(state string) int {
	switch state {
	case admin.BreakerOpen:
		return 2
	case admin.BreakerHalfOpen:
		return 1
	}
	return 0
}

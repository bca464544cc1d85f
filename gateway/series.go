package gateway

import (
	"github.com/straitproxy/strait/upstream"
)

// sweepSeries makes the data-path metrics follow c's discovery: when an
// endpoint leaves the set, its series are deleted (they come back fresh
// if it returns), so Kubernetes churn does not grow /metrics without
// bound. It reads the same snapshots the balancer pools' Update does.
func (g *Gateway) sweepSeries(c *cluster) {
	m := g.metrics
	if m == nil {
		return
	}
	c.unsweep = c.guard.Subscribe(func(s upstream.Snapshot) {
		// As the pools: nothing to go by before the first answer.
		if s.State == upstream.NeverSynced && s.LastErr == nil {
			return
		}
		m.RetainEndpoints(c.name, upstream.Addrs(s.Endpoints))
	})
}

// forgetSeries deletes every endpoint series of a cluster that the
// configuration no longer has.
func (g *Gateway) forgetSeries(c *cluster) {
	if g.metrics != nil {
		g.metrics.RetainEndpoints(c.name, nil)
	}
}

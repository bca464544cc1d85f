package admin

import "github.com/straitproxy/strait/upstream"

// FromSnapshot fills the discovery half of a ClusterStatus from a
// guard's snapshot: name, source kind, state, last sync and error, and
// one endpoint per address with its breaker closed. The balancer's
// numbers (EWMA, in-flight, breaker, requests) are the caller's to add.
func FromSnapshot(source string, s upstream.Snapshot) ClusterStatus {
	c := ClusterStatus{
		Name:      s.Cluster,
		Source:    source,
		State:     s.State.String(),
		LastSync:  s.LastSync,
		Endpoints: make([]EndpointStatus, len(s.Endpoints)),
	}
	if s.LastErr != nil {
		c.LastError = s.LastErr.Error()
	}
	for i, e := range s.Endpoints {
		c.Endpoints[i] = EndpointStatus{Addr: e.Addr, Breaker: BreakerClosed}
	}
	return c
}

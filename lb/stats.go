package lb

import (
	"slices"
	"strings"
	"time"

	"github.com/straitproxy/strait/health"
)

// EndpointStats is one endpoint's state as the admin page shows it.
type EndpointStats struct {
	Addr string `json:"addr"`
	// Member is false for a removed endpoint kept for its grace period.
	Member bool `json:"member"`
	// Serving is false while an active health check says otherwise.
	Serving   bool          `json:"serving"`
	Estimate  time.Duration `json:"estimate_ns"`
	InFlight  int64         `json:"in_flight"`
	Breaker   string        `json:"breaker"`
	Ejections uint64        `json:"ejections"`
	Requests  uint64        `json:"requests"`
	Failures  uint64        `json:"failures"`
	LastError string        `json:"last_error,omitempty"`
	// LastErrorAt is zero when there was no failure.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// PoolStats is a cluster's balancing state.
type PoolStats struct {
	Cluster          string `json:"cluster"`
	Panicking        bool   `json:"panicking"`
	PanicActivations uint64 `json:"panic_activations"`
	// Ejected counts members out of rotation: breaker not closed, or
	// reported not serving.
	Ejected   int             `json:"ejected"`
	Endpoints []EndpointStats `json:"endpoints"`
}

// Stats returns every endpoint's state, members and graced ones, sorted
// by address.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.nanos()
	out := PoolStats{
		Cluster: p.cluster, Panicking: p.Panicking(), PanicActivations: p.PanicActivations(),
		Ejected: p.ejected, Endpoints: make([]EndpointStats, 0, len(p.byAddr)),
	}
	for _, e := range p.byAddr {
		out.Endpoints = append(out.Endpoints, e.stats(now))
	}
	slices.SortFunc(out.Endpoints, func(a, b EndpointStats) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

// stats reads the endpoint; called with pool.mu held (for member).
func (e *Endpoint) stats(now int64) EndpointStats {
	s := EndpointStats{
		Addr: e.addr, Member: e.member, Serving: !e.down,
		Estimate:  time.Duration(e.cost(now)),
		InFlight:  e.inflight.Load(),
		Breaker:   e.breaker.State().String(),
		Ejections: e.breaker.Ejections(),
		Requests:  e.requests.Load(),
		Failures:  e.failures.Load(),
	}
	if f := e.lastErr.Load(); f != nil {
		s.LastError, s.LastErrorAt = f.msg, f.at
	}
	return s
}

// BreakerState is the endpoint's breaker position.
func (e *Endpoint) BreakerState() health.State { return e.breaker.State() }

// Latency is the endpoint's peak-biased EWMA latency estimate alone, without
// the failure penalty that Estimate adds: what a call to it may take.
func (e *Endpoint) Latency() time.Duration {
	return time.Duration(e.estimate(e.pool.nanos()))
}

// Estimate is the endpoint's current latency estimate, failure penalty
// included.
func (e *Endpoint) Estimate() time.Duration {
	return time.Duration(e.cost(e.pool.nanos()))
}

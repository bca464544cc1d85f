package tcpproxy

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a listener's counters at one moment. Counters only grow, except
// Active and the endpoints' Active.
type Stats struct {
	Listener, Cluster string
	// Accepted counts client connections taken off the listener.
	Accepted uint64
	// Active is the number of client connections being served.
	Active int64
	// Rejected counts connections closed at once because MaxConnections
	// were open.
	Rejected uint64
	// Unserved counts clients turned away because no endpoint could be
	// dialled.
	Unserved uint64
	// Closes by the proxy's own decision, by reason.
	IdleClosed, LifetimeClosed, DrainClosed, ShutdownClosed uint64
	// Endpoints, sorted by address.
	Endpoints []EndpointStats
}

// EndpointStats are one endpoint's counters.
type EndpointStats struct {
	Addr string
	// Opened counts connections established to the endpoint.
	Opened uint64
	// Active is how many of them are open now.
	Active int64
	// Failed counts dials that failed (refused, timed out).
	Failed uint64
	// BytesUp went client → endpoint, BytesDown endpoint → client.
	BytesUp, BytesDown uint64
	// DialTotal is the sum of all dial latencies (failed dials included),
	// DialCount their number.
	DialTotal time.Duration
	DialCount uint64
}

// endpointStats are the live counters behind EndpointStats.
type endpointStats struct {
	opened, failed     atomic.Uint64
	active             atomic.Int64
	bytesUp, bytesDown atomic.Uint64
	dialNanos          atomic.Int64
	dials              atomic.Uint64
}

func (e *endpointStats) observeDial(d time.Duration) {
	e.dialNanos.Add(int64(d))
	e.dials.Add(1)
}

func (e *endpointStats) snapshot(addr string) EndpointStats {
	return EndpointStats{Addr: addr, Opened: e.opened.Load(), Active: e.active.Load(),
		Failed: e.failed.Load(), BytesUp: e.bytesUp.Load(), BytesDown: e.bytesDown.Load(),
		DialTotal: time.Duration(e.dialNanos.Load()), DialCount: e.dials.Load()}
}

// counters are a listener's live counters.
type counters struct {
	accepted, rejected, unserved                        atomic.Uint64
	idleClosed, lifetimeClosed, drainClosed, shutClosed atomic.Uint64
	active                                              atomic.Int64

	mu        sync.Mutex
	endpoints map[string]*endpointStats
}

// endpoint returns addr's counters, creating them on first use.
func (c *counters) endpoint(addr string) *endpointStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.endpoints[addr]
	if e == nil {
		e = &endpointStats{}
		c.endpoints[addr] = e
	}
	return e
}

// forget drops the counters of endpoints that discovery removed and that
// have no connection left, so churn does not grow the map forever.
func (c *counters) forget(current map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, e := range c.endpoints {
		if !current[addr] && e.active.Load() == 0 {
			delete(c.endpoints, addr)
		}
	}
}

// Stats returns the listener's counters. Safe for concurrent use.
func (p *Proxy) Stats() Stats {
	c := &p.stats
	s := Stats{Listener: p.opts.Name, Cluster: p.opts.Cluster, Accepted: c.accepted.Load(), Active: c.active.Load(),
		Rejected: c.rejected.Load(), Unserved: c.unserved.Load(),
		IdleClosed: c.idleClosed.Load(), LifetimeClosed: c.lifetimeClosed.Load(),
		DrainClosed: c.drainClosed.Load(), ShutdownClosed: c.shutClosed.Load()}
	c.mu.Lock()
	for addr, e := range c.endpoints {
		s.Endpoints = append(s.Endpoints, e.snapshot(addr))
	}
	c.mu.Unlock()
	slices.SortFunc(s.Endpoints, func(a, b EndpointStats) int { return strings.Compare(a.Addr, b.Addr) })
	return s
}

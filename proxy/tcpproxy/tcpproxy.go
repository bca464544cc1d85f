// Package tcpproxy is strait's L4 data path: it accepts TCP connections,
// picks an upstream endpoint per connection with the cluster's balancer,
// and copies bytes both ways without looking at them.
//
// The copy stays between two *net.TCPConn so that Go's io.Copy uses
// splice(2) on Linux: bytes move from socket to socket through a kernel
// pipe and never enter user space. Half-close is relayed (a client's FIN
// becomes a FIN towards the backend, and back), so request/response
// protocols that close their write side still get the reply.
//
// The package balances through the small Balancer interface below;
// PoolBalancer adapts lb.Pool to it, so L4 shares the P2C picker, the
// peak-EWMA meter and the per-endpoint breakers with the gRPC side, and
// PoolBalancer.Follow keeps pool and proxy on a discovery Guard's set.
// Per-endpoint metrics go through Observer (MetricsObserver feeds package
// metrics); the Proxy is itself a Prometheus collector of its listener's
// counters, and Stats returns them all for the status page.
//
// Wiring one listener:
//
//	pool := lb.NewPool(cluster, balancerOptions)
//	bal := tcpproxy.NewPoolBalancer(pool)
//	p := tcpproxy.New(opts, bal, log) // opts.Observer = tcpproxy.MetricsObserver(m, cluster)
//	stop := bal.Follow(guard, p)
//	go p.Serve(lis)
//	...
//	p.Shutdown(drainCtx); stop()
package tcpproxy

import "errors"

// ErrClosed is returned by Serve after Shutdown or Close.
var ErrClosed = errors.New("tcpproxy: proxy closed")

// Balancer chooses the endpoint of each new connection. Implementations are
// safe for concurrent use; Pick should not block.
type Balancer interface {
	// Pick chooses an endpoint for one new connection; ok is false when the
	// cluster has no endpoint at all.
	Pick() (ep Endpoint, ok bool)
}

// Endpoint is one upstream address as the balancer sees it.
type Endpoint interface {
	// Addr is the host:port to dial.
	Addr() string
	// Start admits one connection to the endpoint, so that it counts as
	// open for the load estimate. It fails when the endpoint's breaker
	// refuses; the caller then picks again.
	Start() (Attempt, error)
}

// Attempt is one admitted connection to an endpoint.
type Attempt interface {
	// Connected reports the dial's outcome once the dial is over. A nil
	// err is the endpoint's success (its breaker hears it now, not at
	// Close) and starts the connection's open life, which Close ends; a non-nil
	// err is a failure for the endpoint's breaker and ends the attempt,
	// except one wrapping context.Canceled: the proxy was closing.
	Connected(err error)
	// Close reports that the open connection is closed. Call it once,
	// only after Connected(nil).
	Close()
}

package tcpproxy

import (
	"context"
	"errors"

	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/upstream"
)

// PoolBalancer adapts an lb.Pool to Balancer. A connection is one lb.Call
// for its whole open life: the pool's latency sample is the connect time
// (Connected settles the call), its in-flight count is the number of
// open connections, so P2C compares connect-time peak-EWMA × (open
// connections + 1), and endpoints whose breaker is open are skipped.
//
// A failed dial ends the call as a failure at once. A successful one is
// the endpoint's success at once too (lb.Call.Settle), while the
// connection stays in flight until it closes: a half-open endpoint
// closes its breaker once its probe connects, however long that
// connection then lives.
type PoolBalancer struct {
	pool   *lb.Pool
	prober *health.Prober
}

var _ Balancer = (*PoolBalancer)(nil) // API check

// NewPoolBalancer returns a Balancer picking from pool.
func NewPoolBalancer(pool *lb.Pool) *PoolBalancer { return &PoolBalancer{pool: pool} }

// Pick chooses an endpoint with the pool's P2C picker.
func (b *PoolBalancer) Pick() (Endpoint, bool) {
	e, ok := b.pool.Pick()
	if !ok {
		return nil, false
	}
	return (*poolEndpoint)(e), true
}

// WithProber makes Follow keep pr's active checks on the same set; pr
// should report to the pool's SetServing. Call it before Follow.
func (b *PoolBalancer) WithProber(pr *health.Prober) *PoolBalancer {
	b.prober = pr
	return b
}

// Follow keeps the pool and the proxy on g's set: every snapshot updates
// the pool first (so removed endpoints get no new connection, and new ones
// are known before a probe reports on them), then the prober if any, then
// the proxy (which drains the removed endpoints' connections). It returns
// the unsubscribe function.
func (b *PoolBalancer) Follow(g *upstream.Guard, p *Proxy) (cancel func()) {
	return g.Subscribe(func(s upstream.Snapshot) {
		addrs := upstream.Addrs(s.Endpoints)
		b.pool.Update(addrs)
		if b.prober != nil {
			b.prober.Update(addrs)
		}
		p.UpdateEndpoints(addrs)
	})
}

// poolEndpoint is an lb.Endpoint seen as an Endpoint; a conversion, not a
// wrapper, so Pick allocates nothing.
type poolEndpoint lb.Endpoint

func (e *poolEndpoint) Addr() string { return (*lb.Endpoint)(e).Addr() }

func (e *poolEndpoint) Start() (Attempt, error) {
	c, err := (*lb.Endpoint)(e).Start()
	if err != nil {
		return nil, err
	}
	return (*poolAttempt)(c), nil
}

// poolAttempt is an lb.Call seen as an Attempt.
type poolAttempt lb.Call

func (a *poolAttempt) Connected(err error) {
	c := (*lb.Call)(a)
	switch {
	case errors.Is(err, context.Canceled):
		c.End(health.Ignore, err) // the proxy gave up, not the endpoint
		return
	case err != nil:
		c.End(health.Failure, err)
		return
	}
	c.Settle(health.Success, nil)
}

func (a *poolAttempt) Close() { (*lb.Call)(a).End(health.Success, nil) }

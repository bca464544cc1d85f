package h2relay

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/upstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LBPool is a Balancer over an lb.Pool: P2C over peak-biased EWMA load, with
// breakers and the panic threshold. The relay's outcomes feed the pool's
// meter and breakers as the grpc-go path's Done callbacks do.
type LBPool struct {
	pool   *lb.Pool
	tls    *tls.Config
	budget *RetryBudget
}

var (
	_ TLSBalancer      = LBPool{}
	_ AvoidingBalancer = LBPool{}
	_ BudgetedBalancer = LBPool{}
)

// WithRetryBudget returns b bounding the cluster's retries with rb.
func (b LBPool) WithRetryBudget(rb *RetryBudget) LBPool {
	b.budget = rb
	return b
}

// RetryBudget is the budget set by WithRetryBudget.
func (b LBPool) RetryBudget() *RetryBudget { return b.budget }

// WithTLS returns b dialing its endpoints over TLS with c.
func (b LBPool) WithTLS(c *tls.Config) LBPool {
	b.tls = c
	return b
}

// Pool is the lb pool b balances over.
func (b LBPool) Pool() *lb.Pool { return b.pool }

// InFlight counts the calls picked through the pool that have not ended
// (through any balancer over the same pool).
func (b LBPool) InFlight() int64 {
	var n int64
	for _, e := range b.pool.Stats().Endpoints {
		n += e.InFlight
	}
	return n
}

// UpstreamTLS is the TLS configuration set by WithTLS.
func (b LBPool) UpstreamTLS() *tls.Config { return b.tls }

// NewLBPool balances over pool and keeps its members equal to guard's
// sets until cancel is called.
func NewLBPool(pool *lb.Pool, guard *upstream.Guard) (b LBPool, cancel func()) {
	return NewCheckedLBPool(pool, guard, nil)
}

// NewCheckedLBPool is NewLBPool with active health checks: prober, which
// should report to pool.SetServing, checks the same sets. The pool
// learns each set first, so that no verdict arrives for an endpoint it
// does not know yet. A nil prober checks nothing; the caller closes it
// after cancel.
func NewCheckedLBPool(pool *lb.Pool, guard *upstream.Guard, prober *health.Prober) (b LBPool, cancel func()) {
	cancel = guard.Subscribe(func(s upstream.Snapshot) {
		if s.State == upstream.NeverSynced && s.LastErr == nil {
			return
		}
		addrs := upstream.Addrs(s.Endpoints)
		pool.Update(addrs)
		if prober != nil {
			prober.Update(addrs)
		}
	})
	return LBPool{pool: pool}, cancel
}

// Pick admits a call on the endpoint the pool chooses.
func (b LBPool) Pick() (Call, bool) {
	c, err := b.pool.Acquire()
	if err != nil {
		return nil, false
	}
	return (*lbCall)(c), true
}

// PickAvoiding admits a call on an endpoint avoid does not name.
func (b LBPool) PickAvoiding(avoid func(addr string) bool) (Call, bool) {
	c, err := b.pool.AcquireAvoiding(avoid)
	if err != nil {
		return nil, false
	}
	return (*lbCall)(c), true
}

// lbCall is an lb.Call seen as a Call; a conversion, not a wrapper, so
// Pick allocates nothing more than the pool does.
type lbCall lb.Call

func (c *lbCall) Addr() string { return (*lb.Call)(c).Endpoint().Addr() }

// Latency is the endpoint's peak-biased EWMA estimate.
func (c *lbCall) Latency() time.Duration { return (*lb.Call)(c).Endpoint().Latency() }

// FirstResponse lets the pool time the call from its own Acquire.
func (c *lbCall) FirstResponse() { (*lb.Call)(c).FirstResponse() }

// End maps the outcome to a verdict: local ends say nothing about the
// endpoint, resets and lost connections are failures, and a status is
// judged by the pool's classifier (which failure codes eject).
func (c *lbCall) End(o Outcome) {
	lc := (*lb.Call)(c)
	switch {
	case o.Local:
		lc.End(health.Ignore, nil)
	case o.Err != nil:
		lc.End(health.Failure, o.Err)
	case o.Code == codes.OK:
		lc.End(health.Success, nil) // what the classifier says of OK, without building a status
	default:
		msg := o.Message
		if msg == "" {
			msg = "no message from the endpoint"
		}
		err := status.Error(o.Code, msg)
		lc.End(lc.Pool().Classify(context.Background(), err), err)
	}
}

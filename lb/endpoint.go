package lb

import (
	"sync/atomic"
	"time"

	"github.com/straitproxy/strait/health"
)

// Endpoint is one address's balancing state: its latency meter, in-flight
// count, breaker and counters. It belongs to a Pool and outlives the Sets
// (pickers) that list it. Safe for concurrent use.
type Endpoint struct {
	addr    string
	pool    *Pool
	meter   meter
	breaker *health.CircuitBreaker

	inflight atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64
	joined   atomic.Int64 // pool nanoseconds of the latest (re)join
	lastErr  atomic.Pointer[failure]

	// Guarded by pool.mu.
	member    bool
	ejected   bool
	removedAt int64
}

type failure struct {
	msg string
	at  time.Time
}

// Addr is the endpoint's host:port.
func (e *Endpoint) Addr() string { return e.addr }

// InFlight is how many calls (open streams included) are running.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// load is the cost of sending one more call now: the decayed estimate
// times the calls it would share the endpoint with, raised while the
// endpoint is still in its slow-start ramp.
func (e *Endpoint) load(now int64) float64 {
	o := &e.pool.opts
	l := e.meter.value(now, e.pool.tau) * float64(e.inflight.Load()+1)
	if age := now - e.joined.Load(); age < int64(o.SlowStart) {
		l /= max(0.1, float64(age)/float64(o.SlowStart))
	}
	return l
}

// available says whether the picker may choose the endpoint: not while
// ejected, and while half-open only if a probe slot is free. In panic
// mode every endpoint is available.
func (e *Endpoint) available(panicking bool) bool {
	if panicking {
		return true
	}
	switch e.breaker.State() {
	case health.Closed:
		return true
	case health.HalfOpen:
		return e.inflight.Load() < int64(e.pool.opts.Breaker.Probes)
	default:
		return false
	}
}

// Start admits one call on the endpoint. It fails with health.ErrOpen when
// the breaker refuses, unless the pool is in panic mode. The caller must
// End the returned Call.
func (e *Endpoint) Start() (*Call, error) {
	done, err := e.breaker.Allow()
	if err != nil {
		if !e.pool.Panicking() {
			return nil, err
		}
		done = nil // fail open: the call goes out but the breaker does not hear of it
	}
	e.inflight.Add(1)
	e.requests.Add(1)
	return &Call{ep: e, start: e.pool.nanos(), breakerDone: done}, nil
}

// onBreaker keeps the pool's count of ejected members; it runs under the
// breaker's lock and only takes the pool's.
func (e *Endpoint) onBreaker(_, to health.State) {
	p := e.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	ejected := to != health.Closed
	if ejected == e.ejected {
		return
	}
	e.ejected = ejected
	if e.member {
		p.countEjected(ejected)
	}
}

// Call is one admitted call. End it exactly once; for streams, call
// FirstResponse when the first response (headers or message) arrives so
// that the estimate measures time to first response, not the stream's
// lifetime. Safe for concurrent use.
type Call struct {
	ep          *Endpoint
	start       int64
	breakerDone func(health.Verdict)
	sampled     atomic.Bool
	ended       atomic.Bool
}

// Endpoint is the endpoint the call went to.
func (c *Call) Endpoint() *Endpoint { return c.ep }

// FirstResponse records the latency to the first response.
func (c *Call) FirstResponse() {
	if c.sampled.CompareAndSwap(false, true) {
		p := c.ep.pool
		now := p.nanos()
		c.ep.meter.observe(float64(now-c.start), now, p.tau)
	}
}

// End reports the call's verdict; err is kept as the endpoint's last error
// when the verdict is a failure.
func (c *Call) End(v health.Verdict, err error) {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	e, p := c.ep, c.ep.pool
	e.inflight.Add(-1)
	now := p.nanos()
	switch v {
	case health.Failure:
		e.failures.Add(1)
		if err != nil {
			e.lastErr.Store(&failure{msg: err.Error(), at: p.clock()})
		}
		c.sampled.Store(true)
		e.meter.observe(max(float64(p.opts.Penalty), float64(now-c.start)), now, p.tau)
	case health.Success:
		c.FirstResponse()
	}
	if c.breakerDone != nil {
		c.breakerDone(v)
	}
}

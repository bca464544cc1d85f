package lb

import (
	"math"
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
	failedAt atomic.Int64 // pool nanoseconds of the latest failure; noFailure if none
	fade     atomic.Int64 // time constant of the latest failure's penalty, nanoseconds
	streak   atomic.Int64 // failures in a row
	lastErr  atomic.Pointer[failure]

	// notServing and tripped mirror down and broken for the lock-free
	// pick, which then reads the breaker only for endpoints it tripped.
	notServing atomic.Bool
	tripped    atomic.Bool

	// Guarded by pool.mu.
	member    bool
	broken    bool // breaker not closed
	down      bool // an active health check says it does not serve
	removedAt int64
}

// out says whether the endpoint counts against the panic threshold.
// Called with pool.mu held.
func (e *Endpoint) out() bool { return e.broken || e.down }

// noFailure marks an endpoint that never failed.
const noFailure = math.MinInt64

type failure struct {
	msg string
	at  time.Time
}

// Addr is the endpoint's host:port.
func (e *Endpoint) Addr() string { return e.addr }

// InFlight is how many calls (open streams included) are running.
func (e *Endpoint) InFlight() int64 { return e.inflight.Load() }

// cost is the latency the endpoint is expected to answer in: the larger
// of its estimate and its penalty.
func (e *Endpoint) cost(now int64) float64 { return max(e.estimate(now), e.penalty(now)) }

// estimate is the peak-biased EWMA latency estimate. Until its first sample an
// endpoint costs no more than the pool's typical latency, so it is tried
// as soon as its peers are as loaded, instead of waiting for its prior to
// decay below their measured latency.
func (e *Endpoint) estimate(now int64) float64 {
	c := e.meter.value(now, e.pool.tau)
	if !e.meter.sampled.Load() {
		if t := e.pool.typical.value(); t > 0 {
			c = min(c, t)
		}
	}
	return c
}

// penalty is what is left of the latest failure's penalty, 0 if none. It
// fades with the breaker's timeout as time constant, doubled for each
// failure in a row (capped at the breaker's longest timeout), not with τ:
// a failure makes the endpoint unattractive at once; one that failed once
// is probed again within seconds, one that keeps failing ever more rarely
// (a penalty folded into the EWMA would stay for several τ).
func (e *Endpoint) penalty(now int64) float64 {
	f := e.failedAt.Load()
	if f == noFailure {
		return 0
	}
	return float64(e.pool.opts.Penalty) * math.Exp(-float64(now-f)/float64(e.fade.Load()))
}

// penalize starts a failure's penalty at now.
func (e *Endpoint) penalize(now int64) {
	b := &e.pool.opts.Breaker
	fade := b.Timeout
	for n := e.streak.Add(1); n > 1 && fade < b.MaxTimeout; n-- {
		fade *= 2
	}
	e.fade.Store(int64(min(fade, b.MaxTimeout)))
	e.failedAt.Store(now)
}

// load is the cost of sending one more call now, raised while the
// endpoint is still in its slow-start ramp. The estimate counts the calls
// in flight offset by share, the pool's typical in-flight count per member
// (at least 1; see Set.share): at low concurrency that is estimate ×
// (in-flight + 1), the latency of one more call on a node that serves one
// call at a time; at high concurrency the estimate already holds whatever
// queueing the node does, and in-flight only tips the balance against a
// node carrying more than its share. The penalty counts the calls in
// flight + 1 whatever the concurrency, so a failed endpoint is probed
// again as soon as at low concurrency.
func (e *Endpoint) load(now int64, share float64) float64 {
	o := &e.pool.opts
	n := float64(e.inflight.Load())
	l := max(e.estimate(now)*(n+share), e.penalty(now)*(n+1))
	if age := now - e.joined.Load(); age < int64(o.SlowStart) {
		l /= max(0.1, float64(age)/float64(o.SlowStart))
	}
	return l
}

// available says whether the picker may choose the endpoint: not while
// ejected or reported not serving, and while half-open only if a probe
// slot is free. In panic mode every endpoint is available.
func (e *Endpoint) available(panicking bool) bool {
	if panicking {
		return true
	}
	if e.notServing.Load() {
		return false
	}
	if !e.tripped.Load() {
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
func (e *Endpoint) Start() (*Call, error) { return e.startAt(e.pool.nanos()) }

// startAt is Start at the pool time now.
func (e *Endpoint) startAt(now int64) (*Call, error) {
	done, err := e.breaker.Allow()
	if err != nil {
		if !e.pool.Panicking() {
			return nil, err
		}
		done = nil // fail open: the call goes out but the breaker does not hear of it
	}
	e.inflight.Add(1)
	e.pool.inflight.Add(1)
	e.requests.Add(1)
	return &Call{ep: e, start: now, breakerDone: done}, nil
}

// onBreaker keeps the pool's count of ejected members; it runs under the
// breaker's lock and only takes the pool's.
func (e *Endpoint) onBreaker(from, to health.State) {
	p := e.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.change(e, func() { e.broken = to != health.Closed })
	e.tripped.Store(e.broken)
	if to == health.Open {
		p.emit(e.addr, EventBreakerOpen)
	}
	switch {
	case to == health.Open && from == health.Closed:
		p.log.Warn("endpoint ejected", "endpoint", e.addr, "timeout", e.breaker.Timeout())
	case to == health.Closed:
		p.log.Info("endpoint recovered", "endpoint", e.addr)
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
	settled     atomic.Bool
	ended       atomic.Bool
}

// Endpoint is the endpoint the call went to.
func (c *Call) Endpoint() *Endpoint { return c.ep }

// Pool is the pool the call's endpoint belongs to.
func (c *Call) Pool() *Pool { return c.ep.pool }

// FirstResponse records the latency to the first response.
func (c *Call) FirstResponse() {
	if c.sampled.CompareAndSwap(false, true) {
		p := c.ep.pool
		now := p.nanos()
		rtt := float64(now - c.start)
		c.ep.meter.observe(rtt, now, p.tau, p.rise)
		p.typical.observe(rtt)
	}
}

// End releases the call and reports its verdict, unless Settle already
// did; err is kept as the endpoint's last error when the verdict is a
// failure.
func (c *Call) End(v health.Verdict, err error) {
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	c.ep.inflight.Add(-1)
	c.ep.pool.inflight.Add(-1)
	c.Settle(v, err)
}

// Settle reports the call's verdict before it ends, for calls whose
// outcome is known long before: an L4 connection is the endpoint's
// success once connected, and may then stay open for hours. Reported
// only at End, a half-open endpoint's probe connection would hold the
// breaker half-open (and the endpoint out of rotation) for its whole
// life. The call still counts as in flight until End.
func (c *Call) Settle(v health.Verdict, err error) {
	if !c.settled.CompareAndSwap(false, true) {
		return
	}
	e, p := c.ep, c.ep.pool
	switch v {
	case health.Failure:
		e.failures.Add(1)
		if err != nil {
			e.lastErr.Store(&failure{msg: err.Error(), at: p.clock()})
		}
		c.sampled.Store(true) // a failure's latency says nothing of the endpoint's speed
		e.penalize(p.nanos())
	case health.Success:
		if e.streak.Swap(0) > 0 {
			// The run of failures is over: what is left of the penalty
			// fades at the base rate, so a recovered endpoint ramps up
			// at once while one failing every other call stays costly.
			e.fade.Store(int64(p.opts.Breaker.Timeout))
		}
		c.FirstResponse()
	}
	if c.breakerDone != nil {
		c.breakerDone(v)
	}
}

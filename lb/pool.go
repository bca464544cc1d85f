package lb

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/straitproxy/strait/health"
)

// ErrNoEndpoint is returned by Acquire when the pool has no endpoint that
// admits a call.
var ErrNoEndpoint = errors.New("lb: no endpoint available")

// Pool is the balancing state of one cluster: the endpoints keyed by
// address, whose statistics and breakers outlive membership changes (a
// removed endpoint is kept for Options.Grace), and the current Set. It is
// the core shared by the gRPC balancer, the L4 proxy and the simulator.
// Safe for concurrent use; Pick and Acquire take no pool lock.
type Pool struct {
	cluster    string
	opts       Options
	tau        float64 // Options.Tau and Options.Rise in nanoseconds, for the meters
	rise       float64
	clock      health.Clock
	realClock  bool // clock is time.Now: nanos reads the monotonic clock alone
	epoch      time.Time
	rnd        func() uint64
	classifier health.Classifier
	log        *slog.Logger
	events     func(Event) // nil: nobody listens

	set              atomic.Pointer[Set]
	typical          typical
	inflight         atomic.Int64 // calls in flight on every endpoint, members or not
	panicking        atomic.Bool
	panicActivations atomic.Uint64

	mu      sync.Mutex
	byAddr  map[string]*Endpoint
	ejected int // members out: breaker not closed, or not serving
}

// PoolOption changes how a Pool is built.
type PoolOption func(*Pool)

// WithClock makes the pool read time from clock (tests, the simulator).
func WithClock(clock health.Clock) PoolOption { return func(p *Pool) { p.clock = clock } }

// WithRand makes the pool draw its random numbers from rnd.
func WithRand(rnd func() uint64) PoolOption { return func(p *Pool) { p.rnd = rnd } }

// WithLogger sets the logger for panic-mode changes.
func WithLogger(l *slog.Logger) PoolOption { return func(p *Pool) { p.log = l } }

// NewPool returns an empty pool for cluster. o must have passed Validate.
func NewPool(cluster string, o Options, opts ...PoolOption) *Pool {
	o = o.WithDefaults()
	p := &Pool{cluster: cluster, opts: o, tau: float64(o.Tau), rise: float64(o.Rise), rnd: rand.Uint64,
		log: slog.Default(), byAddr: make(map[string]*Endpoint)}
	for _, opt := range opts {
		opt(p)
	}
	if p.clock == nil {
		p.clock, p.realClock = time.Now, true
	}
	p.log = p.log.With("component", "lb", "cluster", cluster)
	p.epoch = p.clock()
	// Validate has checked the codes; a bad list here falls back to the defaults.
	p.classifier, _ = health.NewClassifier(o.Breaker.FailureCodes)
	p.set.Store(&Set{pool: p})
	return p
}

// Cluster is the name the pool was built for.
func (p *Pool) Cluster() string { return p.cluster }

// Options are the pool's options with defaults filled in.
func (p *Pool) Options() Options { return p.opts }

// Classify judges a finished call with the pool's failure codes.
func (p *Pool) Classify(ctx context.Context, err error) health.Verdict {
	return p.classifier.Classify(ctx, err)
}

// Panicking reports whether more endpoints are ejected than the panic
// threshold allows, so that ejection is ignored.
func (p *Pool) Panicking() bool { return p.panicking.Load() }

// PanicActivations counts how many times the pool entered panic mode.
func (p *Pool) PanicActivations() uint64 { return p.panicActivations.Load() }

// Current is the Set the pool last built.
func (p *Pool) Current() *Set { return p.set.Load() }

// Pick chooses an endpoint from the current Set; see Set.Pick.
func (p *Pool) Pick() (*Endpoint, bool) { return p.set.Load().Pick() }

// Acquire picks an endpoint and starts a call on it, picking again when a
// breaker refuses at the last moment (another caller took its probe).
func (p *Pool) Acquire() (*Call, error) {
	for range 3 {
		now := p.nanos() // one clock read for the pick and the call's start
		set := p.set.Load()
		i, ok := set.pickIndexAt(now)
		if !ok {
			return nil, ErrNoEndpoint
		}
		if c, err := set.eps[i].startAt(now); err == nil {
			return c, nil
		}
	}
	return nil, ErrNoEndpoint
}

// nanos is the pool's clock as nanoseconds since the pool was built. On
// the real clock it is time.Since, which reads the monotonic clock alone
// where time.Now reads the wall clock too: it runs twice per call.
func (p *Pool) nanos() int64 {
	if p.realClock {
		return int64(time.Since(p.epoch))
	}
	return int64(p.clock().Sub(p.epoch))
}

// SetServing records what an active health check found for addr; an
// endpoint that does not serve takes no traffic (outside panic mode) and
// counts against the panic threshold. One that serves again starts over
// like a new endpoint (peers' average estimate, slow start): what it
// measured before it went down is stale. Unknown addresses are ignored.
// Its signature fits health.Prober's report function.
func (p *Pool) SetServing(addr string, serving bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.byAddr[addr]
	if e == nil || e.down == !serving {
		return
	}
	if serving {
		now := p.nanos()
		e.meter.reset(p.averageEstimate(now), now)
		e.joined.Store(now)
	}
	p.change(e, func() { e.down = !serving })
	e.notServing.Store(!serving)
	if !serving {
		p.emit(addr, EventHealthDrain)
	}
}

// change applies f, which may take e out or bring it back, and keeps the
// count of members out and panic mode in step. Called with mu held.
func (p *Pool) change(e *Endpoint, f func()) {
	before := e.out()
	f()
	after := e.out()
	if !e.member || after == before {
		return
	}
	if after {
		p.ejected++
	} else {
		p.ejected--
	}
	p.judgePanic(len(p.set.Load().eps))
}

// judgePanic enters or leaves panic mode for a set of n members. Called
// with mu held.
func (p *Pool) judgePanic(n int) {
	panicking := n > 0 && float64(p.ejected)*100 > p.opts.PanicThreshold*float64(n)
	if panicking == p.panicking.Load() {
		return
	}
	p.panicking.Store(panicking)
	if panicking {
		p.panicActivations.Add(1)
		p.log.Warn("panic mode: too many endpoints ejected, ignoring ejection", "ejected", p.ejected, "endpoints", n)
		return
	}
	p.log.Info("panic mode over", "ejected", p.ejected, "endpoints", n)
}

// AcquireAvoiding is Acquire among the endpoints avoid does not name,
// for a call's retry: it goes to an endpoint the call has not tried.
// Unlike Acquire it never fails open to an ejected endpoint (outside
// panic mode): a retry sent there would only fail again. ErrNoEndpoint
// when no other endpoint may take the call.
func (p *Pool) AcquireAvoiding(avoid func(addr string) bool) (*Call, error) {
	for range 3 {
		now := p.nanos()
		set := p.set.Load()
		i, ok := set.pickAvoidingAt(now, avoid)
		if !ok {
			return nil, ErrNoEndpoint
		}
		if c, err := set.eps[i].startAt(now); err == nil {
			return c, nil
		}
	}
	return nil, ErrNoEndpoint
}

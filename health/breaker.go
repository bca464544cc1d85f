package health

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Sentinels handed to gobreaker's done callback: it only sees errors.
var (
	errFailed  = errors.New("health: call failed")
	errIgnored = errors.New("health: call ignored")
)

// CircuitBreaker is the gobreaker-backed Breaker. gobreaker counts calls
// and runs the closed / open / half-open machine; the length of each
// ejection is ours, measured on the injected clock, so that it can grow
// with repeated ejections and tests can drive it. gobreaker's own open
// timeout is set to a nanosecond, so it is ready to go half-open as soon as
// our gate lets the next call through.
type CircuitBreaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	opts     BreakerOptions
	now      Clock
	epoch    time.Time
	rnd      func() float64
	onChange func(from, to State)

	state     atomic.Int32 // gobreaker's state, mirrored as our State
	openUntil atomic.Int64 // nanoseconds since epoch
	ejections atomic.Uint64
	timeout   atomic.Int64 // length of the current or last ejection

	// Touched only from gobreaker's state-change callback, which runs
	// under gobreaker's lock.
	streak     int
	lastClosed time.Duration
}

var _ Breaker = (*CircuitBreaker)(nil) // API check

// NewBreaker returns a breaker for one endpoint. rnd returns numbers in
// [0, 1) for the jitter; onChange, if not nil, hears every transition and
// must not call back into the breaker.
func NewBreaker(o BreakerOptions, clock Clock, rnd func() float64, onChange func(from, to State)) *CircuitBreaker {
	o = o.WithDefaults()
	b := &CircuitBreaker{opts: o, now: clock, epoch: clock(), rnd: rnd, onChange: onChange, lastClosed: -1}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		MaxRequests:   o.Probes,
		Interval:      o.Window,
		Timeout:       time.Nanosecond,
		ReadyToTrip:   b.readyToTrip,
		OnStateChange: func(_ string, from, to gobreaker.State) { b.transition(from, to) },
		IsExcluded:    func(err error) bool { return errors.Is(err, errIgnored) },
	})
	return b
}

func (b *CircuitBreaker) readyToTrip(c gobreaker.Counts) bool {
	if c.ConsecutiveFailures >= b.opts.ConsecutiveFailures {
		return true
	}
	r := b.opts.FailureRatio
	return r > 0 && c.Requests >= b.opts.MinRequests && float64(c.TotalFailures) >= r*float64(c.Requests)
}

// Allow admits a call unless the endpoint is ejected or its probes are
// all in flight.
func (b *CircuitBreaker) Allow() (func(Verdict), error) {
	if b.State() == Open {
		return nil, ErrOpen
	}
	done, err := b.cb.Allow()
	if err != nil {
		return nil, ErrOpen
	}
	return func(v Verdict) {
		switch v {
		case Success:
			done(nil)
		case Failure:
			done(errFailed)
		default:
			done(errIgnored)
		}
	}, nil
}

// State reports the position without locking: Open until the ejection
// time has passed on our clock, HalfOpen after that until probes succeed.
func (b *CircuitBreaker) State() State {
	s := State(b.state.Load())
	if s == Closed {
		return Closed
	}
	if b.since() < time.Duration(b.openUntil.Load()) {
		return Open
	}
	return HalfOpen
}

// Ejections counts how many times the endpoint was ejected, re-ejections
// after a failed probe included.
func (b *CircuitBreaker) Ejections() uint64 { return b.ejections.Load() }

// Timeout is the length of the current (or last) ejection.
func (b *CircuitBreaker) Timeout() time.Duration { return time.Duration(b.timeout.Load()) }

func (b *CircuitBreaker) since() time.Duration { return b.now().Sub(b.epoch) }

func (b *CircuitBreaker) transition(from, to gobreaker.State) {
	now := b.since()
	switch to {
	case gobreaker.StateOpen:
		d := b.nextTimeout(now, from == gobreaker.StateClosed)
		b.timeout.Store(int64(d))
		b.openUntil.Store(int64(now + d))
		b.ejections.Add(1)
		b.state.Store(int32(Open))
	case gobreaker.StateHalfOpen:
		b.state.Store(int32(HalfOpen))
	default:
		b.lastClosed = now
		b.state.Store(int32(Closed))
	}
	if b.onChange != nil {
		b.onChange(mapState(from), mapState(to))
	}
}

// nextTimeout doubles the ejection time for each ejection in a row (a
// failed probe, or a trip soon after recovering), caps it, and spreads it by ±DefaultJitter so endpoints ejected together do
// not come back together.
func (b *CircuitBreaker) nextTimeout(now time.Duration, fromClosed bool) time.Duration {
	if fromClosed && b.lastClosed >= 0 && now-b.lastClosed >= b.opts.MaxTimeout {
		b.streak = 0
	}
	b.streak++
	d := b.opts.Timeout
	for i := 1; i < b.streak && d < b.opts.MaxTimeout; i++ {
		d *= 2
	}
	d = min(d, b.opts.MaxTimeout)
	return time.Duration(float64(d) * (1 + DefaultJitter*(2*b.rnd()-1)))
}

func mapState(s gobreaker.State) State {
	switch s {
	case gobreaker.StateOpen:
		return Open
	case gobreaker.StateHalfOpen:
		return HalfOpen
	default:
		return Closed
	}
}

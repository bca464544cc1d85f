package sim

import (
	"container/heap"
	"time"
)

// Calls is how each call is sent: one attempt (the zero value), or
// retried or hedged with gRPC's policies (gRFC A6), under a retry budget.
// Every failure in the simulator is a node's (refused, or lost with the
// node), so every failed attempt is retryable.
type Calls struct {
	// Name names the way in the results.
	Name   string
	Retry  *Retry
	Hedge  *Hedge
	Budget *Budget
	// Seed draws the extra attempts' service times and backoffs.
	Seed uint64
}

// Retry sends a failed call again after a backoff, on a node it has not
// tried while one remains, MaxAttempts times in all.
type Retry struct {
	// MaxAttempts counts the first attempt.
	MaxAttempts int
	// Retry n waits a random time below
	// min(InitialBackoff·Multiplier^(n-1), MaxBackoff).
	InitialBackoff, MaxBackoff time.Duration
	Multiplier                 float64
}

// Hedge sends another attempt of a call every Delay while none has
// succeeded, each on a node the call has not tried while one remains,
// MaxAttempts in all; a failed attempt sends the next one at once. The
// first success wins and the others are cancelled.
type Hedge struct {
	MaxAttempts int
	Delay       time.Duration
}

// Budget bounds retries and hedges together, as the relay's retry
// budget: over the last budgetWindow seconds, at most Ratio of the calls
// plus PerSecond for each second of the window. One over budget is not
// sent; the call fails as it would have without it.
type Budget struct {
	Ratio, PerSecond float64
}

// call is one request's progress through its attempts.
type call struct {
	at       time.Duration
	attempts int
	tried    []int
	running  []*attempt
	// waiting: a retry or hedge is due (a timer of generation gen).
	waiting bool
	gen     int
	// stopped: no more hedges (over budget, or no node).
	stopped bool
	done    bool
}

// attempt is one try of a call on one node, admitted for [start, end).
type attempt struct {
	call       *call
	node       int
	tok        any
	fail       bool
	start, end time.Duration
	cancelled  bool
}

// failed decides at t what c does after a failed attempt: a retry after
// a backoff, or the next hedge at once.
func (r *runner) failed(c *call, t time.Duration) {
	switch {
	case r.c.Hedge != nil:
		if !c.stopped && c.attempts < r.c.Hedge.MaxAttempts {
			r.hedge(c, t)
		}
	case r.c.Retry != nil && c.attempts < r.c.Retry.MaxAttempts:
		if !r.budget.withdraw(t) {
			r.denied++
			return
		}
		r.wait(c, t+r.backoff(c.attempts))
	}
}

// backoff is the wait before retry n (1 for the first).
func (r *runner) backoff(n int) time.Duration {
	p := r.c.Retry
	d := float64(p.InitialBackoff)
	for range n - 1 {
		d *= p.Multiplier
	}
	return time.Duration(r.rnd.Float64() * min(d, float64(p.MaxBackoff)))
}

// wait schedules c's next retry or hedge at t.
func (r *runner) wait(c *call, t time.Duration) {
	c.waiting = true
	heap.Push(&r.due, timer{at: t, call: c, gen: c.gen})
}

// fire sends the retry or hedge a timer was set for, unless the call is
// over or the timer was replaced.
func (r *runner) fire(tm timer) {
	c := tm.call
	if c.done || tm.gen != c.gen {
		return
	}
	*r.now = tm.at
	if r.c.Hedge != nil {
		r.hedge(c, tm.at)
		return
	}
	c.waiting = false
	if !r.send(c, tm.at, r.rnd.NormFloat64(), true) {
		r.finish(c, tm.at, c.tried[len(c.tried)-1], true)
	}
}

// hedge sends c's next hedge at t, if the budget allows, and schedules
// the one after; a hedge sent early replaces the one scheduled.
func (r *runner) hedge(c *call, t time.Duration) {
	c.waiting = false
	c.gen++
	if !r.budget.withdraw(t) {
		r.denied++
		c.stopped = true
		return
	}
	if !r.send(c, t, r.rnd.NormFloat64(), true) {
		c.stopped = true
		return
	}
	if c.attempts < r.c.Hedge.MaxAttempts {
		r.wait(c, t+r.c.Hedge.Delay)
	}
}

// completion is when an attempt ends.
type completion struct {
	at time.Duration
	a  *attempt
}

func (c completion) when() time.Duration { return c.at }

// timer is when a call's retry or hedge is due.
type timer struct {
	at   time.Duration
	call *call
	gen  int
}

func (t timer) when() time.Duration { return t.at }

// agenda is a min-heap (container/heap) of events by their time.
type agenda[T interface{ when() time.Duration }] []T

func (a agenda[T]) Len() int           { return len(a) }
func (a agenda[T]) Less(i, j int) bool { return a[i].when() < a[j].when() }
func (a agenda[T]) Swap(i, j int)      { a[i], a[j] = a[j], a[i] }
func (a *agenda[T]) Push(x any)        { *a = append(*a, x.(T)) }
func (a *agenda[T]) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

package lb

import (
	"errors"

	"github.com/straitproxy/strait/health"
	"math/rand/v2"
	"sync"
	"time"
)

// fakeClock is advanced by hand so no test waits on real time. Safe for
// concurrent use (breakers read it from callbacks).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seeded returns a deterministic source, not safe for concurrent use.
func seeded(seed uint64) func() uint64 {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Uint64
}

// newTestPool builds a pool on a fake clock with a seeded source and no
// slow start unless opts asks for one.
func newTestPool(o Options, addrs ...string) (*Pool, *fakeClock) {
	clk := newClock()
	if o.SlowStart == 0 {
		o.SlowStart = time.Nanosecond
	}
	p := NewPool("test", o, WithClock(clk.now), WithRand(seeded(1)))
	p.Update(addrs)
	clk.advance(time.Millisecond)
	return p, clk
}

// serve runs one call on e that takes d and ends with v.
func serve(p *Pool, clk *fakeClock, e *Endpoint, d time.Duration, fail bool) {
	c, err := e.Start()
	if err != nil {
		return
	}
	clk.advance(d)
	if fail {
		c.End(health.Failure, errors.New("test failure"))
		return
	}
	c.End(health.Success, nil)
}

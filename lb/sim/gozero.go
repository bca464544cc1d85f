package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// go-zero's p2c constants (zrpc/internal/balancer/p2c).
const (
	gzDecay        = 10 * time.Second
	gzForcePick    = time.Second
	gzInitSuccess  = 1000
	gzThrottle     = gzInitSuccess / 2
	gzPenalty      = math.MaxInt32
	gzPickAttempts = 3
)

// GoZero models go-zero's p2c: load = √(EWMA latency) × (in-flight+1),
// a success-rate EWMA below half makes a node a poor candidate, a node not
// picked for a second is forced, and every rebuild of the picker (any
// membership change) starts all statistics over.
type GoZero struct {
	conns []*gzConn
	r     *rand.Rand
}

type gzConn struct {
	node     int
	lag      float64 // nanoseconds
	success  float64
	inflight int
	last     time.Duration // last response
	pick     time.Duration // last time picked
}

type gzCall struct {
	c     *gzConn
	start time.Duration
}

// NewGoZero returns the policy drawing from seed.
func NewGoZero(seed uint64) *GoZero { return &GoZero{r: newRand(seed)} }

// Name implements Policy.
func (*GoZero) Name() string { return "go-zero p2c" }

// Update implements Policy: a new picker with fresh statistics, as go-zero
// builds on every change of the ready set.
func (p *GoZero) Update(nodes []int, now time.Duration) {
	p.conns = p.conns[:0]
	for _, n := range nodes {
		p.conns = append(p.conns, &gzConn{node: n, success: gzInitSuccess, last: now})
	}
}

// Pick implements Policy.
func (p *GoZero) Pick(now time.Duration) (int, any, bool) {
	var c *gzConn
	switch n := len(p.conns); n {
	case 0:
		return 0, nil, false
	case 1:
		c = p.choose(p.conns[0], nil, now)
	case 2:
		c = p.choose(p.conns[0], p.conns[1], now)
	default:
		var a, b *gzConn
		for range gzPickAttempts {
			i := p.r.IntN(n)
			j := p.r.IntN(n - 1)
			if j >= i {
				j++
			}
			a, b = p.conns[i], p.conns[j]
			if a.healthy() && b.healthy() {
				break
			}
		}
		c = p.choose(a, b, now)
	}
	c.inflight++
	return c.node, &gzCall{c: c, start: now}, true
}

func (p *GoZero) choose(a, b *gzConn, now time.Duration) *gzConn {
	if b == nil {
		a.pick = now
		return a
	}
	if a.load() > b.load() {
		a, b = b, a
	}
	if now-b.pick > gzForcePick {
		b.pick = now
		return b
	}
	a.pick = now
	return a
}

func (c *gzConn) healthy() bool { return c.success > gzThrottle }

func (c *gzConn) load() float64 {
	l := math.Floor(math.Sqrt(c.lag+1)) * float64(c.inflight+1)
	if l == 0 {
		return gzPenalty
	}
	return l
}

// Done implements Policy.
func (p *GoZero) Done(tok any, now time.Duration, fail bool) {
	call := tok.(*gzCall)
	c := call.c
	c.inflight--
	td := max(0, now-c.last)
	c.last = now
	w := math.Exp(-float64(td) / float64(gzDecay))
	if c.lag == 0 {
		w = 0
	}
	c.lag = c.lag*w + float64(now-call.start)*(1-w)
	success := float64(gzInitSuccess)
	if fail {
		success = 0
	}
	c.success = c.success*w + success*(1-w)
}

package lb

import (
	"github.com/straitproxy/strait/health"
)

// Update makes addrs the pool's members and returns the new Set, whose
// endpoints are in the order of addrs (duplicates dropped). Endpoints seen
// before keep their statistics and breaker; a new one starts from the
// average estimate of the current members (Options.Prior if none) and
// ramps up over Options.SlowStart. Removed endpoints are kept for
// Options.Grace.
func (p *Pool) Update(addrs []string) *Set {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.nanos()
	prior := p.averageEstimate(now)
	want := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		want[a] = true
	}
	for _, e := range p.set.Load().eps {
		if !want[e.addr] {
			p.leave(e, now)
		}
	}
	eps := make([]*Endpoint, 0, len(want))
	for _, a := range addrs {
		e := p.byAddr[a]
		if e == nil {
			e = p.newEndpoint(a, prior, now)
		}
		if !e.member {
			p.join(e, now)
			eps = append(eps, e)
		} else if want[a] {
			eps = append(eps, e)
		}
		want[a] = false // drops duplicates
	}
	p.purge(now)
	s := &Set{pool: p, eps: eps}
	p.set.Store(s)
	p.judgePanic(len(eps))
	return s
}

func (p *Pool) newEndpoint(addr string, prior float64, now int64) *Endpoint {
	e := &Endpoint{addr: addr, pool: p}
	e.failedAt.Store(noFailure)
	e.meter.reset(prior, now)
	e.breaker = health.NewBreaker(p.opts.Breaker, p.clock, p.float64, e.onBreaker)
	p.byAddr[addr] = e
	return e
}

func (p *Pool) join(e *Endpoint, now int64) {
	e.member = true
	e.joined.Store(now)
	if e.out() {
		p.ejected++
	}
}

func (p *Pool) leave(e *Endpoint, now int64) {
	e.member = false
	e.removedAt = now
	if e.out() {
		p.ejected--
	}
}

// purge forgets endpoints that stayed out longer than the grace period.
func (p *Pool) purge(now int64) {
	for a, e := range p.byAddr {
		if !e.member && now-e.removedAt > int64(p.opts.Grace) {
			delete(p.byAddr, a)
		}
	}
}

func (p *Pool) averageEstimate(now int64) float64 {
	eps := p.set.Load().eps
	if len(eps) == 0 {
		return float64(p.opts.Prior)
	}
	sum := 0.0
	for _, e := range eps {
		sum += e.meter.value(now, p.tau)
	}
	return sum / float64(len(eps))
}

// float64 draws from the pool's source, for breaker jitter.
func (p *Pool) float64() float64 {
	return float64(p.rnd()>>11) / (1 << 53)
}

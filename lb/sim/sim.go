// Package sim is a deterministic, seeded discrete-event simulator that
// replays one Request stream against several balancing policies (round
// robin, least Request, a go-zero-style p2c and strait's lb.Pool) in
// scenarios with slow, failing, dying, spiking and joining nodes, and
// reports latency percentiles, error rates and traffic shares.
//
// Every policy sees the same arrivals and the same per-Request latency
// draws; a node's latency does not depend on its load (gRPC backends serve
// calls concurrently), so the differences come from the choices alone.
package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"
)

// Scenario describes the cluster and its trouble.
type Scenario struct {
	Name     string
	Nodes    int
	Duration time.Duration
	Rate     float64 // requests per second, Poisson arrivals
	// Serve returns how long a Request to node arriving at t takes and
	// whether it fails; z is the Request's standard normal draw.
	Serve func(node int, t time.Duration, z float64) (time.Duration, bool)
	// Members lists membership changes in time order; the first entry
	// (at 0) is the initial set.
	Members []Change
	// Settle is when the trouble should be handled; errors and shares
	// are also reported for requests arriving after it.
	Settle time.Duration
}

// Change sets the members from At on.
type Change struct {
	At    time.Duration
	Nodes []int
}

// Policy is a balancer under test. Calls come from one goroutine.
type Policy interface {
	Name() string
	Update(nodes []int, now time.Duration)
	// Pick chooses a node; tok is handed back to Done.
	Pick(now time.Duration) (node int, tok any, ok bool)
	Done(tok any, now time.Duration, fail bool)
}

// Request is one arrival: its time and its latency draw.
type Request struct {
	at time.Duration
	z  float64
}

// Stream draws the arrivals of a scenario from seed.
func Stream(s Scenario, seed uint64) []Request {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var out []Request
	for t := time.Duration(0); ; {
		t += time.Duration(r.ExpFloat64() / s.Rate * float64(time.Second))
		if t >= s.Duration {
			return out
		}
		out = append(out, Request{at: t, z: r.NormFloat64()})
	}
}

type completion struct {
	at   time.Duration
	tok  any
	fail bool
}

type completions []completion

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].at < c[j].at }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// Run replays stream against p and measures the outcome. now is set
// before every call into p, for policies that read a clock.
func Run(s Scenario, stream []Request, p Policy, now *time.Duration) Result {
	var pending completions
	rec := newRecorder(s)
	members := s.Members
	flush := func(until time.Duration) {
		for pending.Len() > 0 && pending[0].at <= until {
			c := heap.Pop(&pending).(completion)
			*now = c.at
			p.Done(c.tok, c.at, c.fail)
		}
	}
	for _, req := range stream {
		for len(members) > 0 && members[0].At <= req.at {
			flush(members[0].At)
			*now = members[0].At
			p.Update(members[0].Nodes, *now)
			members = members[1:]
		}
		flush(req.at)
		*now = req.at
		node, tok, ok := p.Pick(req.at)
		if !ok {
			rec.add(req.at, -1, 0, true)
			continue
		}
		lat, fail := s.Serve(node, req.at, req.z)
		rec.add(req.at, node, lat, fail)
		heap.Push(&pending, completion{at: req.at + lat, tok: tok, fail: fail})
	}
	flush(time.Duration(math.MaxInt64))
	return rec.result(p.Name())
}

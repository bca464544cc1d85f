package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Run replays stream against p, one attempt per call, and measures the
// outcome. now is set before every call into p, for policies that read a
// clock.
func Run(s Scenario, stream []Request, p Policy, now *time.Duration) Result {
	return run(s, stream, p, nil, Calls{}, now)
}

// RunCalls is Run with each call sent as c says: retried or hedged, on
// nodes p picks among those the call has not tried while one remains.
func RunCalls(s Scenario, stream []Request, p Retrier, c Calls, now *time.Duration) Result {
	if c.Retry != nil && c.Hedge != nil {
		panic("sim: a call is retried or hedged, not both")
	}
	return run(s, stream, p, p, c, now)
}

// runner is one replay: the arrivals in order and, between them, the
// attempts' ends and the retries and hedges falling due, in time order
// (ends first at the same instant).
type runner struct {
	s      Scenario
	p      Policy
	rt     Retrier // p, when calls may take more than one attempt
	c      Calls
	now    *time.Duration
	rec    *recorder
	nodes  []*server
	total  int // attempts in flight in the cluster
	ends   agenda[completion]
	due    agenda[timer]
	budget *budget
	rnd    *rand.Rand // extra attempts' service draws, backoff jitter
	// attempts counts every attempt sent; denied the retries and hedges
	// the budget refused.
	attempts, denied int
}

func run(s Scenario, stream []Request, p Policy, rt Retrier, c Calls, now *time.Duration) Result {
	r := &runner{s: s, p: p, rt: rt, c: c, now: now, rec: newRecorder(s), nodes: newServers(s),
		budget: newBudget(c.Budget), rnd: newRand(c.Seed)}
	members := s.Members
	for _, req := range stream {
		for len(members) > 0 && members[0].At <= req.at {
			r.advance(members[0].At)
			*now = members[0].At
			p.Update(members[0].Nodes, *now)
			members = members[1:]
		}
		r.advance(req.at)
		*now = req.at
		r.arrive(req)
	}
	r.advance(time.Duration(math.MaxInt64))
	res := r.rec.result(p.Name())
	res.Calls = c.Name
	res.Attempts = ratio(r.attempts, len(stream))
	res.Denied = r.denied
	return res
}

// advance handles every event due by until.
func (r *runner) advance(until time.Duration) {
	for {
		end := r.ends.Len() > 0 && r.ends[0].at <= until
		due := r.due.Len() > 0 && r.due[0].at <= until
		switch {
		case end && (!due || r.ends[0].at <= r.due[0].at):
			r.end(heap.Pop(&r.ends).(completion))
		case due:
			r.fire(heap.Pop(&r.due).(timer))
		default:
			return
		}
	}
}

// arrive sends a call's first attempt, and schedules its first hedge.
func (r *runner) arrive(req Request) {
	c := &call{at: req.at}
	r.budget.deposit(req.at)
	if !r.send(c, req.at, req.z, false) {
		r.rec.add(req.at, -1, 0, true)
		return
	}
	if h := r.c.Hedge; h != nil && h.MaxAttempts > 1 {
		r.wait(c, req.at+h.Delay)
	}
}

// send starts an attempt of c at t with service draw z, on a node c has
// not tried if avoid and one remains; false when no node takes it.
func (r *runner) send(c *call, t time.Duration, z float64, avoid bool) bool {
	node, tok, ok := r.pick(c, t, avoid)
	if !ok {
		return false
	}
	service, fail := r.s.Serve(node, t, z)
	r.total++
	start, end := r.nodes[node].admit(t, service)
	a := &attempt{call: c, node: node, tok: tok, fail: fail, start: start, end: end}
	c.attempts++
	r.attempts++
	c.tried = append(c.tried, node)
	c.running = append(c.running, a)
	heap.Push(&r.ends, completion{at: end + time.Duration(r.total)*r.s.Shared, a: a})
	return true
}

func (r *runner) pick(c *call, t time.Duration, avoid bool) (int, any, bool) {
	if avoid {
		tried := c.tried
		if node, tok, ok := r.rt.PickAvoiding(t, func(n int) bool { return slices.Contains(tried, n) }); ok {
			return node, tok, true
		}
	}
	return r.p.Pick(t)
}

// end is an attempt's end: the first success wins its call and cancels
// the call's other attempts; a failure may lead to another attempt.
func (r *runner) end(e completion) {
	a := e.a
	if a.cancelled {
		return
	}
	*r.now = e.at
	r.nodes[a.node].inflight--
	r.total--
	r.p.Done(a.tok, e.at, a.fail)
	c := a.call
	c.running = slices.DeleteFunc(c.running, func(o *attempt) bool { return o == a })
	if !a.fail {
		r.finish(c, e.at, a.node, false)
		r.cancelRest(c, e.at)
		return
	}
	r.failed(c, e.at)
	if len(c.running) == 0 && !c.waiting {
		r.finish(c, e.at, a.node, true)
	}
}

// finish records c's outcome: its latency from its arrival to t.
func (r *runner) finish(c *call, t time.Duration, node int, fail bool) {
	c.done = true
	r.rec.add(c.at, node, t-c.at, fail)
}

// cancelRest cancels the attempts of c still running at t: they free
// their nodes at once.
func (r *runner) cancelRest(c *call, t time.Duration) {
	for _, a := range c.running {
		a.cancelled = true
		r.nodes[a.node].cancel(t, a.start, a.end)
		r.total--
		r.rt.Cancel(a.tok, t)
	}
	c.running = nil
}

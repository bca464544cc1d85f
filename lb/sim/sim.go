// Package sim is a deterministic, seeded discrete-event simulator that
// replays one Request stream against several balancing policies (round
// robin, least Request, a go-zero-style p2c and strait's lb.Pool) in
// scenarios with slow, failing, dying, spiking and joining nodes, and
// reports latency percentiles, error rates and traffic shares. Calls can
// also be retried or hedged, as gRPC's policies say (gRFC A6), under a
// retry budget as the relay's (RunCalls).
//
// Every policy sees the same arrivals and the same per-Request service
// time draws. How a node's latency depends on its load is the scenario's
// Capacity: unbounded parallelism (latency is the service time, whatever
// the load), c workers serving in arrival order (M/G/c: a call waits for
// a free worker), or a service time that stretches once more than a knee
// of calls are in flight.
package sim

import (
	"container/heap"
	"math/rand/v2"
	"time"
)

// Scenario describes the cluster and its trouble.
type Scenario struct {
	Name     string
	Level    Level
	Nodes    int
	Duration time.Duration
	Rate     float64 // requests per second, Poisson arrivals
	// Serve returns the service time of a Request to node arriving at t
	// and whether it fails; z is the Request's standard normal draw.
	Serve func(node int, t time.Duration, z float64) (time.Duration, bool)
	// Capacity is how each node's latency depends on its load; nil or a
	// zero Capacity is unbounded parallelism.
	Capacity []Capacity
	// Shared is a delay every call pays per call in flight in the whole
	// cluster when it arrives (a proxy or client short of CPU): it adds
	// the same queueing to every node's latency.
	Shared time.Duration
	// Members lists membership changes in time order; the first entry
	// (at 0) is the initial set.
	Members []Change
	// Settle is when the trouble should be handled; errors and shares
	// are also reported for requests arriving after it.
	Settle time.Duration
}

// Capacity is how a node's latency depends on the calls it serves at
// once. The zero value is unbounded parallelism: latency is the service
// time whatever the load (a gRPC backend with cores to spare).
type Capacity struct {
	// Workers > 0 serves calls in arrival order on that many workers: a
	// call that finds them all busy waits for the first one free (M/G/c).
	Workers int
	// Knee > 0 stretches a call's service time by (in flight)/Knee when it
	// arrives to find more than Knee calls in flight (itself included):
	// latency climbs with the load, as on a node short of CPU.
	Knee int
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

// Retrier is a Policy that can place a call's retries and hedges: it
// picks among the nodes avoid does not name (ok is false when none of
// them may take the call) and hears of an attempt cancelled because
// another attempt of its call won.
type Retrier interface {
	Policy
	PickAvoiding(now time.Duration, avoid func(node int) bool) (node int, tok any, ok bool)
	Cancel(tok any, now time.Duration)
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

// server is one node's load during a Run.
type server struct {
	Capacity
	inflight int
	free     durations // when each worker is next free (Workers > 0)
}

func newServers(s Scenario) []*server {
	out := make([]*server, s.Nodes)
	for i := range out {
		out[i] = &server{}
		if i < len(s.Capacity) {
			out[i].Capacity = s.Capacity[i]
		}
		out[i].free = make(durations, out[i].Workers)
	}
	return out
}

// admit takes a call arriving at t that needs service: its service
// starts at start (later than t when it waits for a worker) and ends at
// end, stretched when the node is past its knee.
func (n *server) admit(t, service time.Duration) (start, end time.Duration) {
	n.inflight++
	if n.Knee > 0 && n.inflight > n.Knee {
		service = time.Duration(float64(service) * float64(n.inflight) / float64(n.Knee))
	}
	if n.Workers == 0 {
		return t, t + service
	}
	start = max(t, n.free[0]) // the worker free first takes the call
	n.free[0] = start + service
	heap.Fix(&n.free, 0)
	return start, start + service
}

// cancel takes back at t a call admitted for [start, end): it no longer
// counts in flight, and its worker is free from t (or from start, if it
// had not begun) unless a later call is already booked on that worker,
// whose start stays as it was admitted.
func (n *server) cancel(t, start, end time.Duration) {
	n.inflight--
	for i, f := range n.free {
		if f == end {
			n.free[i] = max(t, start)
			heap.Fix(&n.free, i)
			return
		}
	}
}

// durations is a min-heap of times.
type durations []time.Duration

func (d durations) Len() int           { return len(d) }
func (d durations) Less(i, j int) bool { return d[i] < d[j] }
func (d durations) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *durations) Push(x any)        { *d = append(*d, x.(time.Duration)) }
func (d *durations) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}

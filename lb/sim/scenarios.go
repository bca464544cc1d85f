package sim

import (
	"math"
	"time"
)

// Common shape of the scenarios: five nodes, a log-normal service time
// (p99 ≈ 1.8× median) around the level's median, the level's request rate
// for 30 seconds; node 4 is the one in trouble.
const (
	nodes    = 5
	spread   = 0.25
	duration = 30 * time.Second
	troubled = nodes - 1
	// refused is how long a call to a dead node takes to fail.
	refused = time.Millisecond
)

// Level is how much load the scenarios run at: the median service time
// and the request rate, hence the calls in flight per node.
type Level struct {
	Name string
	Base time.Duration // median service time
	Rate float64       // requests per second
}

// Low and High are the two levels of the README table: about 2 and about
// 50 calls in flight per node when the load spreads evenly.
var (
	Low  = Level{Name: "low", Base: 10 * time.Millisecond, Rate: 1000}
	High = Level{Name: "high", Base: 50 * time.Millisecond, Rate: 5000}
)

// PerNode is how many calls a node has in flight when the load spreads
// evenly over five nodes.
func (l Level) PerNode() float64 { return l.Rate * l.Base.Seconds() / nodes }

func jitter(d time.Duration, z float64) time.Duration {
	return time.Duration(float64(d) * math.Exp(spread*z))
}

func allNodes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func scenario(name string, l Level, serve func(int, time.Duration, float64) (time.Duration, bool)) Scenario {
	return Scenario{Name: name, Level: l, Nodes: nodes, Duration: duration, Rate: l.Rate, Serve: serve,
		Members: []Change{{At: 0, Nodes: allNodes(nodes)}}}
}

// AllEqual: every node alike.
func AllEqual(l Level) Scenario {
	return scenario("all equal", l, func(_ int, _ time.Duration, z float64) (time.Duration, bool) {
		return jitter(l.Base, z), false
	})
}

// OneSlow: node 4 is 10× slower.
func OneSlow(l Level) Scenario {
	return scenario("one node 10× slower", l, func(n int, _ time.Duration, z float64) (time.Duration, bool) {
		if n == troubled {
			return jitter(10*l.Base, z), false
		}
		return jitter(l.Base, z), false
	})
}

// OneFailingFast: node 4 answers every call at once with an error.
func OneFailingFast(l Level) Scenario {
	s := scenario("one node failing fast", l, func(n int, _ time.Duration, z float64) (time.Duration, bool) {
		if n == troubled {
			return refused, true
		}
		return jitter(l.Base, z), false
	})
	s.Settle = time.Second
	return s
}

// Dying and coming back: node 4 dies at 10 s (calls in flight fail, new
// ones are refused at once) and is back at 20 s, cold (3× slower) for
// its first 2 s. It stays listed, as a registry keeps a crashed node
// until its lease expires.
const (
	DiesAt    = 10 * time.Second
	ReturnsAt = 20 * time.Second
)

// DyingAndBack is the dying-node scenario.
func DyingAndBack(l Level) Scenario {
	s := scenario("one node dies at 10s, back at 20s", l, func(n int, t time.Duration, z float64) (time.Duration, bool) {
		d := jitter(l.Base, z)
		if n != troubled {
			return d, false
		}
		switch {
		case t >= DiesAt && t < ReturnsAt:
			return refused, true
		case t < DiesAt && t+d > DiesAt:
			return DiesAt - t, true
		case t >= ReturnsAt && t < ReturnsAt+2*time.Second:
			return 3 * d, false
		}
		return d, false
	})
	s.Settle = DiesAt + time.Second
	return s
}

// Spikes: node 4 is 20× slower for 300 ms every 3 s.
func Spikes(l Level) Scenario {
	return scenario("short latency spikes on one node", l, func(n int, t time.Duration, z float64) (time.Duration, bool) {
		if n == troubled && t%(3*time.Second) < 300*time.Millisecond {
			return jitter(20*l.Base, z), false
		}
		return jitter(l.Base, z), false
	})
}

// JoinsAt is when the new node joins in the Joining scenario.
const JoinsAt = 10 * time.Second

// Joining: four nodes at 2,000 requests per second; node 4 joins at 10 s
// and is cold at first: 5× slower, warming up linearly over 3 s.
func Joining(l Level) Scenario {
	s := scenario("new node joins a loaded cluster", l, func(n int, t time.Duration, z float64) (time.Duration, bool) {
		d := jitter(l.Base, z)
		if n == troubled && t-JoinsAt < 3*time.Second {
			warm := float64(t-JoinsAt) / float64(3*time.Second)
			return time.Duration(float64(d) * (5 - 4*warm)), false
		}
		return d, false
	})
	s.Rate = 2 * l.Rate
	s.Members = []Change{{At: 0, Nodes: allNodes(nodes - 1)}, {At: JoinsAt, Nodes: allNodes(nodes)}}
	return s
}

// AllBusy: every node alike with as many workers as keep it 70 % busy
// when the load spreads evenly (M/G/c): a node given more than its share
// queues calls.
func AllBusy(l Level) Scenario {
	s := AllEqual(l)
	s.Name = "all equal, workers 70 % busy"
	workers := max(1, int(math.Round(l.PerNode()/0.7)))
	s.Capacity = make([]Capacity, nodes)
	for i := range s.Capacity {
		s.Capacity[i] = Capacity{Workers: workers}
	}
	return s
}

// saturating is how many calls the troubled node of OneSaturating and
// OneClimbing takes before it slows: about 40 % of an even share.
func saturating(l Level) int { return max(1, int(math.Round(0.4*l.PerNode()))) }

// OneSaturating: node 4 has workers for 40 % of an even share of the
// calls (M/G/c); the others serve any number in parallel.
func OneSaturating(l Level) Scenario {
	s := AllEqual(l)
	s.Name = "one node saturates (workers)"
	s.Capacity = make([]Capacity, nodes)
	s.Capacity[troubled] = Capacity{Workers: saturating(l)}
	return s
}

// OneClimbing: node 4's latency climbs in proportion to its calls in
// flight beyond 40 % of an even share; the others have room.
func OneClimbing(l Level) Scenario {
	s := AllEqual(l)
	s.Name = "one node slows with its load"
	s.Capacity = make([]Capacity, nodes)
	s.Capacity[troubled] = Capacity{Knee: saturating(l)}
	return s
}

// OneSlowShared: node 4 is 10× slower, and every call also queues for a
// shared resource (a busy proxy or client) in proportion to the calls in
// flight in the cluster; at an even load that queueing is 80 % of a fast
// node's latency, so the measured latencies differ by 2.8×, not 10×.
func OneSlowShared(l Level) Scenario {
	s := OneSlow(l)
	s.Name = "one node 10× slower, shared queueing"
	s.Shared = time.Duration(0.8 / l.Rate * float64(time.Second))
	return s
}

// Scenarios lists every scenario at level l in the order of the README
// table.
func Scenarios(l Level) []Scenario {
	return []Scenario{AllEqual(l), OneSlow(l), OneSlowShared(l), AllEqualNoisy(l), OneSlowNoisy(l), OneFailingFast(l), DyingAndBack(l), Spikes(l), Joining(l),
		AllBusy(l), OneSaturating(l), OneClimbing(l)}
}

// noise is a machine's own delay on a call: exponential with a mean of
// twice the level's median service time, drawn from z's quantile. A proxy
// or client short of CPU adds such a wide, heavy-tailed delay to every
// node's latency alike, so the fast nodes' measured latencies spread far
// more than their service times.
func noise(l Level, z float64) time.Duration {
	u := 0.5 * math.Erfc(-z/math.Sqrt2)
	return time.Duration(-2 * float64(l.Base) * math.Log(max(1-u, 1e-12)))
}

// onNoisyMachine is s, named name, with every call's noise added.
func onNoisyMachine(s Scenario, name string) Scenario {
	serve, l := s.Serve, s.Level
	s.Name = name
	s.Serve = func(n int, t time.Duration, z float64) (time.Duration, bool) {
		d, fail := serve(n, t, z)
		return d + noise(l, z), fail
	}
	return s
}

// AllEqualNoisy: every node alike, on a noisy machine.
func AllEqualNoisy(l Level) Scenario { return onNoisyMachine(AllEqual(l), "all equal, noisy machine") }

// OneSlowNoisy: node 4 is 10× slower, on a noisy machine.
func OneSlowNoisy(l Level) Scenario {
	return onNoisyMachine(OneSlow(l), "one node 10× slower, noisy machine")
}

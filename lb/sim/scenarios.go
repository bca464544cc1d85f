package sim

import (
	"math"
	"time"
)

// Common shape of the scenarios: five nodes, 10 ms median latency with a
// log-normal spread (p99 ≈ 1.8× median), 1,000 requests per second for
// 30 seconds; node 4 is the one in trouble.
const (
	nodes    = 5
	base     = 10 * time.Millisecond
	spread   = 0.25
	rate     = 1000
	duration = 30 * time.Second
	troubled = nodes - 1
	// refused is how long a call to a dead node takes to fail.
	refused = time.Millisecond
)

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

func scenario(name string, serve func(int, time.Duration, float64) (time.Duration, bool)) Scenario {
	return Scenario{Name: name, Nodes: nodes, Duration: duration, Rate: rate, Serve: serve,
		Members: []Change{{At: 0, Nodes: allNodes(nodes)}}}
}

// AllEqual: every node alike.
func AllEqual() Scenario {
	return scenario("all equal", func(_ int, _ time.Duration, z float64) (time.Duration, bool) {
		return jitter(base, z), false
	})
}

// OneSlow: node 4 is 10× slower.
func OneSlow() Scenario {
	return scenario("one node 10× slower", func(n int, _ time.Duration, z float64) (time.Duration, bool) {
		if n == troubled {
			return jitter(10*base, z), false
		}
		return jitter(base, z), false
	})
}

// OneFailingFast: node 4 answers every call at once with an error.
func OneFailingFast() Scenario {
	s := scenario("one node failing fast", func(n int, _ time.Duration, z float64) (time.Duration, bool) {
		if n == troubled {
			return refused, true
		}
		return jitter(base, z), false
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
func DyingAndBack() Scenario {
	s := scenario("one node dies at 10s, back at 20s", func(n int, t time.Duration, z float64) (time.Duration, bool) {
		d := jitter(base, z)
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
func Spikes() Scenario {
	return scenario("short latency spikes on one node", func(n int, t time.Duration, z float64) (time.Duration, bool) {
		if n == troubled && t%(3*time.Second) < 300*time.Millisecond {
			return jitter(20*base, z), false
		}
		return jitter(base, z), false
	})
}

// JoinsAt is when the new node joins in the Joining scenario.
const JoinsAt = 10 * time.Second

// Joining: four nodes at 2,000 requests per second; node 4 joins at 10 s
// and is cold at first: 5× slower, warming up linearly over 3 s.
func Joining() Scenario {
	s := scenario("new node joins a loaded cluster", func(n int, t time.Duration, z float64) (time.Duration, bool) {
		d := jitter(base, z)
		if n == troubled && t-JoinsAt < 3*time.Second {
			warm := float64(t-JoinsAt) / float64(3*time.Second)
			return time.Duration(float64(d) * (5 - 4*warm)), false
		}
		return d, false
	})
	s.Rate = 2 * rate
	s.Members = []Change{{At: 0, Nodes: allNodes(nodes - 1)}, {At: JoinsAt, Nodes: allNodes(nodes)}}
	return s
}

// Scenarios lists every scenario in the order of the README table.
func Scenarios() []Scenario {
	return []Scenario{AllEqual(), OneSlow(), OneFailingFast(), DyingAndBack(), Spikes(), Joining()}
}

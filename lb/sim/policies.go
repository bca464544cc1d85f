package sim

import (
	"math/rand/v2"
	"time"
)

// newRand is a seeded source for a policy's random choices.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0xba1a)) }

// RoundRobin cycles through the members.
type RoundRobin struct {
	nodes []int
	next  int
}

// Name implements Policy.
func (*RoundRobin) Name() string { return "round_robin" }

// Update implements Policy.
func (p *RoundRobin) Update(nodes []int, _ time.Duration) { p.nodes = nodes }

// Pick implements Policy.
func (p *RoundRobin) Pick(time.Duration) (int, any, bool) {
	if len(p.nodes) == 0 {
		return 0, nil, false
	}
	n := p.nodes[p.next%len(p.nodes)]
	p.next++
	return n, nil, true
}

// PickAvoiding implements Retrier: the next member in turn that avoid
// does not name.
func (p *RoundRobin) PickAvoiding(_ time.Duration, avoid func(int) bool) (int, any, bool) {
	for i := range p.nodes {
		if n := p.nodes[(p.next+i)%len(p.nodes)]; !avoid(n) {
			p.next += i + 1
			return n, nil, true
		}
	}
	return 0, nil, false
}

// Done implements Policy.
func (*RoundRobin) Done(any, time.Duration, bool) {}

// Cancel implements Retrier.
func (*RoundRobin) Cancel(any, time.Duration) {}

// LeastRequest is grpc-go's least_request: two random members, the one
// with fewer calls in flight wins.
type LeastRequest struct {
	nodes    []int
	inflight map[int]int
	r        *rand.Rand
}

// NewLeastRequest returns the policy drawing from seed.
func NewLeastRequest(seed uint64) *LeastRequest {
	return &LeastRequest{inflight: map[int]int{}, r: newRand(seed)}
}

// Name implements Policy.
func (*LeastRequest) Name() string { return "least_request" }

// Update implements Policy.
func (p *LeastRequest) Update(nodes []int, _ time.Duration) { p.nodes = nodes }

// Pick implements Policy.
func (p *LeastRequest) Pick(time.Duration) (int, any, bool) {
	if len(p.nodes) == 0 {
		return 0, nil, false
	}
	a, b := p.nodes[p.r.IntN(len(p.nodes))], p.nodes[p.r.IntN(len(p.nodes))]
	if p.inflight[b] < p.inflight[a] {
		a = b
	}
	p.inflight[a]++
	return a, a, true
}

// Done implements Policy.
func (p *LeastRequest) Done(tok any, _ time.Duration, _ bool) { p.inflight[tok.(int)]-- }

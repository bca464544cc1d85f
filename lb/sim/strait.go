package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/lb"
)

// Strait drives an lb.Pool on the simulated clock.
type Strait struct {
	pool  *lb.Pool
	addrs []string
	node  map[string]int
}

var errFailed = errors.New("sim: request failed")

// epoch is where the simulated clock starts.
var epoch = time.Unix(1_000_000, 0)

// NewStrait builds a pool with options o reading the simulated time from
// *now and drawing from seed.
func NewStrait(o lb.Options, now *time.Duration, seed uint64, nodes int) *Strait {
	clock := func() time.Time { return epoch.Add(*now) }
	p := lb.NewPool("sim", o, lb.WithClock(clock), lb.WithRand(newRand(seed).Uint64),
		lb.WithLogger(slog.New(slog.DiscardHandler)))
	s := &Strait{pool: p, addrs: make([]string, nodes), node: make(map[string]int, nodes)}
	for i := range s.addrs {
		s.addrs[i] = fmt.Sprintf("node%d", i)
		s.node[s.addrs[i]] = i
	}
	return s
}

// Name implements Policy.
func (*Strait) Name() string { return "strait p2c_ewma" }

// Update implements Policy.
func (s *Strait) Update(nodes []int, _ time.Duration) {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = s.addrs[n]
	}
	s.pool.Update(addrs)
}

// Pick implements Policy.
func (s *Strait) Pick(time.Duration) (int, any, bool) {
	c, err := s.pool.Acquire()
	if err != nil {
		return 0, nil, false
	}
	return s.node[c.Endpoint().Addr()], c, true
}

// PickAvoiding implements Retrier with the pool's pick for retries.
func (s *Strait) PickAvoiding(_ time.Duration, avoid func(int) bool) (int, any, bool) {
	c, err := s.pool.AcquireAvoiding(func(addr string) bool { return avoid(s.node[addr]) })
	if err != nil {
		return 0, nil, false
	}
	return s.node[c.Endpoint().Addr()], c, true
}

// Cancel implements Retrier: a cancelled attempt says nothing of its
// endpoint's health, but its time so far is a lower bound on the
// endpoint's latency.
func (*Strait) Cancel(tok any, _ time.Duration) {
	c := tok.(*lb.Call)
	c.FirstResponse()
	c.End(health.Ignore, nil)
}

// Done implements Policy.
func (s *Strait) Done(tok any, _ time.Duration, fail bool) {
	if fail {
		tok.(*lb.Call).End(health.Failure, errFailed)
		return
	}
	tok.(*lb.Call).End(health.Success, nil)
}

// Pool exposes the pool, for assertions on panic mode and ejections.
func (s *Strait) Pool() *lb.Pool { return s.pool }

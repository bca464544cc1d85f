package lb

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/health"
)

// share picks n times, serving each call with latency(e) at once, and
// returns how many picks each address got.
func share(p *Pool, clk *fakeClock, n int, latency func(*Endpoint) time.Duration) map[string]int {
	got := map[string]int{}
	for range n {
		e, ok := p.Pick()
		if !ok {
			return got
		}
		got[e.Addr()]++
		serve(p, clk, e, latency(e), false)
		clk.advance(time.Millisecond)
	}
	return got
}

func TestPickAvoidsSlowEndpoint(t *testing.T) {
	p, clk := newTestPool(Options{}, "a", "b", "c", "d")
	got := share(p, clk, 4000, func(e *Endpoint) time.Duration {
		if e.Addr() == "d" {
			return 100 * time.Millisecond
		}
		return 10 * time.Millisecond
	})
	if got["d"] > 4000/100 {
		t.Fatalf("10× slower endpoint got %d of 4000 picks: %v", got["d"], got)
	}
	if got["d"] == 0 {
		t.Fatalf("slow endpoint never re-probed as its estimate decays: %v", got)
	}
}

func TestPickPrefersFewerInFlight(t *testing.T) {
	p, _ := newTestPool(Options{}, "a", "b")
	a, b := p.Current().Endpoint(0), p.Current().Endpoint(1)
	for range 3 {
		if _, err := a.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if e, _ := p.Pick(); e != b {
			t.Fatalf("picked %s with 3 calls in flight over an idle peer", e.Addr())
		}
	}
}

// At high concurrency the in-flight count weighs relative to the pool's
// calls in flight per member: two fast endpoints carrying 30 calls each
// still cost less than an idle one ten times slower (as estimate ×
// (in-flight + 1) they would cost 31 against 10).
func TestPickWeighsInFlightAgainstTheShare(t *testing.T) {
	p, clk := newTestPool(Options{}, "a", "b", "slow")
	set := p.Current()
	for i, d := range []time.Duration{time.Millisecond, time.Millisecond, 10 * time.Millisecond} {
		serve(p, clk, set.Endpoint(i), d, false)
	}
	for range 30 {
		for i := range 2 {
			if _, err := set.Endpoint(i).Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 100 {
		if e, _ := p.Pick(); e.Addr() == "slow" {
			t.Fatalf("picked the idle 10× slower endpoint over fast ones at their usual load: %+v", p.Stats())
		}
	}
}

func TestFailuresCostPenalty(t *testing.T) {
	p, clk := newTestPool(Options{Penalty: time.Second, Prior: time.Millisecond}, "a", "b")
	a := p.Current().Endpoint(0)
	serve(p, clk, a, time.Millisecond, true)
	if est := a.Estimate(); est < 990*time.Millisecond {
		t.Fatalf("a fast failure left the estimate at %v", est)
	}
	clk.advance(health.DefaultTimeout) // the penalty fades with the breaker timeout
	if est := a.Estimate(); est > 400*time.Millisecond || est < 300*time.Millisecond {
		t.Fatalf("one timeout after a failure the estimate is %v, want ≈ 1s/e", est)
	}
	serve(p, clk, a, time.Millisecond, true) // second in a row: fades half as fast
	clk.advance(2 * health.DefaultTimeout)
	if est := a.Estimate(); est > 400*time.Millisecond || est < 300*time.Millisecond {
		t.Fatalf("two timeouts after a second failure the estimate is %v, want ≈ 1s/e", est)
	}
	serve(p, clk, a, time.Millisecond, false) // recovered: the rest fades at the base rate
	clk.advance(5 * health.DefaultTimeout)
	if est := a.Estimate(); est > 10*time.Millisecond {
		t.Fatalf("after a success and five timeouts the estimate is still %v", est)
	}
}

func TestStreamsMeasureFirstResponse(t *testing.T) {
	p, clk := newTestPool(Options{Prior: time.Millisecond}, "a")
	e := p.Current().Endpoint(0)
	c, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Millisecond)
	c.FirstResponse()
	if e.InFlight() != 1 {
		t.Fatal("an open stream must count as in flight")
	}
	clk.advance(time.Minute)
	c.End(health.Success, nil)
	if est := e.Estimate(); est > 3*time.Millisecond {
		t.Fatalf("a stream's lifetime leaked into the estimate: %v", est)
	}
	if e.InFlight() != 0 {
		t.Fatal("ended stream still in flight")
	}
}

func TestStatsSurviveChurnWithinGrace(t *testing.T) {
	p, clk := newTestPool(Options{Grace: time.Minute}, "a", "b")
	a := p.Current().Endpoint(0)
	serve(p, clk, a, 50*time.Millisecond, false)
	p.Update([]string{"b"})
	clk.advance(30 * time.Second)
	s := p.Update([]string{"b", "a"})
	if s.Endpoint(1) != a || a.requests.Load() != 1 {
		t.Fatal("an endpoint back within its grace period lost its statistics")
	}
	p.Update([]string{"b"})
	clk.advance(2 * time.Minute)
	p.Update([]string{"b"})
	if len(p.Stats().Endpoints) != 1 {
		t.Fatalf("grace period not enforced: %+v", p.Stats().Endpoints)
	}
}

func TestNewEndpointStartsFromPeersAndRamps(t *testing.T) {
	p, clk := newTestPool(Options{SlowStart: 10 * time.Second}, "a", "b")
	clk.advance(20 * time.Second)
	for range 50 {
		serve(p, clk, p.Current().Endpoint(0), 20*time.Millisecond, false)
		serve(p, clk, p.Current().Endpoint(1), 20*time.Millisecond, false)
	}
	p.Update([]string{"a", "b", "c"})
	c := p.Current().Endpoint(2)
	if est := c.Estimate(); est < 10*time.Millisecond {
		t.Fatalf("new endpoint starts at %v, below its peers' ~20ms", est)
	}
	now := p.nanos()
	early := c.load(now, 1)
	clk.advance(10 * time.Second)
	if late := c.load(p.nanos(), 1); late*5 > early {
		t.Fatalf("slow start: load %v at join, %v after the ramp", early, late)
	}
}

func TestPickAllocatesNothing(t *testing.T) {
	p, _ := newTestPool(Options{}, "a", "b", "c", "d", "e")
	if n := testing.AllocsPerRun(1000, func() { p.Pick() }); n != 0 {
		t.Fatalf("Pick allocates %v per call", n)
	}
}

func TestEmptyAndSingle(t *testing.T) {
	p, _ := newTestPool(Options{})
	if _, ok := p.Pick(); ok {
		t.Fatal("empty pool picked")
	}
	if _, err := p.Acquire(); err != ErrNoEndpoint {
		t.Fatalf("Acquire on empty pool: %v", err)
	}
	p.Update([]string{"x", "x"})
	if e, ok := p.Pick(); !ok || e.Addr() != "x" || p.Current().Len() != 1 {
		t.Fatal("single endpoint (listed twice) not picked")
	}
}

// An endpoint that has not answered yet is tried as soon as its peer is
// no cheaper, even when traffic is one call at a time: its prior does not
// keep it out until it decays below the peer's measured latency.
func TestUnsampledEndpointIsExplored(t *testing.T) {
	p, clk := newTestPool(Options{Prior: 10 * time.Millisecond}, "a:1", "b:1")
	first, ok := p.Pick()
	if !ok {
		t.Fatal("no pick")
	}
	serve(p, clk, first, time.Millisecond, false)
	var second *Endpoint
	for range 8 {
		e, _ := p.Pick()
		if e != first {
			second = e
			break
		}
		serve(p, clk, e, time.Millisecond, false)
	}
	if second == nil {
		t.Fatalf("after 1ms calls on %s, the untried endpoint (prior 10ms) was not picked in 8 calls", first.Addr())
	}
	serve(p, clk, second, 5*time.Millisecond, false)
	if got := second.Estimate(); got != 5*time.Millisecond {
		t.Fatalf("first sample %v did not replace the prior: estimate %v", 5*time.Millisecond, got)
	}
}

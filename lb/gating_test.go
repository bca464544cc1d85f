package lb

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/health"
)

func TestEjectedEndpointSkippedThenProbed(t *testing.T) {
	p, clk := newTestPool(Options{}, "a", "b", "c", "d")
	bad := p.Current().Endpoint(3)
	for range health.DefaultConsecutiveFailures {
		serve(p, clk, bad, time.Millisecond, true)
	}
	if bad.BreakerState() != health.Open {
		t.Fatalf("breaker %v after failures", bad.BreakerState())
	}
	got := share(p, clk, 500, func(*Endpoint) time.Duration { return time.Millisecond })
	if got["d"] != 0 {
		t.Fatalf("ejected endpoint picked %d times", got["d"])
	}
	if p.Panicking() {
		t.Fatal("one of four ejected must not panic")
	}
	clk.advance(2 * health.DefaultTimeout)
	if bad.BreakerState() != health.HalfOpen {
		t.Fatalf("breaker %v after its timeout", bad.BreakerState())
	}
	probe, err := bad.Start()
	if err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	if _, err := bad.Start(); err == nil {
		t.Fatal("second call admitted during the probe")
	}
	probe.End(health.Success, nil)
	if bad.BreakerState() != health.Closed {
		t.Fatal("good probe did not close the breaker")
	}
}

// A settled probe closes the breaker while the call stays in flight;
// its End then only releases it.
func TestSettledProbeClosesBreakerBeforeEnd(t *testing.T) {
	p, clk := newTestPool(Options{}, "a", "b")
	bad := p.Current().Endpoint(1)
	for range health.DefaultConsecutiveFailures {
		serve(p, clk, bad, time.Millisecond, true)
	}
	clk.advance(2 * health.DefaultTimeout)
	probe, err := bad.Start()
	if err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	probe.Settle(health.Success, nil)
	if bad.BreakerState() != health.Closed {
		t.Fatalf("breaker %v after the probe settled", bad.BreakerState())
	}
	if n := bad.InFlight(); n != 1 {
		t.Fatalf("%d in flight before End, want the settled probe", n)
	}
	failures := bad.failures.Load()
	probe.End(health.Failure, nil)
	if bad.InFlight() != 0 || bad.failures.Load() != failures || bad.BreakerState() != health.Closed {
		t.Fatalf("End after Settle: in flight %d, failures %d→%d, breaker %v; want only the release",
			bad.InFlight(), failures, bad.failures.Load(), bad.BreakerState())
	}
}

func TestPanicMode(t *testing.T) {
	p, clk := newTestPool(Options{}, "a", "b", "c", "d")
	eject := func(i int) {
		for range health.DefaultConsecutiveFailures {
			serve(p, clk, p.Current().Endpoint(i), time.Millisecond, true)
		}
	}
	eject(0)
	eject(1)
	if p.Panicking() {
		t.Fatal("50% ejected is not above the 50% threshold")
	}
	eject(2)
	if !p.Panicking() || p.PanicActivations() != 1 {
		t.Fatalf("panicking %v activations %d with 3 of 4 ejected", p.Panicking(), p.PanicActivations())
	}
	got := share(p, clk, 400, func(*Endpoint) time.Duration { return time.Millisecond })
	if got["a"]+got["b"]+got["c"] < 100 || got["d"] > 300 {
		t.Fatalf("panic mode must send traffic to ejected endpoints too: %v", got)
	}
	p.Update([]string{"d"})
	if p.Panicking() {
		t.Fatal("removing the ejected endpoints must end panic mode")
	}
	if st := p.Stats(); st.Ejected != 0 || st.PanicActivations != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNotServingTakesNoTraffic(t *testing.T) {
	p, clk := newTestPool(Options{}, "a", "b", "c")
	p.SetServing("c", false)
	p.SetServing("unknown", false)
	got := share(p, clk, 300, func(*Endpoint) time.Duration { return time.Millisecond })
	if got["c"] != 0 || p.Stats().Ejected != 1 || p.Stats().Endpoints[2].Serving {
		t.Fatalf("not-serving endpoint picked %d times; stats %+v", got["c"], p.Stats())
	}
	p.SetServing("b", false)
	if !p.Panicking() {
		t.Fatal("two of three not serving must be panic mode")
	}
	p.SetServing("b", true)
	p.SetServing("c", true)
	if p.Panicking() || p.Stats().Ejected != 0 {
		t.Fatalf("back to serving: %+v", p.Stats())
	}
	if got := shareLoaded(p, clk, 300, 4); got["c"] < 30 {
		t.Fatalf("serving again, but little traffic: %v", got)
	}
}

// shareLoaded picks n times keeping depth calls in flight, each lasting
// depth milliseconds, and returns how many picks each address got.
func shareLoaded(p *Pool, clk *fakeClock, n, depth int) map[string]int {
	got := map[string]int{}
	var calls []*Call
	for range n {
		c, err := p.Acquire()
		if err != nil {
			return got
		}
		got[c.Endpoint().Addr()]++
		calls = append(calls, c)
		if len(calls) == depth {
			clk.advance(time.Millisecond)
			calls[0].End(health.Success, nil)
			calls = calls[1:]
		}
	}
	for _, c := range calls {
		c.End(health.Success, nil)
	}
	return got
}

package sim

import (
	"flag"
	"os"
	"testing"
	"time"
)

var retriesHigh = flag.Bool("retries.high", false, "also print the retries table at high load (slow under -race)")

// TestSimulatorRetries prints the retries table and asserts what retries,
// hedging and the budget are for: a dying node costs no failed calls, a
// spiky node's tail is cut, and a cluster failing whole gets no more
// extra attempts than the budget allows.
func TestSimulatorRetries(t *testing.T) {
	levels := []Level{Low}
	if *retriesHigh {
		levels = append(levels, High)
	}
	var all []Report
	for _, l := range levels {
		reps := RunRetries(l, Seed)
		if l == Low {
			checkRetries(t, l, reps)
		}
		all = append(all, reps...)
	}
	WriteRetryTable(os.Stdout, all)
}

func checkRetries(t *testing.T, l Level, reps []Report) {
	dying, spikes, failing := byName(reps, DyingAndBack(l).Name), byName(reps, Spikes(l).Name), byName(reps, AllFailing(l).Name)
	for _, policy := range []string{"round_robin", StraitPolicy} {
		none := dying.With(policy, CallsNone)
		for _, calls := range []string{CallsRetry, CallsRetryBudget, CallsHedge} {
			if r := dying.With(policy, calls); r.ErrorRate > none.ErrorRate/10 || r.ErrorRate >= 0.0005 {
				t.Errorf("dying node, %s with %s: %.3f%% failed, %.3f%% without (want under a tenth and under 0.05%%)",
					policy, calls, 100*r.ErrorRate, 100*none.ErrorRate)
			}
		}
		checkBudget(t, policy, failing)
	}
	// A balancer that keeps its share on the spiky node: hedging cuts the
	// p99 to about the hedging delay plus a service time.
	none, hedged := spikes.With("round_robin", CallsNone), spikes.With("round_robin", CallsHedge)
	if hedged.P99 > none.P99/4 || hedged.Attempts > 1.05 {
		t.Errorf("spiky node, round_robin: p99 %v hedged, %v not; %.3f attempts per call (want under a quarter, ≤ 1.05)",
			hedged.P99, none.P99, hedged.Attempts)
	}
	// strait already avoids the spikes: hedging costs its p99 little.
	none, hedged = spikes.With(StraitPolicy, CallsNone), spikes.With(StraitPolicy, CallsHedge)
	if hedged.P99 > none.P99*11/10 || hedged.Attempts > 1.02 {
		t.Errorf("spiky node, strait: p99 %v hedged, %v not; %.3f attempts per call (want within 1.1×, ≤ 1.02)",
			hedged.P99, none.P99, hedged.Attempts)
	}
}

// checkBudget: with every node failing, retries and hedges make every
// call take all its attempts, and the budget bounds the extra attempts
// per call to its ratio plus its floor over the run (as long as the
// window).
func checkBudget(t *testing.T, policy string, failing Report) {
	s := failing.Scenario
	calls := s.Rate * s.Duration.Seconds()
	limit := DefaultBudget.Ratio + DefaultBudget.PerSecond*budgetWindow/calls + 0.005
	for _, c := range []string{CallsRetry, CallsHedge} {
		if r := failing.With(policy, c); r.Attempts < 2.99 {
			t.Errorf("all failing, %s with %s: %.3f attempts per call (want 3)", policy, c, r.Attempts)
		}
	}
	for _, c := range []string{CallsRetryBudget, CallsHedgeBudget} {
		r := failing.With(policy, c)
		if extra := r.Attempts - 1; extra < DefaultBudget.Ratio || extra > limit || r.Denied == 0 {
			t.Errorf("all failing, %s with %s: %.3f extra attempts per call, %d over budget (want %.2f to %.3f, some over)",
				policy, c, extra, r.Denied, DefaultBudget.Ratio, limit)
		}
	}
}

// TestServerCancel: a cancelled call gives its worker back at once.
func TestServerCancel(t *testing.T) {
	n := &server{Capacity: Capacity{Workers: 1}, free: make(durations, 1)}
	start, end := n.admit(0, 100*time.Millisecond)
	n.cancel(10*time.Millisecond, start, end)
	if s, _ := n.admit(20*time.Millisecond, 100*time.Millisecond); s != 20*time.Millisecond || n.inflight != 1 {
		t.Fatalf("after a cancel, the next call starts at %v with %d in flight (want 20ms, 1)", s, n.inflight)
	}
}

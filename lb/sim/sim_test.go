package sim

import (
	"os"
	"testing"
	"time"

	"github.com/straitproxy/strait/lb"
)

// TestSimulator prints the README table and asserts strait's targets at
// low and at high concurrency.
func TestSimulator(t *testing.T) {
	for _, l := range []Level{Low, High} {
		t.Run(l.Name, func(t *testing.T) {
			reps := RunAll(l, Seed)
			WriteTable(os.Stdout, reps)
			checkTargets(t, l, reps)
		})
	}
}

// byName finds the report of the named scenario.
func byName(reps []Report, name string) Report {
	for _, r := range reps {
		if r.Scenario.Name == name {
			return r
		}
	}
	panic("sim: no scenario named " + name)
}

func checkTargets(t *testing.T, l Level, reps []Report) {
	get := func(s Scenario) Result { return byName(reps, s.Name).Result(StraitPolicy) }
	equal, slow, failing, dying := get(AllEqual(l)), get(OneSlow(l)), get(OneFailingFast(l)), get(DyingAndBack(l))
	spikes, joining := get(Spikes(l)), get(Joining(l))

	noisyEqual, noisySlow := get(AllEqualNoisy(l)), get(OneSlowNoisy(l))
	for name, c := range map[string]struct{ slow, equal Result }{
		OneSlow(l).Name: {slow, equal}, OneSlowNoisy(l).Name: {noisySlow, noisyEqual}} {
		if limit := c.equal.P99 * 12 / 10; c.slow.P99 > limit {
			t.Errorf("%s: p99 %v, want within 1.2× of the all-equal %v", name, c.slow.P99, c.equal.P99)
		}
	}
	for name, r := range map[string]Result{OneSlow(l).Name: slow, OneSlowShared(l).Name: get(OneSlowShared(l)),
		OneSlowNoisy(l).Name: noisySlow} {
		if r.Share[troubled] >= 0.01 {
			t.Errorf("%s: the slow node's share %.2f%% (want < 1%%)", name, 100*r.Share[troubled])
		}
	}
	if failing.LateErrorRate >= 0.005 || failing.LateShare[troubled] >= 0.01 {
		t.Errorf("failing node after 1s: errors %.3f%%, its share %.3f%% (want < 0.5%%, < 1%%)",
			100*failing.LateErrorRate, 100*failing.LateShare[troubled])
	}
	if errs, _ := dying.Window(DiesAt+time.Second, ReturnsAt); errs >= 0.001 {
		t.Errorf("dead node: %.3f%% errors from 1s after the death (want < 0.1%%)", 100*errs)
	}
	if _, share := dying.Window(ReturnsAt+5*time.Second, duration); share[troubled] < 0.1 {
		t.Errorf("node back at %v: share %.1f%% 5s later (want ≥ 10%%)", ReturnsAt, 100*share[troubled])
	}
	if spikes.P99 > equal.P99*15/10 {
		t.Errorf("spikes: p99 %v vs %v all equal", spikes.P99, equal.P99)
	}
	if _, share := joining.Window(JoinsAt+5*time.Second, duration); share[troubled] < 0.1 {
		t.Errorf("new node: share %.1f%% once warm (want ≥ 10%%)", 100*share[troubled])
	}
	if p := joining.P99Window(JoinsAt, JoinsAt+3*time.Second); p > equal.P99*15/10 {
		t.Errorf("new cold node: p99 %v while it warms, %v all equal", p, equal.P99)
	}
	// A node that saturates is not overloaded while the others have room:
	// its median and p99 stay within 2× of the unloaded ones (all equal,
	// where latency is the service time).
	for _, s := range []Scenario{OneSaturating(l), OneClimbing(l)} {
		r := get(s)
		p50, p99 := r.NodeQuantile(troubled, 0.5), r.NodeQuantile(troubled, 0.99)
		if p50 > 2*equal.P50 || p99 > 2*equal.P99 {
			t.Errorf("%s: the node's p50 %v, p99 %v; unloaded %v, %v (want within 2×)", s.Name, p50, p99, equal.P50, equal.P99)
		}
	}
}

// TestSimulatorDeterministic: the same seed gives the same numbers.
func TestSimulatorDeterministic(t *testing.T) {
	s := OneSlow(Low)
	s.Duration = 5 * time.Second
	run := func() Result {
		var now time.Duration
		return Run(s, Stream(s, 7), NewStrait(lb.Options{}, &now, 7, nodes), &now)
	}
	a, b := run(), run()
	if a.P99 != b.P99 || a.P50 != b.P50 || a.Share[troubled] != b.Share[troubled] {
		t.Fatalf("two runs differ: %+v vs %+v", a.P99, b.P99)
	}
	s = Spikes(Low)
	s.Duration = 5 * time.Second
	hedged := func() Result {
		var now time.Duration
		c := CallWays(Low, 7)[4]
		return RunCalls(s, Stream(s, 7), NewStrait(lb.Options{}, &now, 7, nodes), c, &now)
	}
	a, b = hedged(), hedged()
	if a.P99 != b.P99 || a.Attempts != b.Attempts || a.Attempts <= 1 {
		t.Fatalf("two hedged runs differ, or hedge nothing: p99 %v vs %v, attempts %v vs %v", a.P99, b.P99, a.Attempts, b.Attempts)
	}
}

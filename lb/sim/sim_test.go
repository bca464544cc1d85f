package sim

import (
	"github.com/straitproxy/strait/lb"
	"os"
	"testing"
	"time"
)

// TestSimulator prints the README table and asserts strait's targets.
func TestSimulator(t *testing.T) {
	reps := RunAll(Seed)
	WriteTable(os.Stdout, reps)
	get := func(scenario int) Result { return reps[scenario].Results[3] } // strait
	equal, slow, failing, dying, spikes, joining := get(0), get(1), get(2), get(3), get(4), get(5)

	if limit := equal.P99 * 12 / 10; slow.P99 > limit {
		t.Errorf("10× slower node: p99 %v, want within 1.2× of the all-equal %v", slow.P99, equal.P99)
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
}

// TestSimulatorDeterministic: the same seed gives the same numbers.
func TestSimulatorDeterministic(t *testing.T) {
	s := OneSlow()
	s.Duration = 5 * time.Second
	run := func() Result {
		var now time.Duration
		return Run(s, Stream(s, 7), NewStrait(lb.Options{}, &now, 7, nodes), &now)
	}
	a, b := run(), run()
	if a.P99 != b.P99 || a.P50 != b.P50 || a.Share[troubled] != b.Share[troubled] {
		t.Fatalf("two runs differ: %+v vs %+v", a.P99, b.P99)
	}
}

package sim

import (
	"fmt"
	"io"
	"time"

	"github.com/straitproxy/strait/lb"
)

// AllFailing: every node answers every call at once with an error, for
// 10 seconds: what retries cost when nothing can succeed.
func AllFailing(l Level) Scenario {
	s := scenario("every node failing fast", l, func(int, time.Duration, float64) (time.Duration, bool) {
		return refused, true
	})
	s.Duration = budgetWindow * time.Second
	return s
}

// RetryScenarios lists the scenarios of the retries table at level l.
func RetryScenarios(l Level) []Scenario {
	return []Scenario{DyingAndBack(l), Spikes(l), AllFailing(l)}
}

// The ways of sending calls in the retries table.
const (
	CallsNone         = "none"
	CallsRetry        = "retries"
	CallsRetryBudget  = "retries + budget"
	CallsHedge        = "hedging"
	CallsHedgeBudget  = "hedging + budget"
	hedgeDelayPerBase = 2 // hedging delay in median service times
)

// DefaultBudget is the relay's default retry budget.
var DefaultBudget = Budget{Ratio: 0.2, PerSecond: 10}

// CallWays returns the compared ways of sending calls at level l: the
// relay's default retry policy (3 attempts, backoff 50 ms to 1 s ×2),
// hedging (3 attempts, every 2 median service times), each with and
// without the relay's default budget.
func CallWays(l Level, seed uint64) []Calls {
	retry := &Retry{MaxAttempts: 3, InitialBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2}
	hedge := &Hedge{MaxAttempts: 3, Delay: hedgeDelayPerBase * l.Base}
	b := DefaultBudget
	return []Calls{
		{Name: CallsNone, Seed: seed},
		{Name: CallsRetry, Retry: retry, Seed: seed},
		{Name: CallsRetryBudget, Retry: retry, Budget: &b, Seed: seed},
		{Name: CallsHedge, Hedge: hedge, Seed: seed},
		{Name: CallsHedgeBudget, Hedge: hedge, Budget: &b, Seed: seed},
	}
}

// retriers returns fresh instances of the balancers of the retries
// table: one that never avoids a node, and strait's.
func retriers(now *time.Duration, seed uint64) []Retrier {
	return []Retrier{&RoundRobin{}, NewStrait(lb.Options{}, now, seed, nodes)}
}

// RunRetries replays each retry scenario at level l (its stream drawn
// from seed) against every balancer and way of sending calls.
func RunRetries(l Level, seed uint64) []Report {
	var out []Report
	for _, s := range RetryScenarios(l) {
		stream := Stream(s, seed)
		rep := Report{Scenario: s}
		for _, c := range CallWays(l, seed) {
			var now time.Duration
			for _, p := range retriers(&now, seed) {
				now = 0
				rep.Results = append(rep.Results, RunCalls(s, stream, p, c, &now))
			}
		}
		out = append(out, rep)
	}
	return out
}

// With is the result of the named balancer with calls sent the named
// way; it panics on a pair no result has.
func (r Report) With(policy, calls string) Result {
	for _, res := range r.Results {
		if res.Policy == policy && res.Calls == calls {
			return res
		}
	}
	panic("sim: no result for " + policy + " with " + calls)
}

// WriteRetryTable prints the retry reports as a Markdown table, the ways
// of sending calls side by side for each balancer.
func WriteRetryTable(w io.Writer, reps []Report) {
	fmt.Fprintln(w, "| scenario | load | balancer | calls | failed | p50 | p99 | p99.9 | attempts per call | over budget |")
	fmt.Fprintln(w, "|---|---|---|---|---:|---:|---:|---:|---:|---:|")
	for _, rep := range reps {
		for _, policy := range []string{"round_robin", StraitPolicy} {
			for _, r := range rep.Results {
				if r.Policy != policy {
					continue
				}
				p50, p99, p999 := "-", "-", "-" // no call succeeded
				if r.ErrorRate < 1 {
					p50, p99, p999 = ms(r.P50), ms(r.P99), ms(r.P999)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %.3f | %d |\n", rep.Scenario.Name, rep.Scenario.Level.Name, r.Policy, r.Calls,
					pct(r.ErrorRate), p50, p99, p999, r.Attempts, r.Denied)
			}
		}
	}
}

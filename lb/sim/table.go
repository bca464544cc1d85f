package sim

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/straitproxy/strait/lb"
)

// Seed is the seed of the request stream in the README table.
const Seed = 42

// StraitPolicy is the name of strait's policy in the results.
const StraitPolicy = "strait p2c_ewma"

// Policies returns fresh instances of the compared policies; strait's
// pool reads the simulated clock from now.
func Policies(now *time.Duration, seed uint64) []Policy {
	return []Policy{
		&RoundRobin{}, NewLeastRequest(seed), NewGoZero(seed),
		NewStrait(lb.Options{}, now, seed, nodes),
	}
}

// Report is every policy's result in one scenario.
type Report struct {
	Scenario Scenario
	Results  []Result
}

// Result is the named policy's result; it panics on a name no policy has.
func (r Report) Result(policy string) Result {
	for _, res := range r.Results {
		if res.Policy == policy {
			return res
		}
	}
	panic("sim: no policy named " + policy)
}

// RunAll replays each scenario at level l (its stream drawn from seed)
// against every policy.
func RunAll(l Level, seed uint64) []Report {
	var out []Report
	for _, s := range Scenarios(l) {
		stream := Stream(s, seed)
		rep := Report{Scenario: s}
		var now time.Duration
		for _, p := range Policies(&now, seed) {
			now = 0
			rep.Results = append(rep.Results, Run(s, stream, p, &now))
		}
		out = append(out, rep)
	}
	return out
}

// WriteTable prints the reports as a Markdown table.
func WriteTable(w io.Writer, reps []Report) {
	fmt.Fprintln(w, "| scenario | load | policy | p50 | p99 | p99.9 | errors | errors after settle | share of nodes 0-4 (%) |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---|")
	for _, rep := range reps {
		for _, r := range rep.Results {
			late := "-"
			if rep.Scenario.Settle > 0 {
				late = pct(r.LateErrorRate)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", rep.Scenario.Name, rep.Scenario.Level.Name, r.Policy,
				ms(r.P50), ms(r.P99), ms(r.P999), pct(r.ErrorRate), late, shares(r.Share))
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func pct(f float64) string { return fmt.Sprintf("%.3f%%", 100*f) }

func shares(s []float64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprintf("%.1f", 100*v)
	}
	return strings.Join(parts, " / ")
}

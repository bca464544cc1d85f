package sim

import (
	"slices"
	"time"
)

// Result is one policy's outcome in one scenario.
type Result struct {
	Policy         string
	P50, P99, P999 time.Duration
	// ErrorRate is the share of requests that failed.
	ErrorRate float64
	// Share is each node's share of requests.
	Share []float64
	// LateErrorRate and LateShare count requests after Scenario.Settle.
	LateErrorRate float64
	LateShare     []float64
	// Calls names how calls were sent (Calls.Name); Attempts is the
	// attempts per call, cancelled hedges included; Denied counts the
	// retries and hedges the budget refused.
	Calls    string
	Attempts float64
	Denied   int

	records []record
	nodes   int
}

type record struct {
	at   time.Duration
	lat  time.Duration
	node int // -1: no pick
	fail bool
}

type recorder struct {
	s       Scenario
	records []record
}

// newRecorder makes room for the calls s expects (and some), as growing
// the records showed in profiles of a run.
func newRecorder(s Scenario) *recorder {
	return &recorder{s: s, records: make([]record, 0, int(1.1*s.Rate*s.Duration.Seconds()))}
}

func (r *recorder) add(at time.Duration, node int, lat time.Duration, fail bool) {
	r.records = append(r.records, record{at: at, lat: lat, node: node, fail: fail})
}

func (r *recorder) result(policy string) Result {
	res := Result{Policy: policy, records: r.records, nodes: r.s.Nodes}
	var lats []time.Duration
	for _, rec := range r.records {
		if !rec.fail {
			lats = append(lats, rec.lat)
		}
	}
	slices.Sort(lats)
	if len(lats) > 0 {
		res.P50, res.P99, res.P999 = quantile(lats, 0.5), quantile(lats, 0.99), quantile(lats, 0.999)
	}
	res.ErrorRate, res.Share = res.Window(0, r.s.Duration)
	res.LateErrorRate, res.LateShare = res.Window(r.s.Settle, r.s.Duration)
	return res
}

// Window returns the error rate and the nodes' shares of the requests
// that arrived in [from, to).
func (r Result) Window(from, to time.Duration) (errorRate float64, share []float64) {
	count := make([]int, r.nodes)
	n, errs := 0, 0
	for _, rec := range r.records {
		if rec.at < from || rec.at >= to {
			continue
		}
		n++
		if rec.fail {
			errs++
		}
		if rec.node >= 0 {
			count[rec.node]++
		}
	}
	share = make([]float64, r.nodes)
	for i, c := range count {
		share[i] = ratio(c, n)
	}
	return ratio(errs, n), share
}

// P99Window is the p99 latency of the successful requests that arrived in
// [from, to).
func (r Result) P99Window(from, to time.Duration) time.Duration {
	var lats []time.Duration
	for _, rec := range r.records {
		if rec.at >= from && rec.at < to && !rec.fail {
			lats = append(lats, rec.lat)
		}
	}
	if len(lats) == 0 {
		return 0
	}
	slices.Sort(lats)
	return quantile(lats, 0.99)
}

// NodeQuantile is the q-quantile latency of the successful requests node
// served.
func (r Result) NodeQuantile(node int, q float64) time.Duration {
	var lats []time.Duration
	for _, rec := range r.records {
		if rec.node == node && !rec.fail {
			lats = append(lats, rec.lat)
		}
	}
	if len(lats) == 0 {
		return 0
	}
	slices.Sort(lats)
	return quantile(lats, q)
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

package admin

import (
	"sync"
	"time"
)

// traffic turns the ever-growing Requests counters into recent shares
// and rates by remembering past counters for one window. Sampling happens
// when /status.json is read, so an idle admin server costs nothing.
type traffic struct {
	window time.Duration

	mu      sync.Mutex
	samples []sample // oldest first, all within window
}

type sample struct {
	at     time.Time
	counts map[endpointKey]uint64
}

type endpointKey struct{ cluster, addr string }

// minSampleGap keeps many viewers (or a fast poller) from filling memory
// with near-identical samples.
const minSampleGap = 250 * time.Millisecond

const maxSamples = 128

// annotate fills Share and Rate of every endpoint in st, measured from
// the oldest sample in the window to now. With no earlier sample the
// shares are all-time and the rates zero.
func (t *traffic) annotate(st *Status, now time.Time) {
	cur := countsOf(st)
	t.mu.Lock()
	t.prune(now)
	var base *sample
	if len(t.samples) > 0 {
		base = &t.samples[0]
	}
	if n := len(t.samples); n == 0 || now.Sub(t.samples[n-1].at) >= minSampleGap {
		t.samples = append(t.samples, sample{at: now, counts: cur})
	}
	t.mu.Unlock()
	for i := range st.Clusters {
		fillShares(&st.Clusters[i], cur, base, now)
	}
}

func (t *traffic) prune(now time.Time) {
	keep := 0
	for keep < len(t.samples) && now.Sub(t.samples[keep].at) > t.window {
		keep++
	}
	if extra := len(t.samples) - keep - maxSamples + 1; extra > 0 {
		keep += extra
	}
	t.samples = append(t.samples[:0], t.samples[keep:]...)
}

func countsOf(st *Status) map[endpointKey]uint64 {
	m := make(map[endpointKey]uint64)
	for _, c := range st.Clusters {
		for _, e := range c.Endpoints {
			m[endpointKey{c.Name, e.Addr}] = e.Requests
		}
	}
	return m
}

func fillShares(c *ClusterStatus, cur map[endpointKey]uint64, base *sample, now time.Time) {
	deltas := make([]uint64, len(c.Endpoints))
	var sum uint64
	for i, e := range c.Endpoints {
		d := cur[endpointKey{c.Name, e.Addr}]
		if base != nil {
			// A counter that went down was reset (the endpoint left and
			// came back): everything it has counted is recent.
			if old := base.counts[endpointKey{c.Name, e.Addr}]; old <= d {
				d -= old
			}
		}
		deltas[i] = d
		sum += d
	}
	var secs float64
	if base != nil {
		secs = now.Sub(base.at).Seconds()
	}
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		e.Share, e.Rate = 0, 0
		if sum > 0 {
			e.Share = float64(deltas[i]) / float64(sum)
		}
		if secs > 0 {
			e.Rate = float64(deltas[i]) / secs
		}
	}
}

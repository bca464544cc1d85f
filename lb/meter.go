package lb

import (
	"math"
	"sync"
	"sync/atomic"
)

// meter is a peak-biased EWMA latency estimate. A sample above the
// estimate pulls it up with weight 1-exp(-Δt/rise), a sample below pulls
// it down with weight 1-exp(-Δt/τ), Δt being the time since the previous
// sample; rise is short (default 50 ms) and τ long (10 s), so the
// estimate rises within tens of milliseconds of slower answers and falls
// over seconds. Between samples it decays toward zero as it is read, so
// an endpoint that was slow long ago is tried again.
//
// Weighing a rise by time rather than letting any higher sample replace
// the estimate (tower's and Finagle's peak-EWMA) keeps the estimate a
// property of the endpoint's latency, not of how many samples it gives:
// a peak that any sample can set is the maximum of the recent samples,
// and a busy endpoint answering thousands of calls a second shows its
// rarest outliers while an idle one does not. A sparse endpoint (one
// sample per rise or less apart) still jumps at its first slow answer.
//
// Reads take no lock. Writes are serialised by mu; a reader may see a new
// value with an old stamp, which only shifts the decay by one sample's age.
type meter struct {
	mu    sync.Mutex
	est   atomic.Uint64 // float64 bits, nanoseconds
	stamp atomic.Int64  // when est was written, nanoseconds on the pool clock
	// sampled is false while est is still the prior, a guess: the first
	// sample replaces it instead of being averaged into it.
	sampled atomic.Bool
}

func (m *meter) reset(est float64, now int64) {
	m.mu.Lock()
	m.est.Store(math.Float64bits(est))
	m.stamp.Store(now)
	m.mu.Unlock()
}

// value is the estimate at now, decayed since the last sample.
func (m *meter) value(now int64, tau float64) float64 {
	est := math.Float64frombits(m.est.Load())
	dt := float64(now - m.stamp.Load())
	if dt <= 0 {
		return est
	}
	return est * math.Exp(-dt/tau)
}

// observe folds in one latency sample (nanoseconds) taken at now. The
// estimate it starts from is the decayed one a reader would see.
func (m *meter) observe(rtt float64, now int64, tau, rise float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dt := float64(max(0, now-m.stamp.Load()))
	w := math.Exp(-dt / tau) // the weight of the past: one exp serves the decay and the fall
	prev := math.Float64frombits(m.est.Load()) * w
	next := rtt
	switch {
	case !m.sampled.Load():
		// The prior is a guess: the first sample replaces it.
	case rtt < prev:
		next = prev*w + rtt*(1-w)
	default:
		up := math.Exp(-dt / rise)
		next = prev*up + rtt*(1-up)
	}
	m.est.Store(math.Float64bits(next))
	m.stamp.Store(max(now, m.stamp.Load()))
	m.sampled.Store(true)
}

// typical is a pool-wide moving average of every latency sample, the cost
// an endpoint is assumed to have before its own first sample.
type typical struct {
	bits atomic.Uint64 // float64 nanoseconds; 0 before any sample
}

// typicalWeight is how much one sample moves the pool-wide average.
const typicalWeight = 0.1

func (t *typical) observe(rtt float64) {
	for {
		old := t.bits.Load()
		prev := math.Float64frombits(old)
		next := rtt
		if old != 0 {
			next = prev + typicalWeight*(rtt-prev)
		}
		if t.bits.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}

func (t *typical) value() float64 { return math.Float64frombits(t.bits.Load()) }

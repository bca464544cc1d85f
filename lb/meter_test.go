package lb

import (
	"math"
	"testing"
	"time"
)

const (
	testTau  = float64(10 * time.Second)
	testRise = float64(50 * time.Millisecond)
)

func TestMeterPeakAndDecay(t *testing.T) {
	var m meter
	m.reset(float64(10*time.Millisecond), 0)
	m.observe(float64(100*time.Millisecond), 0, testTau, testRise)
	if got := m.value(0, testTau); got != float64(100*time.Millisecond) {
		t.Fatalf("the first sample must replace the prior: got %v", time.Duration(got))
	}
	after := m.value(int64(10*time.Second), testTau)
	if want := float64(100*time.Millisecond) / math.E; math.Abs(after-want) > 1 {
		t.Fatalf("after τ the read decays to 1/e: got %v want %v", time.Duration(after), time.Duration(want))
	}
	m.reset(float64(100*time.Millisecond), 0)
	m.observe(float64(10*time.Millisecond), int64(time.Second), testTau, testRise)
	got := time.Duration(m.value(int64(time.Second), testTau))
	if got >= 100*time.Millisecond || got <= 10*time.Millisecond {
		t.Fatalf("a sample below moves the estimate part of the way: got %v", got)
	}
}

// sampledMeter is a meter at est whose first sample is behind it, at 0.
func sampledMeter(est time.Duration) *meter {
	m := &meter{}
	m.reset(float64(est), 0)
	m.sampled.Store(true)
	return m
}

// A slow answer after a quiet spell longer than the rise is taken almost
// whole: an endpoint that answers rarely is judged on its first slow call.
func TestMeterSparseSlowSampleIsTakenAtOnce(t *testing.T) {
	m := sampledMeter(time.Millisecond)
	now := int64(500 * time.Millisecond) // 10 rises since the last sample
	m.observe(float64(100*time.Millisecond), now, testTau, testRise)
	if got := time.Duration(m.value(now, testTau)); got < 99*time.Millisecond {
		t.Fatalf("estimate %v after one slow answer 10 rises after the last, want ≈ 100ms", got)
	}
}

// On a busy endpoint (a sample every 100 µs) one outlier moves the
// estimate by its share of the rise, not to the outlier; a lasting
// slowdown is followed within a few rises.
func TestMeterRiseIsWeighedByTime(t *testing.T) {
	const every = int64(100 * time.Microsecond)
	m := sampledMeter(time.Millisecond)
	now := int64(0)
	now += every
	m.observe(float64(time.Millisecond), now, testTau, testRise)
	now += every
	m.observe(float64(50*time.Millisecond), now, testTau, testRise)
	if got := time.Duration(m.value(now, testTau)); got > 2*time.Millisecond {
		t.Fatalf("one 50ms outlier among answers 100µs apart raised a 1ms estimate to %v, want < 2ms", got)
	}
	for range 1500 { // 150 ms of 20 ms answers: three rises
		now += every
		m.observe(float64(20*time.Millisecond), now, testTau, testRise)
	}
	if got := time.Duration(m.value(now, testTau)); got < 18*time.Millisecond {
		t.Fatalf("after three rises of 20ms answers the estimate is %v, want ≥ 18ms (95 %% of the way)", got)
	}
}

// The rise's weight does not depend on the rate of samples: the same
// 20 ms of slower answers raise the estimate alike whether they come
// 100 µs or 2 ms apart.
func TestMeterRiseIsRateFree(t *testing.T) {
	after := func(every time.Duration) float64 {
		m := sampledMeter(time.Millisecond)
		for now := every; now <= 20*time.Millisecond; now += every {
			m.observe(float64(10*time.Millisecond), int64(now), testTau, testRise)
		}
		return m.value(int64(20*time.Millisecond), testTau)
	}
	busy, quiet := after(100*time.Microsecond), after(2*time.Millisecond)
	if math.Abs(busy-quiet) > 0.01*quiet {
		t.Fatalf("20ms of 10ms answers: %v at one per 100µs, %v at one per 2ms; want equal",
			time.Duration(busy), time.Duration(quiet))
	}
}

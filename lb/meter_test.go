package lb

import (
	"math"
	"testing"
	"time"
)

func TestMeterPeakAndDecay(t *testing.T) {
	tau := float64(10 * time.Second)
	var m meter
	m.reset(float64(10*time.Millisecond), 0)
	m.observe(float64(100*time.Millisecond), 0, tau)
	if got := m.value(0, tau); got != float64(100*time.Millisecond) {
		t.Fatalf("a sample above the estimate must replace it: got %v", time.Duration(got))
	}
	after := m.value(int64(10*time.Second), tau)
	if want := float64(100*time.Millisecond) / math.E; math.Abs(after-want) > 1 {
		t.Fatalf("after τ the read decays to 1/e: got %v want %v", time.Duration(after), time.Duration(want))
	}
	m.reset(float64(100*time.Millisecond), 0)
	m.observe(float64(10*time.Millisecond), int64(time.Second), tau)
	got := time.Duration(m.value(int64(time.Second), tau))
	if got >= 100*time.Millisecond || got <= 10*time.Millisecond {
		t.Fatalf("a sample below moves the estimate part of the way: got %v", got)
	}
}

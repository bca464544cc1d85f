// Package waitfor polls a condition until it holds or a deadline passes, so
// tests wait on what they expect rather than sleeping.
package waitfor

import (
	"testing"
	"time"
)

// Interval is how often conditions are polled.
const Interval = 5 * time.Millisecond

// True polls cond every Interval until it returns true, and fails the test
// with msg when timeout passes first. It returns how long it waited.
func True(t testing.TB, timeout time.Duration, msg string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(Interval)
	}
	return time.Since(start)
}

// Never polls cond for d and fails the test with msg if it ever holds.
func Never(t testing.TB, d time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s", msg)
		}
		time.Sleep(Interval)
	}
}

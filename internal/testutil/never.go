package testutil

import (
	"testing"
	"time"
)

// Never polls cond for d and fails the test with msg if it ever holds:
// for what must not happen during a window (an outage, a grace period).
func Never(t testing.TB, d time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s", msg)
		}
		<-tick.C
	}
}

// Package testutil holds helpers shared by strait's tests.
package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds or timeout passes, then fails the
// test with msg. Tests wait on conditions, never on fixed sleeps.
func WaitFor(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, msg)
		}
		<-tick.C
	}
}

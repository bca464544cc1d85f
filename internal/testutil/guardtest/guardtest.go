// Package guardtest runs discovery guards for tests: one helper in place
// of the start-up block each test would otherwise repeat.
package guardtest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
)

// readyWait bounds the wait for a static guard's first set; generous, so
// that a loaded machine does not fail the test.
const readyWait = 10 * time.Second

// Run runs a Guard for cluster over src (restoring from saved when it is
// not nil) until the test ends or stop is called; stop waits for the
// guard's goroutine to return and may be called more than once.
func Run(t testing.TB, cluster string, src upstream.Source, saved *upstream.SavedSets) (g *upstream.Guard, stop func()) {
	t.Helper()
	g = upstream.NewGuard(cluster, src, slog.New(slog.DiscardHandler))
	if saved != nil {
		g.WithSavedSets(saved)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(ctx)
	}()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return g, stop
}

// Static runs a Guard for cluster over a static list of addrs until the
// test ends, and returns once the guard holds its first set.
func Static(t testing.TB, cluster string, addrs ...string) *upstream.Guard {
	t.Helper()
	g, _ := Run(t, cluster, static.New(addrs), nil)
	select {
	case <-g.Ready():
	case <-time.After(readyWait):
		t.Fatalf("guard %s: no endpoint set within %s", cluster, readyWait)
	}
	return g
}

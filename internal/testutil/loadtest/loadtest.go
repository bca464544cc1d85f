// Package loadtest sends a continuous, bounded load of SayHello calls
// through a client connection and counts the outcomes, for tests that
// check no call fails while something (a registry, an upstream) changes.
package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

// Bounds on every load, whatever the test does.
const (
	maxTime  = 3 * time.Minute
	maxCalls = 2_000_000
	workers  = 4
	// pace spaces each worker's calls, so a load leaves the machine's
	// two cores to the parts under test.
	pace = time.Millisecond
)

// Load is a running load. Its counters may be read at any time.
type Load struct {
	// OK and Failed count finished calls; calls cut short by Stop count
	// as neither.
	OK, Failed atomic.Int64
	firstErr   atomic.Value
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// Start calls SayHello on conn from a few workers until Stop (called by
// t.Cleanup too), three minutes or two million calls.
func Start(t testing.TB, conn *grpc.ClientConn) *Load {
	ctx, cancel := context.WithTimeout(context.Background(), maxTime)
	l := &Load{cancel: cancel}
	client := pb.NewGreeterClient(conn)
	var budget atomic.Int64
	for range workers {
		l.wg.Go(func() { l.work(ctx, client, &budget) })
	}
	t.Cleanup(l.Stop)
	return l
}

func (l *Load) work(ctx context.Context, client pb.GreeterClient, budget *atomic.Int64) {
	tick := time.NewTicker(pace)
	defer tick.Stop()
	for ctx.Err() == nil && budget.Add(1) <= maxCalls {
		callCtx, done := context.WithTimeout(ctx, 5*time.Second)
		_, err := client.SayHello(callCtx, &pb.HelloRequest{Name: "load"})
		done()
		switch {
		case err == nil:
			l.OK.Add(1)
		case ctx.Err() == nil:
			l.Failed.Add(1)
			l.firstErr.CompareAndSwap(nil, err)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// FirstErr is the first failure's error, or nil.
func (l *Load) FirstErr() any { return l.firstErr.Load() }

// Stop ends the load and waits for its workers.
func (l *Load) Stop() {
	l.cancel()
	l.wg.Wait()
}

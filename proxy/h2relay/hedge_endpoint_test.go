package h2relay_test

import (
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// A hedged call whose first endpoint cannot be reached (its dial is
// refused while the call waits for it) goes on at once with its next
// attempt on the other endpoint, which answers it: no call fails, and
// the live endpoint sees each call once.
func TestHedgedCallOnADeadEndpointGoesOn(t *testing.T) {
	b := startBackend(t, "b")
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: time.Minute}
	client := dialClient(t, startHedgeRelay(t, h2relay.Options{}, hedgeRouter{unaryMethod: p}, roundRobinOver(testutil.DeadAddr(t), b.addr)))
	const calls = 10
	for i, err := range unaryAll(client, calls, 1) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if b.Calls() != calls {
		t.Fatalf("the live endpoint saw %d attempts for %d calls", b.Calls(), calls)
	}
}

// With a delay factor the delay follows the balancer's estimate of the
// first endpoint: nodes that steadily take 100ms are not hedged once
// measured, though the policy's floor is 1ms (with a fixed 1ms delay,
// every call would be).
func TestHedgeDelayFollowsTheEstimate(t *testing.T) {
	b0, b1 := startBackend(t, "b0"), startBackend(t, "b1")
	for _, b := range []*testBackend{b0, b1} {
		b.SetLatency(100 * time.Millisecond)
	}
	_, bal, _ := lbCluster(t, "c", b0.addr, b1.addr)
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond, DelayFactor: 5}
	var log retryLog
	client := dialClient(t, startHedgeRelay(t, log.options(h2relay.Options{}), hedgeRouter{unaryMethod: p}, bal))
	// Until both nodes are measured, calls are hedged after 5 times the
	// pool's prior.
	for i, err := range unaryAll(client, 10, 1) {
		if err != nil {
			t.Fatalf("warm-up call %d: %v", i, err)
		}
	}
	hedges := log.count(h2relay.RetryHedge)
	for i, err := range unaryAll(client, 10, 1) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := log.count(h2relay.RetryHedge) - hedges; n != 0 {
		t.Fatalf("%d of 10 calls to measured 100ms nodes were hedged", n)
	}
}

// A hedged streaming call whose first endpoint fails while the client is
// still sending sends its next attempt when the request ends, not a
// whole hedge delay later (here a minute, past the call's deadline).
func TestHedgeWaitingForTheRequestGoesAtItsEnd(t *testing.T) {
	b := startBackend(t, "b")
	bal := &endWatch{preferBalancer: preferBalancer{testutil.DeadAddr(t), b.addr}, firstEnded: make(chan struct{})}
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: time.Minute}
	client := dialClient(t, startHedgeRelay(t, h2relay.Options{}, hedgeRouter{streamMethod: p}, bal))
	st, err := client.StreamingInputCall(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg := &testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 100)}}
	if err := st.Send(msg); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bal.firstEnded: // the dial to the dead endpoint failed
	case <-time.After(10 * time.Second):
		t.Fatal("the first attempt never ended")
	}
	if err := st.Send(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatalf("call: %v", err)
	}
	if b.Calls() != 1 {
		t.Fatalf("the live endpoint saw %d attempts, want 1", b.Calls())
	}
}

// endWatch is a preferBalancer that closes firstEnded when an attempt
// at its first endpoint ends.
type endWatch struct {
	preferBalancer
	firstEnded chan struct{}
	once       sync.Once
}

func (b *endWatch) Pick() (h2relay.Call, bool) { return watchedCall{addrCall(b.first), b}, true }

type watchedCall struct {
	addrCall
	b *endWatch
}

func (c watchedCall) End(h2relay.Outcome) { c.b.once.Do(func() { close(c.b.firstEnded) }) }

package h2relay_test

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// With the lb core behind the relay, an endpoint that fails every call
// gets few calls: its failures reach the pool's meter and breaker.
func TestLBPoolEjectsAFailingEndpoint(t *testing.T) {
	b0, b1, bad := startBackend(t, "b0"), startBackend(t, "b1"), startBackend(t, "bad")
	bad.SetFailure(1, codes.Unavailable)
	guard := guardtest.Static(t, "c", b0.addr, b1.addr, bad.addr)
	bal, stop := h2relay.NewLBPool(lb.NewPool("c", lb.Options{}), guard)
	t.Cleanup(stop)
	_, addr := startRelayBal(t, h2relay.Options{}, bal)
	client := dialClient(t, addr)
	failures := 0
	for range 200 {
		if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
			failures++
		}
	}
	// Peak-EWMA may never try the bad endpoint (its prior is slower than
	// what the others show); once tried, its breaker ejects it after 5.
	if failures > 12 || uint64(failures) != bad.Calls() {
		t.Fatalf("%d of 200 calls failed, %d reached the failing endpoint", failures, bad.Calls())
	}
	if b0.Calls() == 0 || b1.Calls() == 0 {
		t.Fatalf("healthy endpoints served %d and %d calls", b0.Calls(), b1.Calls())
	}
}

// With the lb core behind the relay, calls that waited for a refused
// dial are picked again onto the live endpoint, and the pool records
// the refusal as the dead endpoint's failure.
func TestLBPoolRepicksOffARefusedEndpoint(t *testing.T) {
	live, dead := startBackend(t, "live"), testutil.DeadAddr(t)
	guard := guardtest.Static(t, "c", live.addr, dead)
	pool := lb.NewPool("c", lb.Options{})
	bal, stop := h2relay.NewLBPool(pool, guard)
	t.Cleanup(stop)
	_, addr := startRelayBal(t, h2relay.Options{}, bal)
	for i, err := range unaryAll(dialClient(t, addr), 200, 50) {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	for _, e := range pool.Stats().Endpoints {
		if e.Addr == dead && e.Failures == 0 {
			t.Errorf("the pool saw no failure of the dead endpoint: %+v", e)
		}
	}
}

package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/backend"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// A route's hedge policy from the YAML reaches the relay: every call to
// slow endpoints is sent twice and counted as a hedge of its cluster;
// on a cluster whose retry budget allows nothing, no call is hedged and
// each hedge not sent is counted as over budget.
func TestRouteHedgePolicyFromTheConfig(t *testing.T) {
	b0, b1 := backend.StartTest(t, "b0"), backend.StartTest(t, "b1")
	for _, b := range []*backend.Server{b0, b1} {
		b.SetLatency(100 * time.Millisecond)
	}
	eps := `[` + b0.Addr() + `, ` + b1.Addr() + `]`
	_, addr, reg := startMetered(t, parse(t, `
listeners:
  - name: edge
    address: 127.0.0.1:0
    routes:
      - prefix: /grpc.testing.TestService/EmptyCall
        cluster: g
        idempotent: true
        hedge: {max_attempts: 2, delay: 5ms}
      - prefix: /grpc.testing.TestService/UnaryCall
        cluster: broke
        idempotent: true
        hedge: {max_attempts: 2, delay: 5ms}
clusters:
  g: {endpoints: `+eps+`}
  broke: {endpoints: `+eps+`, retry_budget: {ratio: 0, min_per_second: 0}}
timeouts: {drain: 5s}
`))
	client := testpb.NewTestServiceClient(dial(t, addr, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const calls = 10
	for i := range calls {
		if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := b0.Calls() + b1.Calls(); n != 2*calls {
		t.Fatalf("%d hedged calls reached the endpoints %d times, want %d", calls, n, 2*calls)
	}
	if got := sum(t, reg, "strait_grpc_retries_total", map[string]string{"cluster": "g", "reason": "hedge"}); got != calls {
		t.Fatalf("strait_grpc_retries_total{reason=hedge} = %v, want %d", got, calls)
	}
	for i := range calls {
		if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := b0.Calls() + b1.Calls(); n != 3*calls {
		t.Fatalf("calls over budget reached the endpoints %d times, want %d", n-2*calls, calls)
	}
	if got := sum(t, reg, "strait_grpc_retries_skipped_total", map[string]string{"cluster": "broke", "reason": "budget_exhausted"}); got != calls {
		t.Fatalf("strait_grpc_retries_skipped_total{reason=budget_exhausted} = %v, want %d", got, calls)
	}
}

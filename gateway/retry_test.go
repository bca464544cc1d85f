package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/backend"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

// A route's retry policy from the YAML reaches the relay: calls the
// failing endpoint answers Unavailable are retried on the other one, no
// client sees an error, and the retries are counted by cluster and
// reason. The failed calls' penalty is tiny so that the balancer keeps
// sending the failing endpoint calls until its breaker ejects it.
func TestRouteRetryPolicyFromTheConfig(t *testing.T) {
	bad, good := backend.StartTest(t, "bad"), backend.StartTest(t, "good")
	bad.SetFailure(1, codes.Unavailable)
	_, addr, reg := startMetered(t, parse(t, `
listeners:
  - name: edge
    address: 127.0.0.1:0
    routes:
      - service: grpc.testing.TestService
        cluster: g
        retry: {max_attempts: 2, initial_backoff: 1ms, max_backoff: 5ms, retryable_status_codes: [unavailable]}
clusters: {g: {endpoints: [`+bad.Addr()+`, `+good.Addr()+`], balancer: {penalty: 1ms}}}
timeouts: {drain: 5s}
`))
	client := testpb.NewTestServiceClient(dial(t, addr, nil))
	// Trailers-only errors: the backend stages no headers, so a failed
	// call has not committed.
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), backend.NoHeadersKey, "1"), 20*time.Second)
	defer cancel()
	for i := range 20 {
		if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if bad.Calls() == 0 {
		t.Fatal("no call reached the failing endpoint")
	}
	if got := sum(t, reg, "strait_grpc_retries_total", map[string]string{"cluster": "g", "reason": "status"}); got != float64(bad.Calls()) {
		t.Fatalf("strait_grpc_retries_total{reason=status} = %v, want %d (the failed attempts)", got, bad.Calls())
	}
}

package lb_test

import (
	"context"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/lb"
)

// TestE2EStreamCountsFirstResponse keeps a bidi stream open for well over
// 100 ms after its first response: it must count as in flight while open,
// and the estimate must reflect the first response, not the lifetime.
func TestE2EStreamCountsFirstResponse(t *testing.T) {
	c := startCluster(t, 1, lb.Options{Prior: time.Millisecond})
	ep := c.pool.Current().Endpoint(0)
	ctx, fr := lb.WithFirstResponse(context.Background())
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	stream, err := testgrpc.NewTestServiceClient(c.cc).FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	fr.Observe()
	firstResponse := time.Since(t0) // bounds the sample the balancer took
	if ep.InFlight() != 1 {
		t.Fatalf("open stream: in flight %d, want 1", ep.InFlight())
	}
	busyElsewhere(t, c.backends[0].Addr(), 300*time.Millisecond)
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("stream end: %v", err)
	}
	lifetime := time.Since(t0)
	testutil.WaitFor(t, 5*time.Second, "stream done", func() bool { return ep.InFlight() == 0 })
	if lifetime < 2*firstResponse {
		t.Fatalf("stream lived %v, first response after %v: too close to tell", lifetime, firstResponse)
	}
	if est := ep.Estimate(); est > max(firstResponse, time.Millisecond) {
		t.Fatalf("estimate %v, first response within %v, lifetime %v: the lifetime leaked in", est, firstResponse, lifetime)
	}
}

// busyElsewhere keeps the test busy for at least d with calls that do not
// go through the balancer (a direct connection), so the stream above stays
// open without the test sleeping.
func busyElsewhere(t *testing.T, addr string, d time.Duration) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-demo-latency", d.String())
	if _, err := pb.NewGreeterClient(cc).SayHello(ctx, &pb.HelloRequest{Name: "busy"}); err != nil {
		t.Fatal(err)
	}
}

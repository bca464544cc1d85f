package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Two strait instances behind one client, as behind a load balancer: one
// drains under load and open streams, and no call fails.
func TestDrainUnderLoadLosesNoCalls(t *testing.T) { eachDataplane(t, testDrainUnderLoadLosesNoCalls) }

func testDrainUnderLoadLosesNoCalls(t *testing.T, dp string) {
	b := backend.StartTest(t, "b")
	cfg := fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: `+dp+`, default_cluster: g}]
clusters: {g: {endpoints: [%s]}}
timeouts: {drain: 10s}
`, b.Addr())
	draining, addr1 := startGateway(t, parse(t, cfg))
	_, addr2 := startGateway(t, parse(t, cfg))
	r := manual.NewBuilderWithScheme("two")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addr1}, {Addr: addr2}}})
	conn, err := grpc.NewClient("two:///strait", grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)

	// Open streams on both instances before the drain starts.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var streams []grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]
	for range 4 {
		s, err := client.FullDuplexCall(ctx, grpc.WaitForReady(true))
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}

	var calls, failed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := client.UnaryCall(cctx, &testpb.SimpleRequest{})
				ccancel()
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					failures.Store(err.Error(), true)
				}
			}
		})
	}
	testutil.WaitFor(t, 10*time.Second, "load flowing", func() bool { return calls.Load() > 200 })

	if err := draining.Ready(); err != nil {
		t.Fatalf("ready before drain: %v", err)
	}
	drained := make(chan struct{})
	go func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		draining.Shutdown(dctx)
		close(drained)
	}()
	testutil.WaitFor(t, 5*time.Second, "readiness turns false first", func() bool {
		err := draining.Ready()
		return err != nil && strings.Contains(err.Error(), "draining")
	})
	// Streams opened before the drain still work, then end normally.
	for _, s := range streams {
		if err := s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil {
			t.Fatalf("stream during drain: %v", err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("stream during drain: %v", err)
		}
		s.CloseSend()
		if _, err := s.Recv(); err == nil {
			t.Fatal("stream did not end after half-close")
		}
	}
	select {
	case <-drained:
	case <-time.After(15 * time.Second):
		t.Fatal("drain did not finish")
	}
	before := calls.Load()
	testutil.WaitFor(t, 10*time.Second, "load continues on the other instance", func() bool { return calls.Load() > before+200 })
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		failures.Range(func(k, _ any) bool { t.Log(k); return true })
		t.Fatalf("%d of %d calls failed during the drain", failed.Load(), calls.Load())
	}
	t.Logf("%d calls, 0 failed, through a drain", calls.Load())
}

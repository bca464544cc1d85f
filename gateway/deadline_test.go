package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/straitproxy/strait/internal/testutil/backend"
)

// Client deadlines shorter than what healthy nodes take run out on the
// client's side, and the nodes give up with it: on either data path, no
// node is blamed, ejected or even charged a failure. First ten callers
// for three seconds with a 30 ms deadline on calls the nodes answer in
// 200 ms, then the interop suite's timeout_on_sleeping_server: a bidi
// call with a 1 ms deadline.
func shortDeadlinesNeverEjectAHealthyNode(t *testing.T, dp string) {
	var addrs []string
	var served func() uint64
	for i := range 3 {
		b := backend.StartTest(t, fmt.Sprintf("b%d", i))
		b.SetLatency(200 * time.Millisecond)
		addrs = append(addrs, b.Addr())
		prev := served
		served = func() uint64 {
			n := b.Calls()
			if prev != nil {
				n += prev()
			}
			return n
		}
	}
	gw, addr := startGateway(t, parse(t, greeterConfigOn(dp, addrs...)))
	conn := dial(t, addr, nil)
	greeter, test := pb.NewGreeterClient(conn), testgrpc.NewTestServiceClient(conn)

	var wg sync.WaitGroup
	stop := time.Now().Add(3 * time.Second)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
				greeter.SayHello(ctx, &pb.HelloRequest{Name: "t"})
				cancel()
			}
		}()
	}
	wg.Wait()
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if s, err := test.FullDuplexCall(ctx); err == nil {
			s.Send(&testgrpc.StreamingOutputCallRequest{
				ResponseParameters: []*testgrpc.ResponseParameters{{Size: 31415}},
				Payload:            &testgrpc.Payload{Body: make([]byte, 27182)},
			})
			s.Recv()
		}
		cancel()
	}
	// The calls reached the nodes, which answered DeadlineExceeded
	// or saw a reset: the case the balancer must not blame.
	if n := served(); n < 50 {
		t.Fatalf("only %d calls reached the nodes", n)
	}
	st := gw.Status()
	if st.Clusters[0].Panic || st.Clusters[0].PanicActivations > 0 {
		t.Errorf("panic mode: %+v", st.Clusters[0])
	}
	for _, e := range st.Clusters[0].Endpoints {
		if e.Ejections > 0 || e.Breaker != "closed" || e.LastError != "" {
			t.Errorf("healthy node blamed: %+v", e)
		}
	}
	if _, err := sayHello(conn); err != nil {
		t.Fatalf("a call with time to spare: %v", err)
	}
}

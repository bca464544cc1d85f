package h2relay_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// A thousand endpoint additions and removals under load leave the relay
// holding pools and connections for the endpoints in use only: the
// others are reaped once idle, and their pools forgotten.
func TestEndpointChurnLeavesNoPoolsBehind(t *testing.T) {
	const addrs, live, changes = 40, 5, 1000
	srv := grpc.NewServer()
	backend.New("b").Register(srv)
	var all []string
	var wg sync.WaitGroup
	for range addrs {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, lis.Addr().String())
		wg.Go(func() { srv.Serve(lis) })
	}
	t.Cleanup(func() { srv.Stop(); wg.Wait() })

	var set atomic.Pointer[[]string]
	window := func(i int) {
		w := make([]string, live)
		for j := range w {
			w[j] = all[(i+j)%addrs]
		}
		set.Store(&w)
	}
	window(0)
	bal := newScriptBalancer(func(n uint64) string {
		w := *set.Load()
		return w[n%uint64(len(w))]
	})
	relay, addr := startRelayBal(t, h2relay.Options{IdleTimeout: 100 * time.Millisecond}, bal)
	client := dialClient(t, addr)

	var done atomic.Bool
	var calls sync.WaitGroup
	errc := make(chan error, 8)
	for range 4 {
		calls.Go(func() {
			for !done.Load() {
				if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	maxPools := 0
	for i := 1; i <= changes; i++ {
		window(i) // one endpoint leaves the set, another joins
		if i%10 != 0 {
			continue
		}
		if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		maxPools = max(maxPools, h2relay.Pools(relay))
	}
	done.Store(true)
	calls.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the pools of endpoints out of use forgotten", func() bool {
		return h2relay.Pools(relay) <= live && h2relay.Open(relay) == h2relay.OpenCounts{}
	})
	t.Logf("pools: at most %d during the churn over %d addresses", maxPools, addrs)
}

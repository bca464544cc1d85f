package h2relay_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// scriptBalancer picks with a test's function and records what each
// endpoint's calls ended with: the balancer's view of the endpoints.
type scriptBalancer struct {
	pick  func(n uint64) string
	picks atomic.Uint64

	mu   sync.Mutex
	ends map[string][]h2relay.Outcome
}

func newScriptBalancer(pick func(n uint64) string) *scriptBalancer {
	return &scriptBalancer{pick: pick, ends: map[string][]h2relay.Outcome{}}
}

// roundRobin takes addrs in turn.
func roundRobin(addrs ...string) func(uint64) string {
	return func(n uint64) string { return addrs[n%uint64(len(addrs))] }
}

// ejecting takes addrs in turn, skipping those whose calls failed (a
// breaker that never closes): whatever other calls pick meanwhile, a
// call picked again never lands on an endpoint already seen failing.
func (b *scriptBalancer) ejecting(addrs ...string) func(uint64) string {
	return func(n uint64) string {
		for i := range uint64(len(addrs)) {
			a := addrs[(n+i)%uint64(len(addrs))]
			if !b.failed(a) {
				return a
			}
		}
		return addrs[n%uint64(len(addrs))]
	}
}

func (b *scriptBalancer) failed(addr string) bool {
	for _, o := range b.outcomes(addr) {
		if o.Err != nil {
			return true
		}
	}
	return false
}

func (b *scriptBalancer) Pick() (h2relay.Call, bool) {
	return scriptCall{b, b.pick(b.picks.Add(1))}, true
}

func (b *scriptBalancer) outcomes(addr string) []h2relay.Outcome {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]h2relay.Outcome(nil), b.ends[addr]...)
}

type scriptCall struct {
	b    *scriptBalancer
	addr string
}

func (c scriptCall) Addr() string { return c.addr }
func (scriptCall) FirstResponse() {}
func (c scriptCall) End(o h2relay.Outcome) {
	c.b.mu.Lock()
	c.b.ends[c.addr] = append(c.b.ends[c.addr], o)
	c.b.mu.Unlock()
}

func startRelayBal(t *testing.T, o h2relay.Options, bal h2relay.Balancer) (*h2relay.Server, string) {
	t.Helper()
	srv := h2relay.NewServer(route.NewTable("c"), map[string]h2relay.Balancer{"c": bal}, o)
	return srv, testutil.Serve(t, srv)
}

// unaryAll makes n calls, at most par at once, and returns their errors.
func unaryAll(client testpb.TestServiceClient, n, par int) []error {
	errs, _ := unaryTimed(client, n, par, 10*time.Second)
	return errs
}

// unaryTimed makes n calls, at most par at once, each within timeout, and
// returns their errors and latencies, by call.
func unaryTimed(client testpb.TestServiceClient, n, par int, timeout time.Duration) ([]error, []time.Duration) {
	errs, lat := make([]error, n), make([]time.Duration, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			_, errs[i] = client.UnaryCall(ctx, &testpb.SimpleRequest{})
			lat[i] = time.Since(start)
		})
	}
	wg.Wait()
	return errs, lat
}

// crashable is a real gRPC backend whose crash is abrupt: its listener
// and every connection close at once, with nothing sent.
type crashable struct {
	*backend.Backend
	addr  string
	lis   net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

type trackingListener struct{ *crashable }

func (l trackingListener) Accept() (net.Conn, error) {
	nc, err := l.lis.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, nc)
		l.mu.Unlock()
	}
	return nc, err
}
func (l trackingListener) Close() error   { return l.lis.Close() }
func (l trackingListener) Addr() net.Addr { return l.lis.Addr() }

func startCrashable(t *testing.T, name string, opts ...grpc.ServerOption) *crashable {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &crashable{Backend: backend.New(name), addr: lis.Addr().String(), lis: lis}
	srv := grpc.NewServer(opts...)
	c.Register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(trackingListener{c})
	}()
	t.Cleanup(func() { srv.Stop(); <-done })
	return c
}

func (c *crashable) crash() {
	c.lis.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.conns {
		nc.Close()
	}
}

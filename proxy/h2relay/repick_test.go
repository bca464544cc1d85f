package h2relay_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/straitproxy/strait/examples/backend"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
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

func (c scriptCall) Addr() string              { return c.addr }
func (scriptCall) FirstResponse(time.Duration) {}
func (c scriptCall) End(o h2relay.Outcome) {
	c.b.mu.Lock()
	c.b.ends[c.addr] = append(c.b.ends[c.addr], o)
	c.b.mu.Unlock()
}

func startRelayBal(t *testing.T, o h2relay.Options, bal h2relay.Balancer) (*h2relay.Server, string) {
	t.Helper()
	srv := h2relay.NewServer(proxy.NewRouter("c"), map[string]h2relay.Balancer{"c": bal}, o)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return srv, lis.Addr().String()
}

// unaryAll makes n calls, at most par at once, and returns their errors.
func unaryAll(client testpb.TestServiceClient, n, par int) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, errs[i] = client.UnaryCall(ctx, &testpb.SimpleRequest{})
		})
	}
	wg.Wait()
	return errs
}

// Calls waiting for a dial that is refused go to the live endpoint, and
// the balancer hears of the refusal.
func TestWaitingCallsLeaveARefusedEndpoint(t *testing.T) {
	live := startBackend(t, "live")
	dead := deadAddr(t)
	bal := newScriptBalancer(nil)
	bal.pick = bal.ejecting(dead, live.addr)
	_, addr := startRelayBal(t, h2relay.Options{}, bal)
	client := dialClient(t, addr)
	for i, err := range unaryAll(client, 200, 50) {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	refused := 0
	for _, o := range bal.outcomes(dead) {
		if o.Err == nil {
			t.Fatalf("a call on the dead endpoint ended without an error: %+v", o)
		}
		if errors.Is(o.Err, syscall.ECONNREFUSED) {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no call waited for the refused dial: the balancer never saw it")
	}
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

// When an endpoint's connection is lost, calls still waiting for a
// stream slot on it (nothing sent) go to another endpoint with the
// messages the client sent meanwhile; the call already started there
// fails Unavailable.
func TestQueuedCallsSurviveALostConnection(t *testing.T) {
	const queued, queuedStreams = 8, 2
	a := startCrashable(t, "a", grpc.MaxConcurrentStreams(1))
	b := startBackend(t, "b")
	var toB atomic.Bool
	bal := newScriptBalancer(func(uint64) string {
		if toB.Load() {
			return b.addr
		}
		return a.addr
	})
	srv, addr := startRelayBal(t, h2relay.Options{MaxConnsPerEndpoint: 1}, bal)
	client := dialClient(t, addr)

	started, err := client.FullDuplexCall(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := started.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := started.Recv(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, queued)
	for range queued {
		go func() {
			_, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{})
			errc <- err
		}()
	}
	// Streams whose first message waits with them: what the client sent
	// meanwhile must move along.
	echo := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}
	var waitingStreams []testpb.TestService_FullDuplexCallClient
	for range queuedStreams {
		st, err := client.FullDuplexCall(ctxTimeout(t, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(echo); err != nil {
			t.Fatal(err)
		}
		waitingStreams = append(waitingStreams, st)
	}
	testutil.WaitFor(t, 5*time.Second, "the calls wait for a's only stream slot", func() bool {
		return h2relay.Waiting(srv) == queued+queuedStreams
	})
	toB.Store(true)
	a.crash()

	for i, st := range waitingStreams {
		if err := st.Send(echo); err != nil {
			t.Fatalf("queued stream %d: %v", i, err)
		}
		for range 2 {
			if _, err := st.Recv(); err != nil {
				t.Fatalf("queued stream %d: %v", i, err)
			}
		}
		st.CloseSend()
		if _, err := st.Recv(); err != io.EOF {
			t.Fatalf("queued stream %d ended with %v", i, err)
		}
	}

	for range queued {
		if err := <-errc; err != nil {
			t.Errorf("queued call: %v", err)
		}
	}
	if _, err := started.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("started call: got %v, want Unavailable", err)
	}
	outs := bal.outcomes(a.addr)
	if len(outs) != queued+queuedStreams+1 {
		t.Fatalf("a's calls ended %d times, want %d", len(outs), queued+queuedStreams+1)
	}
	for _, o := range outs {
		if o.Err == nil {
			t.Errorf("a call on the crashed endpoint ended without an error: %+v", o)
		}
	}
}

// With every endpoint down a call fails Unavailable after its bounded
// attempts, at once.
func TestAllEndpointsDownFailsFast(t *testing.T) {
	const calls = 20
	bal := newScriptBalancer(roundRobin(deadAddr(t), deadAddr(t)))
	_, addr := startRelayBal(t, h2relay.Options{}, bal)
	client := dialClient(t, addr)
	start := time.Now()
	for i, err := range unaryAll(client, calls, calls) {
		if status.Code(err) != codes.Unavailable {
			t.Errorf("call %d: got %v, want Unavailable", i, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("calls took %v to fail", d)
	}
	if n := bal.picks.Load(); n > 3*calls {
		t.Errorf("%d picks for %d calls, want at most 3 each", n, calls)
	}
}

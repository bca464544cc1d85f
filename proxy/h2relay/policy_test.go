package h2relay_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// policyRouter sends every call to cluster "c" under one retry policy.
type policyRouter struct{ p *h2relay.RetryPolicy }

func (policyRouter) Route(string) (string, bool)               { return "c", true }
func (r policyRouter) RetryPolicy(string) *h2relay.RetryPolicy { return r.p }

func unavailablePolicy() *h2relay.RetryPolicy {
	return &h2relay.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		BackoffMultiplier: 2, RetryableCodes: []codes.Code{codes.Unavailable}}
}

func startPolicyRelay(t *testing.T, o h2relay.Options, p *h2relay.RetryPolicy, bal h2relay.Balancer) string {
	t.Helper()
	srv := h2relay.NewServer(policyRouter{p}, map[string]h2relay.Balancer{"c": bal}, o)
	return testutil.Serve(t, srv)
}

// lbBalancer is the lb core over addrs, as strait runs it.
func lbBalancer(t *testing.T, addrs ...string) h2relay.LBPool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	guard := upstream.NewGuard("c", static.New(addrs), slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { guard.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-guard.Ready()
	bal, stop := h2relay.NewLBPool(lb.NewPool("c", lb.Options{}), guard)
	t.Cleanup(stop)
	return bal
}

// attemptsSeen records the grpc-previous-rpc-attempts each call carried.
type attemptsSeen struct {
	mu   sync.Mutex
	seen map[string]int
}

func (a *attemptsSeen) interceptor() grpc.ServerOption {
	a.seen = map[string]int{}
	return grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		v := ""
		if vs := md.Get("grpc-previous-rpc-attempts"); len(vs) > 0 {
			v = vs[0]
		}
		a.mu.Lock()
		a.seen[v]++
		a.mu.Unlock()
		return h(ctx, req)
	})
}

func (a *attemptsSeen) count(v string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[v]
}

// An endpoint that fails every call fast costs the clients nothing when
// the route retries Unavailable: each failed attempt is retried on
// another endpoint, and says so in grpc-previous-rpc-attempts. Round
// robin (no breaker) keeps sending a third of the calls to it.
func TestFastFailingEndpointIsRetried(t *testing.T) {
	var seen attemptsSeen
	opt := seen.interceptor()
	bad, b1, b2 := startBackend(t, "bad", opt), startBackend(t, "b1", opt), startBackend(t, "b2", opt)
	bad.SetFailure(1, codes.Unavailable)
	var log retryLog
	addr := startPolicyRelay(t, log.options(h2relay.Options{}), unavailablePolicy(), roundRobinOver(bad.addr, b1.addr, b2.addr))
	client := dialClient(t, addr, grpc.WithUnaryInterceptor(noHeadersInterceptor))
	const calls = 300
	for i, err := range unaryAll(client, calls, 8) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	failed := int(bad.Calls())
	if failed == 0 {
		t.Fatal("no call reached the failing endpoint")
	}
	if got := log.count(h2relay.RetryStatus); got != failed {
		t.Fatalf("%d retries for %d failed attempts", got, failed)
	}
	if int(b1.Calls()+b2.Calls()) != calls {
		t.Fatalf("healthy endpoints answered %d calls, want %d", b1.Calls()+b2.Calls(), calls)
	}
	if n := seen.count("1") + seen.count("2"); n != failed {
		t.Fatalf("%d attempts carried grpc-previous-rpc-attempts, want %d", n, failed)
	}
}

// When every endpoint fails, retries stay within the cluster's budget:
// counted at the endpoints, the calls are the originals plus at most the
// budget's ratio of them and its floor.
func TestRetriesStayWithinTheBudget(t *testing.T) {
	bs := []*testBackend{startBackend(t, "b0"), startBackend(t, "b1"), startBackend(t, "b2")}
	addrs := make([]string, len(bs))
	for i, b := range bs {
		b.SetFailure(1, codes.Unavailable)
		addrs[i] = b.addr
	}
	var log retryLog
	const ratio, perSecond = 0.2, 1
	bal := roundRobinOver(addrs...).withBudget(h2relay.NewRetryBudget(ratio, perSecond))
	addr := startPolicyRelay(t, log.options(h2relay.Options{}), unavailablePolicy(), bal)
	client := dialClient(t, addr, grpc.WithUnaryInterceptor(noHeadersInterceptor))
	const calls = 400
	for i, err := range unaryAll(client, calls, 8) {
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("call %d: %v, want Unavailable from the endpoints", i, err)
		}
	}
	var seen uint64
	for _, b := range bs {
		seen += b.Calls()
	}
	retries := int(seen) - calls
	// The window is ten seconds: the floor allows ten retries within it.
	if max := int(ratio*calls) + 10*perSecond; retries > max || retries < calls/10 {
		t.Fatalf("%d retries reached the endpoints for %d calls; the budget allows %d", retries, calls, max)
	}
	if log.count(h2relay.NotRetriedBudget) == 0 {
		t.Fatal("no retry was refused by the budget")
	}
}

// One endpoint of three killed under load: with the route retrying
// Unavailable, no call fails. The calls it had in flight are retried
// elsewhere, the calls picked for it meanwhile are picked again.
func TestKilledEndpointUnderLoadCostsNoCall(t *testing.T) {
	c0, c1, c2 := startCrashable(t, "c0"), startCrashable(t, "c1"), startCrashable(t, "c2")
	for _, c := range []*crashable{c0, c1, c2} {
		c.SetLatency(2 * time.Millisecond) // calls in flight when it dies
	}
	var log retryLog
	addr := startPolicyRelay(t, log.options(h2relay.Options{}), unavailablePolicy(), lbBalancer(t, c0.addr, c1.addr, c2.addr))
	client := dialClient(t, addr)
	stop := make(chan struct{})
	var crash, done sync.Once
	crashed := make(chan struct{})
	calls, errs := load(16, 30*time.Second, stop, func(ctx context.Context) error {
		_, err := client.UnaryCall(noHeaders(ctx), &testpb.SimpleRequest{})
		if c0.Calls() >= 100 {
			crash.Do(func() { c0.crash(); close(crashed) })
		}
		select {
		case <-crashed:
			if c1.Calls()+c2.Calls() > 1500 {
				done.Do(func() { close(stop) })
			}
		default:
		}
		return err
	})
	select {
	case <-crashed:
	default:
		t.Fatal("the endpoint was never killed")
	}
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed, first: %v", len(errs), calls, errs[0])
	}
	t.Logf("%d calls, retries %v", calls, log.all())
}

// rrBalancer is round robin over fixed addresses, optionally budgeted.
type rrBalancer struct {
	addrs  []string
	next   *atomicCounter
	budget *h2relay.RetryBudget
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func roundRobinOver(addrs ...string) rrBalancer {
	return rrBalancer{addrs: addrs, next: &atomicCounter{}}
}

func (b rrBalancer) withBudget(rb *h2relay.RetryBudget) rrBalancer { b.budget = rb; return b }

func (b rrBalancer) Pick() (h2relay.Call, bool) {
	return addrCall(b.addrs[b.next.inc()%len(b.addrs)]), true
}

func (b rrBalancer) RetryBudget() *h2relay.RetryBudget { return b.budget }

// noHeaders asks the test backend to stage no response headers, so that
// its errors are trailers-only: the call has not committed when it
// fails. (A server that sends headers before failing commits the call,
// which is then never retried.)
func noHeaders(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, backend.NoHeadersKey, "1")
}

func noHeadersInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(noHeaders(ctx), method, req, reply, cc, opts...)
}

package h2relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// recorder is a Balancer over one address that keeps what the relay
// reports about each call.
type recorder struct {
	addr string
	mu   sync.Mutex
	ends []h2relay.Outcome
	firs int
}

type recCall struct{ r *recorder }

func (r *recorder) Pick() (h2relay.Call, bool) { return recCall{r}, true }
func (c recCall) Addr() string                 { return c.r.addr }
func (c recCall) FirstResponse() {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.firs++
}
func (c recCall) End(o h2relay.Outcome) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.ends = append(c.r.ends, o)
}

func (r *recorder) last(t *testing.T, n int) h2relay.Outcome {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, "the call's outcome", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.ends) >= n
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ends) != n {
		t.Fatalf("%d outcomes, want %d", len(r.ends), n)
	}
	return r.ends[n-1]
}

// The balancer hears each call's status, a lost connection as an
// error, and a client's cancel as local.
func TestOutcomesReachTheBalancer(t *testing.T) {
	b := startBackend(t, "b0")
	rec := &recorder{addr: b.addr}
	_, addr := startRelayBal(t, h2relay.Options{}, rec)
	client := dialClient(t, addr)
	ctx := ctxTimeout(t, 10*time.Second)

	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if o := rec.last(t, 1); o.Code != codes.OK || o.Err != nil || o.Local {
		t.Fatalf("success reported as %+v", o)
	}
	client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing: 100%"}})
	if o := rec.last(t, 2); o.Code != codes.NotFound || o.Message != "no such thing: 100%" || o.Err != nil {
		t.Fatalf("NotFound reported as %+v", o)
	}
	cctx, cancel := context.WithCancel(ctx)
	held, err := client.FullDuplexCall(metadata.AppendToOutgoingContext(cctx, backend.HoldKey, "1"))
	if err != nil {
		t.Fatal(err)
	}
	held.Header()
	cancel()
	if o := rec.last(t, 3); !o.Local {
		t.Fatalf("client cancel reported as %+v", o)
	}
	held, err = client.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, backend.HoldKey, "1"))
	if err != nil {
		t.Fatal(err)
	}
	held.Header()
	b.stop()
	if o := rec.last(t, 4); o.Err == nil {
		t.Fatalf("lost connection reported as %+v", o)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.firs != 4 {
		t.Fatalf("%d first-response latencies, want 4", rec.firs)
	}
}

// alternating picks a dead endpoint and a live one in turn and counts
// the calls it hands out and the ones ended.
type alternating struct {
	addrs       [2]string
	mu          sync.Mutex
	picks, ends int
}

type altCall struct {
	a    *alternating
	addr string
}

func (a *alternating) Pick() (h2relay.Call, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.picks++
	return altCall{a, a.addrs[a.picks%2]}, true
}
func (c altCall) Addr() string   { return c.addr }
func (c altCall) FirstResponse() {}
func (c altCall) End(h2relay.Outcome) {
	c.a.mu.Lock()
	defer c.a.mu.Unlock()
	c.a.ends++
}

// A call picked for an endpoint known to be down is ended and picked
// again: every pick is ended exactly once, and calls keep succeeding.
func TestRepickedCallsAreEnded(t *testing.T) {
	b := startBackend(t, "b0")
	alt := &alternating{addrs: [2]string{b.addr, testutil.DeadAddr(t)}}
	_, addr := startRelayBal(t, h2relay.Options{}, alt)
	client := dialClient(t, addr)
	failures := 0
	for range 20 {
		if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
			failures++
		}
	}
	if failures > 0 {
		t.Fatalf("%d of 20 calls failed; a call waiting for the dead endpoint's dial must be picked again", failures)
	}
	testutil.WaitFor(t, 5*time.Second, "every pick ended", func() bool {
		alt.mu.Lock()
		defer alt.mu.Unlock()
		return alt.picks == alt.ends
	})
}

// SetRoutes sends new calls by the new table.
func TestSetRoutes(t *testing.T) {
	b0, b1 := startBackend(t, "b0"), startBackend(t, "b1")
	to := func(addr string) map[string]h2relay.Balancer {
		return map[string]h2relay.Balancer{"c": &recorder{addr: addr}}
	}
	srv := h2relay.NewServer(route.NewTable("c"), to(b0.addr), h2relay.Options{})
	addr := testutil.Serve(t, srv)
	client := dialClient(t, addr)
	served := func() string {
		resp, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetHostname()
	}
	if got := served(); got != "b0" {
		t.Fatalf("served by %s, want b0", got)
	}
	if c, ok := srv.Route("/any.S/M"); !ok || c != "c" {
		t.Fatalf("Route = %q, %v", c, ok)
	}
	srv.SetRoutes(route.NewTable("c"), to(b1.addr))
	if got := served(); got != "b1" {
		t.Fatalf("after SetRoutes served by %s, want b1", got)
	}
	srv.SetRoutes(route.NewTable(""), to(b1.addr))
	if _, ok := srv.Route("/any.S/M"); ok {
		t.Fatal("Route found a cluster in an empty table")
	}
	if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("with no route: %v, want Unimplemented", err)
	}
}

package h2relay_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

var echoReq = &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}

func exchange(t *testing.T, st testpb.TestService_FullDuplexCallClient) {
	t.Helper()
	if err := st.Send(echoReq); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
}

// A connection whose peer vanished without a FIN or RST is found by its
// unanswered PING: the call on it fails Unavailable long before its
// deadline, the relay closes it, and later calls go to the live
// endpoint.
func TestKeepaliveClosesAVanishedConnection(t *testing.T) {
	// The quiet stream may be pinged before the freeze too: the backend
	// allows what the relay is told it allows.
	policy := grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 50 * time.Millisecond})
	a := startBackend(t, "a", policy)
	// b is pinged too when a call on it is slow (a loaded machine):
	// without the policy it would end the connection, too_many_pings.
	b := startBackend(t, "b", policy)
	fw := startForwarder(t, a.addr)
	var picked atomic.Bool
	rr := roundRobin(fw.addr, b.addr)
	bal := newScriptBalancer(func(n uint64) string {
		if picked.CompareAndSwap(false, true) {
			return fw.addr // the stream that will be stranded
		}
		return rr(n)
	})
	// The timeout is long enough for a loaded machine to answer a PING
	// on a live connection; the frozen one never answers at all.
	o := h2relay.Options{KeepaliveInterval: 100 * time.Millisecond, KeepaliveTimeout: time.Second, KeepaliveMinTime: 100 * time.Millisecond}
	_, addr := startRelayBal(t, o, bal)
	client := dialClient(t, addr)

	const deadline = 30 * time.Second
	stream, err := client.FullDuplexCall(ctxTimeout(t, deadline))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, stream)
	fw.freeze()
	start := time.Now()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("the stranded call: got %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stranded call failed after %v (deadline %v)", d, deadline)
	}
	testutil.WaitFor(t, 5*time.Second, "the relay closes the frozen connection", func() bool {
		return fw.relayClosed.Load() == 1
	})
	for i := range 20 {
		resp, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
		if err != nil {
			t.Fatalf("call %d after the loss: %v", i, err)
		}
		if resp.GetHostname() != "b" {
			t.Fatalf("call %d served by %q", i, resp.GetHostname())
		}
	}
	if !bal.failed(fw.addr) {
		t.Error("the balancer never heard of the lost endpoint")
	}
}

// When a middlebox drops a connection's flow, the calls waiting for a
// stream slot on it go to another endpoint, and once the loss is found
// the pool dials the endpoint afresh: its host is still there.
func TestKeepaliveMovesWaitingCallsAndRedials(t *testing.T) {
	const queued = 4
	policy := grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 50 * time.Millisecond})
	a := startBackend(t, "a", policy, grpc.MaxConcurrentStreams(1))
	b := startBackend(t, "b", policy) // pinged too when slow, as above
	fw := startForwarder(t, a.addr)
	var toB atomic.Bool
	rr := roundRobin(fw.addr, b.addr)
	bal := newScriptBalancer(func(n uint64) string {
		if toB.Load() {
			return rr(n)
		}
		return fw.addr
	})
	o := h2relay.Options{KeepaliveInterval: 100 * time.Millisecond, KeepaliveTimeout: time.Second,
		KeepaliveMinTime: 100 * time.Millisecond, MaxConnsPerEndpoint: 1}
	srv, addr := startRelayBal(t, o, bal)
	client := dialClient(t, addr)

	stream, err := client.FullDuplexCall(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, stream)
	errc := make(chan error, queued)
	for range queued {
		go func() {
			resp, err := client.UnaryCall(ctxTimeout(t, 30*time.Second), &testpb.SimpleRequest{})
			if err == nil && resp.GetHostname() != "b" {
				err = fmt.Errorf("served by %q, want b", resp.GetHostname())
			}
			errc <- err
		}()
	}
	testutil.WaitFor(t, 5*time.Second, "the calls wait for a's only stream slot", func() bool {
		return h2relay.Waiting(srv) == queued
	})
	toB.Store(true)
	fw.dropFlows()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("the stranded call: got %v, want Unavailable", err)
	}
	for range queued {
		if err := <-errc; err != nil {
			t.Errorf("a waiting call: %v", err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "a call reaches a again on a new connection", func() bool {
		resp, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
		if err != nil {
			t.Fatalf("a call after the loss: %v", err)
		}
		return resp.GetHostname() == "a"
	})
	if n := a.accepts.Load(); n != 2 {
		t.Errorf("a accepted %d connections, want 2", n)
	}
}

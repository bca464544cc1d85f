package h2relay_test

import (
	"io"
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
	b := startBackend(t, "b")
	fw := startForwarder(t, a.addr)
	var picked atomic.Bool
	rr := roundRobin(fw.addr, b.addr)
	bal := newScriptBalancer(func(n uint64) string {
		if picked.CompareAndSwap(false, true) {
			return fw.addr // the stream that will be stranded
		}
		return rr(n)
	})
	o := h2relay.Options{KeepaliveInterval: 100 * time.Millisecond, KeepaliveTimeout: 150 * time.Millisecond, KeepaliveMinTime: 100 * time.Millisecond}
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

// A healthy connection whose only stream is quiet for many intervals
// stays open: its PINGs are answered, and sent no more often than the
// backend's enforcement policy allows, so it never answers GOAWAY
// ENHANCE_YOUR_CALM (too_many_pings).
func TestKeepaliveSparesAQuietStream(t *testing.T) {
	const minTime = 300 * time.Millisecond
	a := startBackend(t, "a", grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minTime}))
	fw := startForwarder(t, a.addr)
	o := h2relay.Options{KeepaliveInterval: 100 * time.Millisecond, KeepaliveTimeout: 200 * time.Millisecond, KeepaliveMinTime: minTime}
	_, addr := startRelayBal(t, o, newScriptBalancer(roundRobin(fw.addr)))
	client := dialClient(t, addr)

	stream, err := client.FullDuplexCall(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, stream)
	start := time.Now()
	testutil.WaitFor(t, 10*time.Second, "keep-alive pings the quiet stream's connection", func() bool {
		return fw.pings.Load() >= 4
	})
	// At 100 ms intervals unchecked, 4 pings would come in ~0.4 s and
	// the backend would count 3 strikes.
	if d, least := time.Since(start), 3*minTime; d < least {
		t.Errorf("4 pings in %v: faster than the backend's MinTime %v allows", d, minTime)
	}
	exchange(t, stream)
	assertQuietEnd(t, stream, a, fw)
}

// A default grpc-go backend (MinTime 5 min) takes a PING after each
// message it sends: its strikes reset whenever it sends DATA. The relay
// uses that to ping a stream whose messages come further apart than the
// interval, with no complaint.
func TestKeepalivePingsAfterEachMessageToADefaultBackend(t *testing.T) {
	a := startBackend(t, "a")
	fw := startForwarder(t, a.addr)
	o := h2relay.Options{KeepaliveInterval: 50 * time.Millisecond, KeepaliveTimeout: 200 * time.Millisecond}
	_, addr := startRelayBal(t, o, newScriptBalancer(roundRobin(fw.addr)))
	client := dialClient(t, addr)

	stream, err := client.FullDuplexCall(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, stream)
	for i := range int64(8) {
		testutil.WaitFor(t, 5*time.Second, "a ping after the backend's last message", func() bool {
			return fw.pings.Load() > i
		})
		exchange(t, stream)
	}
	assertQuietEnd(t, stream, a, fw)
	testutil.Never(t, 300*time.Millisecond, "a ping on a connection without streams", func() bool {
		return fw.pings.Load() > 8
	})
}

// assertQuietEnd ends stream and checks that its connection was the
// backend's only one and never got GOAWAY ENHANCE_YOUR_CALM.
func assertQuietEnd(t *testing.T, stream testpb.TestService_FullDuplexCallClient, b *testBackend, fw *forwarder) {
	t.Helper()
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("end of the stream: %v", err)
	}
	if n := fw.calmGoAways.Load(); n != 0 {
		t.Errorf("the backend sent %d GOAWAY ENHANCE_YOUR_CALM", n)
	}
	if n := b.accepts.Load(); n != 1 {
		t.Errorf("the backend accepted %d connections, want 1", n)
	}
}

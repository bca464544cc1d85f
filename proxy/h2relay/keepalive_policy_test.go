package h2relay_test

import (
	"io"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
)

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

// With keep-alive off, a quiet connection gets no PING.
func TestKeepaliveOff(t *testing.T) {
	a := startBackend(t, "a")
	fw := startForwarder(t, a.addr)
	o := h2relay.Options{KeepaliveInterval: -1, KeepaliveTimeout: 10 * time.Millisecond}
	_, addr := startRelayBal(t, o, newScriptBalancer(roundRobin(fw.addr)))
	stream, err := dialClient(t, addr).FullDuplexCall(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, stream)
	testutil.Never(t, 300*time.Millisecond, "a ping with keep-alive off", func() bool {
		return fw.pings.Load() > 0
	})
	assertQuietEnd(t, stream, a, fw)
}

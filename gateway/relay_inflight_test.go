package gateway_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

const (
	duplex = "/grpc.testing.TestService/FullDuplexCall"
	unary  = "/grpc.testing.TestService/UnaryCall"
)

// testServiceConfig routes only grpc.testing.TestService, through the
// relay, to cluster g.
func testServiceConfig(endpoint string) string {
	return `
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: relay, routes: [{service: grpc.testing.TestService, cluster: g}]}]
clusters: {g: {endpoints: [` + endpoint + `]}}
timeouts: {drain: 5s}
`
}

func inFlight(t *testing.T, reg *prometheus.Registry, cluster, method string) float64 {
	return sum(t, reg, "strait_grpc_requests_in_flight", map[string]string{"cluster": cluster, "method": method})
}

func finished(t *testing.T, reg *prometheus.Registry, method, code string) float64 {
	labels := map[string]string{"method": method}
	if code != "" {
		labels["code"] = code
	}
	return sum(t, reg, "strait_grpc_requests_total", labels)
}

// openStream opens a FullDuplexCall and waits for the backend's echo, so
// that the call is surely open end to end.
func openStream(t *testing.T, ctx context.Context, conn *grpc.ClientConn) testpb.TestService_FullDuplexCallClient {
	t.Helper()
	st, err := testpb.NewTestServiceClient(conn).FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}
	if err := st.Send(req); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	return st
}

// settled waits until method has no call in flight and want calls
// finished, then checks that it stays so: a call counted out twice, or
// never, shows here.
func settled(t *testing.T, reg *prometheus.Registry, method, code string, want float64) {
	t.Helper()
	msg := "no call of " + method + " in flight, all counted finished"
	testutil.WaitFor(t, 10*time.Second, msg, func() bool {
		return inFlight(t, reg, "g", method) == 0 && finished(t, reg, method, code) == want
	})
	testutil.Never(t, 200*time.Millisecond, "in-flight or finished count moved after the calls ended", func() bool {
		return inFlight(t, reg, "g", method) != 0 || finished(t, reg, method, "") != want
	})
}

// meteredRelay starts a backend and, in front of it, a gateway whose
// relay counts into the returned registry; it returns the backend, a
// client connection to the gateway and a context for the test's calls.
func meteredRelay(t *testing.T) (*backend.Server, *grpc.ClientConn, *prometheus.Registry, context.Context) {
	t.Helper()
	b := backend.StartTest(t, "b1")
	_, addr, reg := startMetered(t, parse(t, testServiceConfig(b.Addr())))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return b, dial(t, addr, nil), reg, ctx
}

func TestRelayInFlightFollowsOpenStreams(t *testing.T) {
	_, conn, reg, ctx := meteredRelay(t)
	const n = 5
	var streams []testpb.TestService_FullDuplexCallClient
	for i := range n {
		streams = append(streams, openStream(t, ctx, conn))
		if got := inFlight(t, reg, "g", duplex); got != float64(i+1) {
			t.Fatalf("after opening %d streams: in flight = %v", i+1, got)
		}
	}
	for _, st := range streams {
		if err := st.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("stream end: %v, want EOF", err)
		}
	}
	settled(t, reg, duplex, "OK", n)
}

func TestRelayInFlightFallsWhenClientResets(t *testing.T) {
	_, conn, reg, ctx := meteredRelay(t)
	callCtx, reset := context.WithCancel(ctx)
	st := openStream(t, callCtx, conn)
	if got := inFlight(t, reg, "g", duplex); got != 1 {
		t.Fatalf("in flight = %v, want 1", got)
	}
	reset() // grpc-go sends RST_STREAM(CANCEL) mid-call
	if _, err := st.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("after reset: %v, want Canceled", err)
	}
	settled(t, reg, duplex, "Canceled", 1)
}

func TestRelayInFlightFallsWhenConnectionCloses(t *testing.T) {
	_, conn, reg, ctx := meteredRelay(t)
	const n = 3
	for range n {
		openStream(t, ctx, conn)
	}
	if got := inFlight(t, reg, "g", duplex); got != n {
		t.Fatalf("in flight = %v, want %d", got, n)
	}
	// Closing the ClientConn drops the TCP connection without resetting
	// the streams: the relay only sees the connection end.
	conn.Close()
	settled(t, reg, duplex, "Canceled", n)
}

func TestRelayInFlightFallsForUnroutedAndFailedCalls(t *testing.T) {
	b, conn, reg, ctx := meteredRelay(t)
	err := conn.Invoke(ctx, "/nope.S/M", &testpb.Empty{}, &testpb.Empty{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unrouted: %v, want Unimplemented", err)
	}
	unrouted := map[string]string{"cluster": "none", "method": "unrouted"}
	testutil.WaitFor(t, 10*time.Second, "the unrouted call counted, not in flight", func() bool {
		return sum(t, reg, "strait_grpc_requests_in_flight", unrouted) == 0 &&
			sum(t, reg, "strait_grpc_requests_total", unrouted) == 1
	})
	b.SetFailure(1, codes.Unavailable)
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("failing backend: %v, want Unavailable", err)
	}
	settled(t, reg, unary, "Unavailable", 1)
}

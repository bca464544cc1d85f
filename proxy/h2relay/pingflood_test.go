package h2relay_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// A grpc-go client pings once per batch of replies it reads, to size its
// windows (BDP estimation): at full speed that is close to one PING per
// reply. The PING flood limit must never take that for a flood. The
// limit here is far below what such a client sends, so counting those
// PINGs would end the connection within a second; a GOAWAY shows as a
// second dial (or failed calls).
func TestBusyClientPingsAreNoFlood(t *testing.T) {
	b := startBackend(t, "b0")
	addr := startRelay(t, h2relay.Options{PingRate: h2relay.Rate{PerSecond: 20, Burst: 20}}, b.addr)
	var dials atomic.Int64
	client := dialClient(t, addr, grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, "tcp", a)
	}))
	req := &testpb.SimpleRequest{ResponseSize: 512, Payload: &testpb.Payload{Body: make([]byte, 512)}}
	calls, errs := load(16, 30*time.Second, nil, func(ctx context.Context) error {
		_, err := client.UnaryCall(ctx, req)
		return err
	})
	if len(errs) > 0 {
		t.Fatalf("%d calls, %d+ failed; first: %v", calls, len(errs), errs[0])
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d calls over %d connections, want one: the relay ended a connection", calls, n)
	}
	t.Logf("%d calls in 30s over one connection", calls)
}

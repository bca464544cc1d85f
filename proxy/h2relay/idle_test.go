package h2relay_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// An idle client connection has no flusher goroutine and holds no read
// or write buffer, whether it carried calls or only its handshake; the
// next call finds them again.
func TestIdleConnectionHoldsNoFlusherNorBuffers(t *testing.T) {
	b := startBackend(t, "b0")
	srv, addr := startRelayServer(t, h2relay.Options{}, b.addr)
	client := dialClient(t, addr)
	if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, addr) // handshake only
	r.fr.WriteSettingsAck()
	var last string
	testutil.WaitFor(t, 10*time.Second, "two idle connections holding nothing", func() bool {
		f, rb, wb := h2relay.IdleHoldings(srv)
		last = fmt.Sprintf("%d connections: %d flushers, %d read buffers, %d write buffers", h2relay.Conns(srv), f, rb, wb)
		return h2relay.Conns(srv) == 2 && f == 0 && rb == 0 && wb == 0
	})
	t.Log(last)
	if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("a call on the connection once idle: %v", err)
	}
}

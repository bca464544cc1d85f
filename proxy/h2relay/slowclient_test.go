package h2relay_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

// grpcMessage frames m as one gRPC message.
func grpcMessage(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 5+len(b))
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
	copy(out[5:], b)
	return out
}

// Clients that let a large response pile up (a zero window: they never
// read a byte of DATA) share one upstream connection with everyone
// else. Each may hold its own stream's window, never the connection's:
// other clients' calls on that connection go on.
func TestSlowClientsDoNotStallTheirUpstreamConnection(t *testing.T) {
	b := startBackend(t, "b0")
	// One upstream connection, windows the size of the stall: four
	// streams' windows fill the connection's.
	addr := startRelay(t, h2relay.Options{MaxConnsPerEndpoint: 1, StreamWindow: 1 << 20, ConnWindow: 4 << 20}, b.addr)
	client := dialClient(t, addr)
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	var params []*testpb.ResponseParameters
	for range 8 {
		params = append(params, &testpb.ResponseParameters{Size: 1 << 20})
	}
	req := grpcMessage(t, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
	for range 4 {
		r := dialRaw(t, addr)
		if err := r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
			t.Fatal(err)
		}
		if err := r.headers(1, false); err != nil {
			t.Fatal(err)
		}
		if err := r.fr.WriteData(1, false, req); err != nil {
			t.Fatal(err)
		}
		r.until("response headers", func(f http2.Frame) bool { _, ok := f.(*http2.HeadersFrame); return ok })
	}
	big := &testpb.SimpleRequest{ResponseSize: 256 << 10}
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := client.UnaryCall(ctx, big)
		cancel()
		if err != nil {
			t.Fatalf("call %d beside the slow clients: %v", i, err)
		}
	}
}

// A client that opens every window and then stops reading its socket is
// dropped once a write to it stalls for WriteStall, instead of having
// the relay buffer what the backend sends for it.
func TestClientNotReadingIsDropped(t *testing.T) {
	b := startBackend(t, "b0")
	srv, addr := startRelayServer(t, h2relay.Options{WriteStall: 300 * time.Millisecond}, b.addr)
	var params []*testpb.ResponseParameters
	for range 16 {
		params = append(params, &testpb.ResponseParameters{Size: 1 << 20})
	}
	req := grpcMessage(t, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
	r := dialRaw(t, addr)
	if err := r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteWindowUpdate(0, 1<<31-1-65535); err != nil {
		t.Fatal(err)
	}
	if err := r.headers(1, false); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteData(1, false, req); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "the relay to drop a client that stopped reading", func() bool { return h2relay.Conns(srv) == 0 })
}

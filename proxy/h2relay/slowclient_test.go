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

// bigReplies frames one request for a server-streaming call answered
// with msgs messages of size bytes each.
func bigReplies(t *testing.T, msgs int, size int32) []byte {
	t.Helper()
	var params []*testpb.ResponseParameters
	for range msgs {
		params = append(params, &testpb.ResponseParameters{Size: size})
	}
	return grpcMessage(t, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
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
	req := bigReplies(t, 8, 1<<20)
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
	req := bigReplies(t, 16, 1<<20)
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

// Clients that open every window and then stop reading their sockets
// share one upstream connection with everyone else: what the endpoint
// sends for them goes through it ahead of other clients' replies, so it
// must stay small. Each of their streams pulls its starting window, each
// connection its write buffer and what its socket queues (limited by
// TCP_NOTSENT_LOWAT); without that limit the kernel queues megabytes
// per connection, the relay takes the clients for ones that keep up, and
// their streams' windows grow.
func TestNonReadingClientsPullLittleThroughTheirUpstreamConnection(t *testing.T) {
	b := startBackend(t, "b0")
	addr := startRelay(t, h2relay.Options{MaxConnsPerEndpoint: 1}, b.addr)
	client := dialClient(t, addr)
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	req := bigReplies(t, 32, 256<<10)
	const conns, streams = 4, 25
	const windows = conns * streams * 64 << 10 // each stream's starting window
	before := b.written.Load()
	for range conns {
		r := dialRaw(t, addr)
		if err := r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}); err != nil {
			t.Fatal(err)
		}
		if err := r.fr.WriteWindowUpdate(0, 1<<31-1-65535); err != nil {
			t.Fatal(err)
		}
		for i := range uint32(streams) {
			if err := r.headers(1+2*i, false); err != nil {
				t.Fatal(err)
			}
			if err := r.fr.WriteData(1+2*i, false, req); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Wait until the endpoint has written nothing more for a while: the
	// non-reading clients' streams are stalled.
	var pulled int64
	changed := time.Now()
	testutil.WaitFor(t, 30*time.Second, "the non-reading clients' streams to stall", func() bool {
		if n := b.written.Load() - before; n != pulled {
			pulled, changed = n, time.Now()
		}
		return pulled >= windows && time.Since(changed) > 500*time.Millisecond
	})
	// Per connection 1 MiB of write buffer, up to as much again in the
	// write under way, and what the two sockets hold: 3.5 MiB. Without
	// the limit on what a socket queues this was 43 MiB.
	const bound = windows + conns*(7<<19)
	t.Logf("the endpoint wrote %.1f MiB for the non-reading clients (bound %.1f MiB)", float64(pulled)/(1<<20), float64(bound)/(1<<20))
	if pulled > bound {
		t.Fatalf("the endpoint wrote %d bytes for clients that do not read; want at most %d", pulled, bound)
	}
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("a call beside the non-reading clients: %v", err)
	}
}

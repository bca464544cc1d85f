package h2relay_test

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

func TestIdleUpstreamConnectionsClose(t *testing.T) {
	b := startBackend(t, "b0")
	client := dialClient(t, startRelay(t, h2relay.Options{IdleTimeout: 100 * time.Millisecond}, b.addr))
	if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the idle upstream connection closes", func() bool {
		return b.accepts.Load() == 1 && b.open.Load() == 0
	})
	if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("a call after the idle close: %v", err)
	}
}

// Shutdown lets a call in progress finish, then returns.
func TestShutdownFinishesCallsInFlight(t *testing.T) {
	b := startBackend(t, "b0")
	srv, addr := startRelayServer(t, h2relay.Options{}, b.addr)
	client := dialClient(t, addr)
	stream, err := client.FullDuplexCall(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ping := func() error {
		if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 10}}}); err != nil {
			return err
		}
		_, err := stream.Recv()
		return err
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	if err := ping(); err != nil {
		t.Fatalf("the call in flight during shutdown: %v", err)
	}
	select {
	case <-done:
		t.Fatal("Shutdown returned with a call in flight")
	default:
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("end of the call: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return once the call ended")
	}
}

// A client may open a stream before it reads the GOAWAY: Shutdown refuses
// it (clients retry a refused stream elsewhere), and closes the
// connection only once the client has acknowledged the PING that follows
// the GOAWAY. Closed when the last call ended instead, the connection
// could take with it a stream the client had just sent, which the client
// cannot know to retry.
func TestShutdownClosesOnceTheClientReadGoAway(t *testing.T) {
	b := startBackend(t, "b0")
	srv, addr := startRelayServer(t, h2relay.Options{}, b.addr)
	r := dialRaw(t, addr)
	r.until("the relay's SETTINGS", func(f http2.Frame) bool { _, ok := f.(*http2.SettingsFrame); return ok })
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	r.until("GOAWAY", func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	ping := r.until("the drain PING", func(f http2.Frame) bool {
		p, ok := f.(*http2.PingFrame)
		return ok && !p.IsAck()
	}).(*http2.PingFrame)
	if err := r.headers(1, true); err != nil {
		t.Fatal(err)
	}
	if code := r.reset(1); code != http2.ErrCodeRefusedStream {
		t.Fatalf("a stream opened after the GOAWAY was reset with %v, want REFUSED_STREAM", code)
	}
	r.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if f, err := r.fr.ReadFrame(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("before the PING's ack the relay sent %v, %v; want nothing, the connection open", f, err)
	}
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := r.fr.WritePing(true, ping.Data); err != nil {
		t.Fatal(err)
	}
	r.closed()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return once the connection closed")
	}
}

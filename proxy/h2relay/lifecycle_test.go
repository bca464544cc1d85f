package h2relay_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
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

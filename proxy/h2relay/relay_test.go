package h2relay_test

import (
	"context"
	"io"
	"sync"
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

func unary(client interface {
	UnaryCall(context.Context, *testpb.SimpleRequest, ...grpc.CallOption) (*testpb.SimpleResponse, error)
}) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 100})
		return err
	}
}

// A backend that sends GOAWAY about every second and takes 10 streams
// per connection: the relay must queue, open more connections, move
// queued calls off draining ones, and lose none.
func TestGoAwayEverySecondWithTenStreamsUnderLoad(t *testing.T) {
	b := startBackend(t, "b0", grpc.MaxConcurrentStreams(10),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: time.Second, MaxConnectionAgeGrace: 30 * time.Second}))
	b.SetLatency(time.Millisecond)
	client := dialClient(t, startRelay(t, h2relay.Options{}, b.addr))
	calls, errs := load(40, 3500*time.Millisecond, nil, unary(client))
	t.Logf("%d calls, backend accepted %d connections", calls, b.accepts.Load())
	if len(errs) > 0 {
		t.Fatalf("%d calls, %d errors, first: %v", calls, len(errs), errs[0])
	}
	if got := b.accepts.Load(); got < 3 {
		t.Fatalf("backend accepted %d connections: GOAWAY never forced a reconnect", got)
	}
	if calls < 200 {
		t.Fatalf("only %d calls in 3.5s: the relay stalls", calls)
	}
}

// With windows far smaller than the messages, every byte must still
// arrive, in order, with trailers after the data.
func TestSmallWindows(t *testing.T) {
	win := []grpc.ServerOption{grpc.InitialWindowSize(1 << 16), grpc.InitialConnWindowSize(1 << 16)}
	b := startBackend(t, "b0", win...)
	addr := startRelay(t, h2relay.Options{StreamWindow: 1000, ConnWindow: 65535}, b.addr)
	client := dialClient(t, addr, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	ctx := ctxTimeout(t, 30*time.Second)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			in, err := client.StreamingInputCall(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			for range 20 {
				if err := in.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 100_000)}}); err != nil {
					t.Error(err)
					return
				}
			}
			resp, err := in.CloseAndRecv()
			if err != nil || resp.GetAggregatedPayloadSize() != 2_000_000 {
				t.Errorf("client stream: %v, %d bytes", err, resp.GetAggregatedPayloadSize())
			}
		})
		wg.Go(func() {
			req := &testpb.StreamingOutputCallRequest{}
			for range 10 {
				req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: 200_000})
			}
			out, err := client.StreamingOutputCall(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range 10 {
				m, err := out.Recv()
				if err != nil || len(m.GetPayload().GetBody()) != 200_000 {
					t.Errorf("message %d: %v", i, err)
					return
				}
			}
			if _, err := out.Recv(); err != io.EOF {
				t.Errorf("end of server stream: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestLargeMessages(t *testing.T) {
	b := startBackend(t, "b0", grpc.MaxRecvMsgSize(32<<20), grpc.MaxSendMsgSize(32<<20))
	client := dialClient(t, startRelay(t, h2relay.Options{MaxMessageSize: 32 << 20}, b.addr))
	ctx := ctxTimeout(t, 60*time.Second)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 16 << 20, Payload: &testpb.Payload{Body: make([]byte, 16<<20)}})
			if err != nil || len(resp.GetPayload().GetBody()) != 16<<20 {
				t.Errorf("16 MiB each way: %v", err)
			}
		})
	}
	wg.Wait()
}

// Killing one of two backends under load fails at most the calls in
// flight on it, with Unavailable; the rest go to the survivor.
func TestBackendKilledMidLoad(t *testing.T) {
	b0, b1 := startBackend(t, "b0"), startBackend(t, "b1")
	client := dialClient(t, startRelay(t, h2relay.Options{}, b0.addr, b1.addr))
	const workers = 20
	stop := make(chan struct{})
	type result struct {
		calls int64
		errs  []error
	}
	res := make(chan result, 1)
	go func() {
		calls, errs := load(workers, 30*time.Second, stop, unary(client))
		res <- result{calls, errs}
	}()
	testutil.WaitFor(t, 10*time.Second, "load reaches both backends", func() bool {
		return b0.Calls() > 200 && b1.Calls() > 200
	})
	b1.stop()
	after := b0.Calls()
	testutil.WaitFor(t, 10*time.Second, "survivor serves 1000 more calls", func() bool {
		return b0.Calls() > after+1000
	})
	close(stop)
	r := <-res
	if len(r.errs) > workers {
		t.Fatalf("%d errors of %d calls, more than the %d in flight", len(r.errs), r.calls, workers)
	}
	for _, err := range r.errs {
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("error %v, want Unavailable", err)
		}
	}
}

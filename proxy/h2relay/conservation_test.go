package h2relay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// lbCluster is an lb.Pool over addrs behind the relay's LBPool; stop
// ends its discovery (also at the test's end).
func lbCluster(t *testing.T, name string, addrs ...string) (*lb.Pool, h2relay.Balancer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	guard := upstream.NewGuard(name, static.New(addrs), slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { guard.Run(ctx); close(done) }()
	<-guard.Ready()
	pool := lb.NewPool(name, lb.Options{})
	bal, unsubscribe := h2relay.NewLBPool(pool, guard)
	stop := sync.OnceFunc(func() { unsubscribe(); cancel(); <-done })
	t.Cleanup(stop)
	return pool, bal, stop
}

// Thousands of calls of every kind and ending through one client
// connection give back everything they took: the balancer's in-flight
// counts, the streams open on the client and upstream connections, the
// in-flight gauge fed by Begin and Observe, and their goroutines.
func TestEveryCallGivesBackWhatItTook(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	b0, b1 := startBackend(t, "b0"), startBackend(t, "b1")
	odd, stopOdd := testutil.StartNoTrailers(t)
	grpcPool, grpcBal, stopGRPC := lbCluster(t, "grpc", b0.addr, b1.addr)
	oddPool, oddBal, stopOddCluster := lbCluster(t, "odd", odd)
	table := route.NewTable("grpc")
	table.AddService("odd.Odd", "odd")
	// EmptyCall is hedged after 1ms, so that most of its calls race two
	// or three attempts; NotFound (no endpoint's fault) is non-fatal.
	router := hedgedTable{table, &h2relay.HedgePolicy{MaxAttempts: 3, Delay: time.Millisecond, NonFatalCodes: []codes.Code{codes.NotFound}}}
	var gauge atomic.Int64
	srv := h2relay.NewServer(router, map[string]h2relay.Balancer{"grpc": grpcBal, "odd": oddBal}, h2relay.Options{
		Begin:   func(string, string) any { gauge.Add(1); return nil },
		Observe: func(h2relay.Observation) { gauge.Add(-1) },
	})
	addr := testutil.Serve(t, srv)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecureCreds()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := testpb.NewTestServiceClient(conn)

	kinds := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"unary", func(ctx context.Context) error {
			_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
			return err
		}},
		{"unary status", func(ctx context.Context) error {
			_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound)}})
			return wantCode(err, codes.NotFound)
		}},
		{"server stream", func(ctx context.Context) error {
			s, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 10}, {Size: 2000}, {Size: 1}}})
			if err != nil {
				return err
			}
			return drain(s.Recv)
		}},
		{"client stream", func(ctx context.Context) error {
			s, err := client.StreamingInputCall(ctx)
			if err != nil {
				return err
			}
			for range 3 {
				s.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 100)}})
			}
			_, err = s.CloseAndRecv()
			return err
		}},
		{"bidi", func(ctx context.Context) error {
			s, err := client.FullDuplexCall(ctx)
			if err != nil {
				return err
			}
			for range 3 {
				s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 50}}})
				if _, err := s.Recv(); err != nil {
					return err
				}
			}
			s.CloseSend()
			return drain(s.Recv)
		}},
		{"bidi early status", func(ctx context.Context) error {
			// The status comes while the client still sends: its
			// END_STREAM may reach the relay after the trailers.
			s, err := client.FullDuplexCall(ctx)
			if err != nil {
				return err
			}
			s.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.Aborted)}})
			s.Send(&testpb.StreamingOutputCallRequest{})
			s.CloseSend()
			return wantCode(drain(s.Recv), codes.Aborted)
		}},
		{"client cancel", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			s, err := client.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, backend.HoldKey, "1"))
			if err != nil {
				cancel()
				return err
			}
			s.Header()
			cancel()
			return wantCode(drain(s.Recv), codes.Canceled)
		}},
		{"deadline", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			_, err := client.UnaryCall(metadata.AppendToOutgoingContext(ctx, "x-demo-latency", "1s"), &testpb.SimpleRequest{})
			return wantCode(err, codes.DeadlineExceeded)
		}},
		{"hedged", func(ctx context.Context) error {
			_, err := client.EmptyCall(metadata.AppendToOutgoingContext(ctx, "x-demo-latency", "2ms"), &testpb.Empty{})
			return err
		}},
		{"hedged, every attempt non-fatal", func(ctx context.Context) error {
			_, err := client.EmptyCall(metadata.AppendToOutgoingContext(ctx, "x-demo-fail", "not_found", backend.NoHeadersKey, "1"), &testpb.Empty{})
			return wantCode(err, codes.NotFound)
		}},
		{"hedged, client cancel", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			defer cancel()
			_, err := client.EmptyCall(metadata.AppendToOutgoingContext(ctx, "x-demo-latency", "1s"), &testpb.Empty{})
			return wantCode(err, codes.DeadlineExceeded)
		}},
		{"backend reset", func(ctx context.Context) error {
			err := conn.Invoke(ctx, "/odd.Odd/Reset", &testpb.Empty{}, &testpb.Empty{})
			if err == nil {
				return errors.New("a reset stream succeeded")
			}
			return nil
		}},
		{"no trailers", func(ctx context.Context) error {
			return wantCode(conn.Invoke(ctx, "/odd.Odd/NoTrailers", &testpb.Empty{}, &testpb.Empty{}), codes.Internal)
		}},
	}
	const calls, workers = 2000, 8
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, calls)
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < calls; i = next.Add(1) - 1 {
				k := kinds[i%int64(len(kinds))]
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				if err := k.call(ctx); err != nil {
					errc <- fmt.Errorf("%s: %w", k.name, err)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}

	inFlight := func(p *lb.Pool) (n int64) {
		for _, e := range p.Stats().Endpoints {
			n += e.InFlight
		}
		return n
	}
	var last string
	defer func() {
		if t.Failed() {
			t.Log(last)
		}
	}()
	testutil.WaitFor(t, 20*time.Second, "every counter back to zero", func() bool {
		open, g, n0, n1 := h2relay.Open(srv), gauge.Load(), inFlight(grpcPool), inFlight(oddPool)
		last = fmt.Sprintf("open %+v, in-flight gauge %d, balancer in flight %d and %d", open, g, n0, n1)
		return open == h2relay.OpenCounts{} && g == 0 && n0 == 0 && n1 == 0
	})
	conn.Close()
	srv.Stop()
	b0.stop()
	b1.stop()
	stopOdd()
	stopGRPC()
	stopOddCluster()
	goleak.VerifyNone(t, baseline)
}

// drain receives until the stream ends; a clean end is nil.
func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func wantCode(err error, want codes.Code) error {
	if got := status.Code(err); got != want {
		return fmt.Errorf("got %v, want %v", err, want)
	}
	return nil
}

// hedgedTable routes as its table and hedges EmptyCall under p.
type hedgedTable struct {
	*route.Table
	p *h2relay.HedgePolicy
}

func (h hedgedTable) HedgePolicy(method string) *h2relay.HedgePolicy {
	if method == "/grpc.testing.TestService/EmptyCall" {
		return h.p
	}
	return nil
}

// Package backend is the gRPC backend the tests and benchmarks run
// against, and the one the demo serves (examples/backend):
// helloworld.Greeter and grpc.testing.TestService, with health and
// reflection, plus knobs to add latency or fail on request.
//
// Knobs are set on the Backend (SetLatency, SetFailure, SetServing) or per
// call with request metadata: "x-demo-latency" (a Go duration) and
// "x-demo-fail" (a gRPC code name such as "unavailable").
package backend

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Backend holds the knobs and counters of one demo backend. Safe for
// concurrent use.
type Backend struct {
	name       string
	latency    atomic.Int64 // nanoseconds
	failCode   atomic.Uint32
	failEvery  atomic.Uint64 // fail one call in failEvery; 0 never
	spike      atomic.Int64  // nanoseconds one call in spikeEvery waits
	spikeEvery atomic.Uint64
	calls      atomic.Uint64
	cancelled  atomic.Uint64
	health     *health.Server
}

// New returns a Backend that names itself name in its replies.
func New(name string) *Backend {
	return &Backend{name: name, health: health.NewServer()}
}

// Name is the name the backend puts in its replies.
func (b *Backend) Name() string { return b.name }

// SetLatency makes every call wait d before answering.
func (b *Backend) SetLatency(d time.Duration) { b.latency.Store(int64(d)) }

// SetSpikes makes one call in every `every` wait d instead of the set
// latency (0 stops the spikes): a node whose tail is slow.
func (b *Backend) SetSpikes(every uint64, d time.Duration) {
	b.spike.Store(int64(d))
	b.spikeEvery.Store(every)
}

// SetFailure makes one call in every `every` fail with code (every 1 fails
// all calls, 0 none).
func (b *Backend) SetFailure(every uint64, code codes.Code) {
	b.failCode.Store(uint32(code))
	b.failEvery.Store(every)
}

// SetServing sets what grpc.health.v1 reports, for the empty service name
// and every registered service.
func (b *Backend) SetServing(serving bool) {
	if serving {
		b.health.Resume()
		return
	}
	b.health.Shutdown()
}

// Calls is how many calls the backend has received.
func (b *Backend) Calls() uint64 { return b.calls.Load() }

// Cancelled is how many calls saw their context end before they finished.
func (b *Backend) Cancelled() uint64 { return b.cancelled.Load() }

// Register adds the backend's services to s: Greeter, TestService, health
// and reflection.
func (b *Backend) Register(s *grpc.Server) {
	pb.RegisterGreeterServer(s, greeter{b: b})
	testgrpc.RegisterTestServiceServer(s, &testService{b: b})
	healthpb.RegisterHealthServer(s, b.health)
	reflection.Register(s)
}

// admit counts the call and applies the latency and failure knobs, the
// per-call metadata overriding the backend's settings.
func (b *Backend) admit(ctx context.Context) error {
	n := b.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	delay := time.Duration(b.latency.Load())
	if every := b.spikeEvery.Load(); every > 0 && n%every == 0 {
		delay = time.Duration(b.spike.Load())
	}
	if v := first(md, "x-demo-latency"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "x-demo-latency: %v", err)
		}
		delay = d
	}
	if delay > 0 {
		if err := b.wait(ctx, delay); err != nil {
			return err
		}
	}
	if v := first(md, "x-demo-fail"); v != "" {
		c, ok := CodeByName(v)
		if !ok {
			return status.Errorf(codes.InvalidArgument, "x-demo-fail: unknown code %q", v)
		}
		return status.Errorf(c, "%s: failing on request", b.name)
	}
	if every := b.failEvery.Load(); every > 0 && n%every == 0 {
		return status.Errorf(codes.Code(b.failCode.Load()), "%s: failing by setting", b.name)
	}
	return nil
}

// wait sleeps d or until ctx ends; an ended context is counted.
func (b *Backend) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		b.cancelled.Add(1)
		return status.FromContextError(ctx.Err()).Err()
	}
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// CodeByName parses a gRPC code name such as "unavailable" or
// "DEADLINE_EXCEEDED".
func CodeByName(name string) (codes.Code, bool) {
	var c codes.Code
	err := c.UnmarshalJSON([]byte(`"` + strings.ToUpper(name) + `"`))
	return c, err == nil
}

type greeter struct {
	pb.UnimplementedGreeterServer
	b *Backend
}

func (g greeter) SayHello(ctx context.Context, in *pb.HelloRequest) (*pb.HelloReply, error) {
	if err := g.b.admit(ctx); err != nil {
		return nil, err
	}
	return &pb.HelloReply{Message: fmt.Sprintf("Hello %s from %s", in.GetName(), g.b.name)}, nil
}

// Server is a Backend serving on a loopback listener.
type Server struct {
	*Backend
	GRPC *grpc.Server
	lis  net.Listener
	done chan struct{}
}

// Start serves a new Backend named name on addr ("127.0.0.1:0" picks a
// free port). Stop it with Stop.
func Start(addr, name string, opts ...grpc.ServerOption) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	s := &Server{Backend: New(name), GRPC: grpc.NewServer(opts...), lis: lis, done: make(chan struct{})}
	s.Register(s.GRPC)
	go func() {
		defer close(s.done)
		_ = s.GRPC.Serve(lis)
	}()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Stop closes the listener and every connection at once, like a crash.
func (s *Server) Stop() {
	s.GRPC.Stop()
	<-s.done
}

// StartTest starts a backend named name on a free loopback port for a
// test: a failure to start fails the test, and the backend stops when the
// test ends.
func StartTest(t testing.TB, name string, opts ...grpc.ServerOption) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartN starts n backends with StartTest, named prefix0, prefix1, ...,
// and returns them and their addresses in that order.
func StartN(t testing.TB, prefix string, n int) ([]*Server, []string) {
	t.Helper()
	servers := make([]*Server, n)
	addrs := make([]string, n)
	for i := range n {
		servers[i] = StartTest(t, fmt.Sprintf("%s%d", prefix, i))
		addrs[i] = servers[i].Addr()
	}
	return servers, addrs
}

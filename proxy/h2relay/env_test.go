package h2relay_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// testBackend is a demo backend on a listener that counts the
// connections it accepts, so tests can see reconnects.
type testBackend struct {
	*backend.Backend
	srv     *grpc.Server
	addr    string
	accepts atomic.Int64
	open    atomic.Int64 // connections not yet closed
	written atomic.Int64 // bytes written to its connections
	done    chan struct{}
}

type countingListener struct {
	net.Listener
	n, open, written *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.n.Add(1)
	l.open.Add(1)
	return &countedConn{Conn: c, open: l.open, written: l.written}, nil
}

// countedConn counts itself out of open when closed, and the bytes
// written to it.
type countedConn struct {
	net.Conn
	open, written *atomic.Int64
	once          sync.Once
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

func startBackend(t testing.TB, name string, opts ...grpc.ServerOption) *testBackend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{Backend: backend.New(name), srv: grpc.NewServer(opts...), addr: lis.Addr().String(), done: make(chan struct{})}
	b.Register(b.srv)
	go func() {
		defer close(b.done)
		b.srv.Serve(countingListener{lis, &b.accepts, &b.open, &b.written})
	}()
	t.Cleanup(b.stop)
	return b
}

// stop ends the backend at once, like a crash.
func (b *testBackend) stop() {
	b.srv.Stop()
	<-b.done
}

// startRelay serves a relay in front of addrs (round robin) and returns
// its address.
func startRelay(t testing.TB, o h2relay.Options, addrs ...string) string {
	t.Helper()
	_, addr := startRelayServer(t, o, addrs...)
	return addr
}

func startRelayServer(t testing.TB, o h2relay.Options, addrs ...string) (*h2relay.Server, string) {
	t.Helper()
	guard := guardtest.Static(t, "c", addrs...)
	rr, stopRR := h2relay.NewRoundRobin(guard)
	t.Cleanup(stopRR)
	srv := h2relay.NewServer(route.NewTable("c"), map[string]h2relay.Balancer{"c": rr}, o)
	return srv, testutil.Serve(t, srv)
}

func dialClient(t *testing.T, addr string, opts ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	opts = append(opts, grpc.WithTransportCredentials(insecureCreds()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testgrpc.NewTestServiceClient(conn)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// load runs workers that call fn until stop is closed or d passes, and
// returns the calls made and the errors seen.
func load(workers int, d time.Duration, stop <-chan struct{}, fn func(ctx context.Context) error) (calls int64, errs []error) {
	var n atomic.Int64
	errc := make(chan error, workers*16)
	deadline := time.After(d)
	quit := make(chan struct{})
	finished := make(chan struct{}, workers)
	for range workers {
		go func() {
			defer func() { finished <- struct{}{} }()
			for {
				select {
				case <-quit:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := fn(ctx)
				cancel()
				n.Add(1)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	select {
	case <-deadline:
	case <-stop:
	}
	close(quit)
	for range workers {
		<-finished
	}
	close(errc)
	for err := range errc {
		errs = append(errs, err)
	}
	return n.Load(), errs
}

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

package proxy_test

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/straitproxy/strait/examples/backend"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// harness is strait's data path in front of real loopback backends, with
// a client connected to it.
type harness struct {
	backends []*backend.Server
	conn     *grpc.ClientConn
	client   testgrpc.TestServiceClient
	addr     string
}

type harnessOptions struct {
	backends       int
	maxMessageSize int
	// deadAddrs are endpoints where nothing listens.
	deadAddrs []string
}

func startHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	if o.maxMessageSize == 0 {
		o.maxMessageSize = 4 << 20
	}
	h := &harness{}
	addrs := append([]string(nil), o.deadAddrs...)
	for i := range o.backends {
		b, err := backend.Start("127.0.0.1:0", "b"+string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Stop)
		h.backends = append(h.backends, b)
		addrs = append(addrs, b.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	guard := upstream.NewGuard("c", static.New(addrs), slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { guard.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	cl, err := proxy.NewCluster("c", guard, proxy.ClusterOptions{MaxMessageSize: o.maxMessageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	r := proxy.NewRouter("")
	r.AddPrefix("/grpc.testing.", "c")
	r.AddService("helloworld.Greeter", "c")
	srv := proxy.NewServer(&proxy.Routes{Router: r, Clusters: map[string]*proxy.Cluster{"c": cl}}, proxy.ServerOptions{MaxMessageSize: o.maxMessageSize})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	h.addr = lis.Addr().String()
	h.conn, err = grpc.NewClient(h.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.conn.Close() })
	h.client = testgrpc.NewTestServiceClient(h.conn)
	return h
}

// direct returns a client connected straight to backend i, to compare
// with what strait relays.
func (h *harness) direct(t *testing.T, i int) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(h.backends[i].Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

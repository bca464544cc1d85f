package proxy_test

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"github.com/straitproxy/strait/upstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// harness is one of strait's data paths in front of real loopback backends, with
// a client connected to it.
type harness struct {
	backends []*backend.Server
	conn     *grpc.ClientConn
	client   testgrpc.TestServiceClient
	addr     string
}

type harnessOptions struct {
	plane          dataplane
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
		b := backend.StartTest(t, "b"+string(rune('0'+i)))
		h.backends = append(h.backends, b)
		addrs = append(addrs, b.Addr())
	}
	r := route.NewTable("")
	r.AddPrefix("/grpc.testing.", "c")
	r.AddService("helloworld.Greeter", "c")
	guard := guardtest.Static(t, "c", addrs...)
	h.addr = o.plane.start(t, r, guard, o.maxMessageSize)
	var err error
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

// dataplane starts one of strait's data paths in front of guard's
// endpoints and returns its address. Every data-path test runs against
// each, so the relay and the grpc-go reference cannot drift apart.
type dataplane struct {
	name  string
	start func(t *testing.T, r *route.Table, guard *upstream.Guard, maxMessageSize int) string
}

var dataplanes = []dataplane{{"grpc", startGRPCPlane}, {"relay", startRelayPlane}}

// eachPlane runs fn as a subtest per data path.
func eachPlane(t *testing.T, fn func(t *testing.T, dp dataplane)) {
	for _, dp := range dataplanes {
		t.Run(dp.name, func(t *testing.T) { fn(t, dp) })
	}
}

func startGRPCPlane(t *testing.T, r *route.Table, guard *upstream.Guard, maxMessageSize int) string {
	cl, err := proxy.NewCluster("c", guard, proxy.ClusterOptions{MaxMessageSize: maxMessageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	srv := proxy.NewServer(&proxy.Routes{Table: r, Clusters: map[string]*proxy.Cluster{"c": cl}}, proxy.ServerOptions{MaxMessageSize: maxMessageSize})
	return testutil.Serve(t, srv)
}

func startRelayPlane(t *testing.T, r *route.Table, guard *upstream.Guard, maxMessageSize int) string {
	select {
	case <-guard.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no endpoint set within 5s")
	}
	rr, cancel := h2relay.NewRoundRobin(guard)
	t.Cleanup(cancel)
	srv := h2relay.NewServer(r, map[string]h2relay.Balancer{"c": rr}, h2relay.Options{MaxMessageSize: maxMessageSize})
	return testutil.Serve(t, srv)
}

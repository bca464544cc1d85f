package gateway_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
	"github.com/straitproxy/strait/internal/testutil/promtest"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// Families labelled by endpoint: the data path's, counted as traffic
// flows, and the balancer's, read from the status at scrape time.
var (
	dataSeries = []string{"strait_grpc_requests_total", "strait_tcp_connections_opened_total",
		"strait_tcp_connections_active", "strait_tcp_upstream_sent_bytes_total",
		"strait_tcp_upstream_received_bytes_total"}
	balancerSeries = []string{"strait_endpoint_ewma_seconds", "strait_endpoint_in_flight_requests",
		"strait_endpoint_ejections_total", "strait_endpoint_breaker_state"}
)

// TestDepartedEndpointSeriesAreDeleted: when discovery (etcd) drops an
// endpoint, every series with its address goes; the other endpoint's
// stay; when it comes back, its series start fresh. On both data paths.
func TestDepartedEndpointSeriesAreDeleted(t *testing.T) {
	eachDataplane(t, testDepartedEndpointSeries)
}

func testDepartedEndpointSeries(t *testing.T, dp string) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	a, b := backend.StartTest(t, "a"), backend.StartTest(t, "b")
	put(t, cli, "user.rpc/1", a.Addr())
	put(t, cli, "user.rpc/2", b.Addr())
	gw, addr, reg := startMetered(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: edge, address: 127.0.0.1:0, dataplane: %s, default_cluster: user}
  - {name: l4, address: 127.0.0.1:0, protocol: tcp, cluster: user}
clusters: {user: {etcd: {hosts: [%s], key: user.rpc, dial_timeout: 500ms}}}
`, dp, srv.Endpoints()[0])))
	l4, err := gw.Addr("l4")
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, addr, nil)
	traffic(t, reg, conn, l4, a.Addr(), b.Addr())

	if _, err := cli.Delete(context.Background(), "user.rpc/2"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "no series with b's address", func() bool {
		return promtest.CountSeries(t, reg, map[string]string{"endpoint": b.Addr()}) == 0
	})
	for _, name := range append(dataSeries, balancerSeries...) {
		if promtest.CountSeries(t, reg, map[string]string{"endpoint": a.Addr()}, name) == 0 {
			t.Errorf("%s: a's series went with b's", name)
		}
	}

	put(t, cli, "user.rpc/2", b.Addr())
	fromB := 0
	testutil.WaitFor(t, 10*time.Second, "b answers again", func() bool {
		from, err := sayHello(conn)
		if err != nil {
			t.Fatal(err)
		}
		if from == "b" {
			fromB++
		}
		return fromB > 0
	})
	ok := map[string]string{"endpoint": b.Addr(), "code": "OK"}
	if got := sum(t, reg, "strait_grpc_requests_total", ok); got != float64(fromB) {
		t.Fatalf("b's requests after its return = %v, want a fresh count of %d", got, fromB)
	}
	traffic(t, reg, conn, l4, b.Addr())
}

// traffic sends gRPC calls and opens TCP connections through the
// gateway until every one of endpoints has data-path and balancer series.
func traffic(t *testing.T, reg *prometheus.Registry, conn *grpc.ClientConn, l4 string, endpoints ...string) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, "traffic reached every endpoint", func() bool {
		if _, err := sayHello(conn); err != nil {
			t.Fatal(err)
		}
		c, err := net.DialTimeout("tcp", l4, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		for _, ep := range endpoints {
			for _, name := range append(dataSeries, balancerSeries...) {
				if promtest.CountSeries(t, reg, map[string]string{"endpoint": ep}, name) == 0 {
					return false
				}
			}
		}
		return true
	})
}

// TestDroppedClusterSeriesAreDeleted: a reload that drops a cluster
// deletes its endpoints' series once it is retired.
func TestDroppedClusterSeriesAreDeleted(t *testing.T) {
	a, b := backend.StartTest(t, "a"), backend.StartTest(t, "b")
	two := `
listeners: [{name: edge, address: 127.0.0.1:0, routes: [{service: helloworld.Greeter, cluster: g}, {service: grpc.testing.TestService, cluster: h}]}]
clusters: {g: {endpoints: [` + a.Addr() + `]}, h: {endpoints: [` + b.Addr() + `]}}
timeouts: {drain: 5s}
`
	gw, addr, reg := startMetered(t, parse(t, two))
	conn := dial(t, addr, nil)
	if _, err := sayHello(conn); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if promtest.CountSeries(t, reg, map[string]string{"endpoint": b.Addr()}, "strait_grpc_requests_total") != 1 {
		t.Fatal("no series of h's endpoint before the reload")
	}
	if err := gw.Reload(parse(t, greeterConfig(a.Addr()))); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "no series of the dropped cluster's endpoint", func() bool {
		return promtest.CountSeries(t, reg, map[string]string{"endpoint": b.Addr()}) == 0
	})
	if promtest.CountSeries(t, reg, map[string]string{"endpoint": a.Addr()}, "strait_grpc_requests_total") != 1 {
		t.Fatal("the kept cluster's series went too")
	}
}

package gateway_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/lb"
)

// pathsConfig has an L4 cluster (pdb) and a gRPC cluster (pg) reached
// by a relay listener (edge) and, when refTo is pg, by a grpc-go
// listener (ref) too; otherwise ref routes to refTo.
func pathsConfig(echo, greeter, other, refTo string) string {
	return fmt.Sprintf(`
listeners:
  - {name: edge, address: 127.0.0.1:0, routes: [{service: helloworld.Greeter, cluster: pg}]}
  - {name: ref, address: 127.0.0.1:0, dataplane: grpc, routes: [{service: helloworld.Greeter, cluster: %s}]}
  - {name: l4, address: 127.0.0.1:0, protocol: tcp, cluster: pdb}
clusters:
  pg: {endpoints: [%s]}
  pother: {endpoints: [%s]}
  pdb: {endpoints: [%s]}
timeouts: {drain: 5s}
`, refTo, greeter, other, echo)
}

// clusterStatus finds a cluster on the status page.
func clusterStatus(t *testing.T, st admin.Status, name string) admin.ClusterStatus {
	t.Helper()
	for _, c := range st.Clusters {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s on the status page", name)
	return admin.ClusterStatus{}
}

// pools names which of a cluster's three lb pools exist.
func pools(cluster string) []string {
	var have []string
	for _, name := range []string{cluster, cluster + "/grpc", cluster + "/tcp"} {
		if _, ok := lb.DefaultRegistry.Pool(name); ok {
			have = append(have, name)
		}
	}
	return have
}

// A cluster builds the balancer of each data path that reaches it and
// no other, and the status page counts every path's calls. A reload
// that makes a second path reach a cluster builds that path's balancer.
func TestClusterBuildsOnlyTheDataPathsItsListenersUse(t *testing.T) {
	echo, greeter, other := startEcho(t, "e"), backend.StartTest(t, "g1"), backend.StartTest(t, "o1")
	gw, edge := startGateway(t, parse(t, pathsConfig(echo, greeter.Addr(), other.Addr(), "pother")))
	if got, want := pools("pdb"), []string{"pdb/tcp"}; !slices.Equal(got, want) {
		t.Fatalf("an L4-only cluster has pools %v, want %v", got, want)
	}
	if got, want := pools("pg"), []string{"pg"}; !slices.Equal(got, want) {
		t.Fatalf("a relay-only cluster has pools %v, want %v", got, want)
	}
	// The grpc-go path's pool is built with its ClientConn's balancer,
	// at the first call: before it, a grpc-go-only cluster has none.
	if got := pools("pother"); len(got) != 0 {
		t.Fatalf("a grpc-go-only cluster has pools %v, want none before its first call", got)
	}
	st := gw.Status()
	for name, want := range map[string][]string{"pdb": {"tcp"}, "pg": {"relay"}, "pother": {"grpc"}} {
		if got := clusterStatus(t, st, name).DataPaths; !slices.Equal(got, want) {
			t.Errorf("cluster %s shows data paths %v, want %v", name, got, want)
		}
	}

	if err := gw.Reload(parse(t, pathsConfig(echo, greeter.Addr(), other.Addr(), "pg"))); err != nil {
		t.Fatal(err)
	}
	ref, err := gw.Addr("ref")
	if err != nil {
		t.Fatal(err)
	}
	const perPath = 7
	for _, addr := range []string{edge, ref} {
		conn := dial(t, addr, nil)
		for range perPath {
			if from, err := sayHello(conn); err != nil || from != "g1" {
				t.Fatalf("call through %s: from %q, %v", addr, from, err)
			}
		}
	}
	dialEcho(t, gw)
	if got, want := pools("pg"), []string{"pg", "pg/grpc"}; !slices.Equal(got, want) {
		t.Fatalf("after the grpc-go listener moved to pg, it has pools %v, want %v", got, want)
	}
	if got := pools("pdb"); !slices.Equal(got, []string{"pdb/tcp"}) {
		t.Fatalf("after a connection, the L4-only cluster has pools %v", got)
	}
	testutil.WaitFor(t, 5*time.Second, "the status page counts both paths' calls", func() bool {
		c := clusterStatus(t, gw.Status(), "pg")
		return slices.Equal(c.DataPaths, []string{"relay", "grpc"}) &&
			len(c.Endpoints) == 1 && c.Endpoints[0].Requests == 2*perPath
	})
}

// dialEcho makes one connection through the gateway's L4 listener.
func dialEcho(t *testing.T, gw interface{ Addr(string) (string, error) }) {
	t.Helper()
	addr, err := gw.Addr("l4")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	greeting := make([]byte, 2)
	if _, err := io.ReadFull(c, greeting); err != nil || string(greeting) != "e\n" {
		t.Fatalf("L4 greeting %q, %v", greeting, err)
	}
}

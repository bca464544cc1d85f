// Package proxytest serves strait's grpc-go path in front of one
// cluster, for the discovery tests that check what a client of strait
// sees while a registry fails.
package proxytest

import (
	"net"
	"testing"

	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/route"
	"github.com/straitproxy/strait/upstream"
)

// Start serves the grpc-go path on loopback until the test ends, routing
// every call to one cluster named cluster whose sets come from g, and
// returns its address.
func Start(t testing.TB, cluster string, g *upstream.Guard, opts proxy.ClusterOptions) string {
	t.Helper()
	cl, err := proxy.NewCluster(cluster, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	srv := proxy.NewServer(&proxy.Routes{Table: route.NewTable(cluster), Clusters: map[string]*proxy.Cluster{cluster: cl}},
		proxy.ServerOptions{MaxMessageSize: opts.MaxMessageSize})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis.Addr().String()
}

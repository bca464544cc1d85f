package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

func TestReloadSwitchesClustersAndKeepsOpenStreams(t *testing.T) {
	eachDataplane(t, testReloadSwitchesClustersAndKeepsOpenStreams)
}

func testReloadSwitchesClustersAndKeepsOpenStreams(t *testing.T, dp string) {
	a, b := backend.StartTest(t, "a"), backend.StartTest(t, "b")
	gw, addr := startGateway(t, parse(t, `
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: `+dp+`, default_cluster: g}]
clusters: {g: {endpoints: [`+a.Addr()+`]}}
timeouts: {drain: 5s}
`))
	conn := dial(t, addr, nil)
	if from, err := sayHello(conn); err != nil || from != "a" {
		t.Fatalf("before reload: %q, %v", from, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := testpb.NewTestServiceClient(conn).FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ping := func() error {
		if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil {
			return err
		}
		_, err := stream.Recv()
		return err
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}

	err = gw.Reload(parse(t, `
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: `+dp+`, default_cluster: h}]
clusters: {h: {endpoints: [`+b.Addr()+`]}}
timeouts: {drain: 5s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if from, err := sayHello(conn); err != nil || from != "b" {
		t.Fatalf("after reload: %q, %v", from, err)
	}
	if err := ping(); err != nil {
		t.Fatalf("a stream opened before the reload broke: %v", err)
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err == nil {
		t.Fatal("stream should end after half-close")
	}
}

func TestReloadRefusesListenerChanges(t *testing.T) {
	a := backend.StartTest(t, "a")
	gw, addr := startGateway(t, parse(t, greeterConfig(a.Addr())))
	bad := parse(t, strings.Replace(greeterConfig(a.Addr()), "127.0.0.1:0", "127.0.0.1:1", 1))
	if err := gw.Reload(bad); err == nil || !strings.Contains(err.Error(), "restart to apply") {
		t.Fatalf("reload with a moved listener: %v", err)
	}
	if from, err := sayHello(dial(t, addr, nil)); err != nil || from != "a" {
		t.Fatalf("after a refused reload: %q, %v", from, err)
	}
	bad = parse(t, strings.Replace(greeterConfig(a.Addr()), "{drain: 5s}", "{drain: 5s, keepalive: {interval: 1s}}", 1))
	if err := gw.Reload(bad); err == nil || !strings.Contains(err.Error(), "timeouts.keepalive changed; restart to apply") {
		t.Fatalf("reload with new keep-alive settings: %v", err)
	}
	bad = parse(t, strings.Replace(greeterConfig(a.Addr()), "default_cluster: g}", "default_cluster: g, access_log: {path: stderr}}", 1))
	if err := gw.Reload(bad); err == nil || !strings.Contains(err.Error(), "access_log changed; restart to apply") {
		t.Fatalf("reload with an access log: %v", err)
	}
}

func TestReloadUnchangedClusterKeepsItsConnection(t *testing.T) {
	eachDataplane(t, testReloadUnchangedClusterKeepsItsConnection)
}

func testReloadUnchangedClusterKeepsItsConnection(t *testing.T, dp string) {
	a := backend.StartTest(t, "a")
	gw, addr := startGateway(t, parse(t, greeterConfigOn(dp, a.Addr())))
	conn := dial(t, addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held, err := testpb.NewTestServiceClient(conn).FullDuplexCall(metadata.AppendToOutgoingContext(ctx, backend.HoldKey, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := held.Header(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Reload(parse(t, greeterConfigOn(dp, a.Addr()))); err != nil {
		t.Fatal(err)
	}
	if from, err := sayHello(conn); err != nil || from != "a" {
		t.Fatalf("after a no-op reload: %q, %v", from, err)
	}
	cancel()
	held.Recv()
	testutil.WaitFor(t, 5*time.Second, "held call ends by the client's cancel, not by the reload", func() bool {
		return a.Cancelled() == 1
	})
}

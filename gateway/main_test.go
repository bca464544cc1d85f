package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/gateway"
	"github.com/straitproxy/strait/internal/testutil"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startGateway runs cfg; its listeners should use port 0. It returns the
// gateway and the address of the listener named "edge".
func startGateway(t *testing.T, cfg *config.Config) (*gateway.Gateway, string) {
	t.Helper()
	gw, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return gw, runGateway(t, gw)
}

// runGateway starts gw, stops it at the test's end and returns the
// address of its listener named "edge" once it is ready.
func runGateway(t *testing.T, gw *gateway.Gateway) string {
	t.Helper()
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop)
	testutil.WaitFor(t, 10*time.Second, "gateway ready", func() bool { return gw.Ready() == nil })
	addr, err := gw.Addr("edge")
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// sayHello returns the name of the backend that answered.
func sayHello(conn *grpc.ClientConn) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := pb.NewGreeterClient(conn).SayHello(ctx, &pb.HelloRequest{Name: "t"})
	if err != nil {
		return "", err
	}
	_, from, _ := strings.Cut(r.GetMessage(), " from ")
	return from, nil
}

func greeterConfig(endpoints ...string) string {
	return greeterConfigOn("relay", endpoints...)
}

// greeterConfigOn is one listener on data path dp in front of endpoints.
func greeterConfigOn(dp string, endpoints ...string) string {
	return fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: %s, routes: [{service: helloworld.Greeter, cluster: g}], default_cluster: g}]
clusters: {g: {endpoints: [%s]}}
timeouts: {drain: 5s}
`, dp, strings.Join(endpoints, ", "))
}

// eachDataplane runs test on the HTTP/2 relay and on the grpc-go path,
// so gateway features (TLS, reload, drain) hold on both.
func eachDataplane(t *testing.T, test func(t *testing.T, dp string)) {
	for _, dp := range []string{"relay", "grpc"} {
		t.Run(dp, func(t *testing.T) { test(t, dp) })
	}
}

func freePort(t *testing.T) string { return testutil.FreeAddr(t) }

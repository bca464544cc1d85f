package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
)

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestServeFollowsEtcd: `strait serve` with an etcd cluster relays to the
// backends that `strait register` sidecars announce, and stops relaying
// to one whose sidecar exits.
func TestServeFollowsEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	a := backend.StartTest(t, "a")
	b := backend.StartTest(t, "b")
	stopA, _ := sidecar(t, "--etcd", srv.Endpoints()[0], "--key", "user.rpc", "--addr", a.Addr())
	sidecar(t, "--etcd", srv.Endpoints()[0], "--key", "user.rpc", "--addr", b.Addr())
	// An empty cluster fails calls at once, so let both register first.
	waitValues(t, srv.Client(t), sorted(a.Addr(), b.Addr())...)

	addr := freeAddr(t)
	path := writeConfig(t, fmt.Sprintf(`
listeners: [{name: edge, address: %s, default_cluster: user}]
clusters: {user: {etcd: {hosts: [%s], key: user.rpc, dial_timeout: 500ms}}}
state_dir: %s
timeouts: {drain: 1s}
`, addr, srv.Endpoints()[0], t.TempDir()))
	strait := serve(path)
	defer strait.cancel()

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewGreeterClient(conn)
	seen := map[string]int{}
	hello := func() string {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		r, err := client.SayHello(cctx, &pb.HelloRequest{Name: "t"}, grpc.WaitForReady(true))
		if err != nil {
			t.Fatalf("call through strait: %v\nlog:\n%s", err, strait.log.String())
		}
		from := r.GetMessage()[strings.LastIndex(r.GetMessage(), " ")+1:]
		seen[from]++
		return from
	}
	// Until discovery first answers, strait has no endpoint and says so
	// (Unavailable), as readiness does; wait for that first answer.
	testutil.WaitFor(t, 10*time.Second, "strait has learned the set", func() bool {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_, err := client.SayHello(cctx, &pb.HelloRequest{Name: "t"})
		return err == nil
	})
	testutil.WaitFor(t, 10*time.Second, "calls reach a and b", func() bool { hello(); return seen["a"] > 0 && seen["b"] > 0 })

	if code := stopA(); code != 0 {
		t.Fatalf("sidecar a exit %d", code)
	}
	inARow := 0
	testutil.WaitFor(t, 5*time.Second, "50 calls in a row reach b only", func() bool {
		if hello() == "b" {
			inARow++
		} else {
			inARow = 0
		}
		return inARow >= 50
	})
	strait.stop(t)
}

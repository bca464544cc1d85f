package h2relay_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"google.golang.org/grpc"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

// BenchmarkSayHello compares, on loopback in one process, a client
// calling the backend directly, through the grpc-go data path, and
// through the relay, with 1 and 10 client connections and 50 calls in
// flight. cpu-µs/op is the whole process (client and backend included):
// subtract direct's to get the proxy's own cost.
func BenchmarkSayHello(b *testing.B) {
	be := startBackend(b, "b0")
	paths := []struct {
		name  string
		start func(b *testing.B) string
	}{
		{"direct", func(*testing.B) string { return be.addr }},
		{"grpc", func(b *testing.B) string { return startGRPCPath(b, be.addr) }},
		{"relay", func(b *testing.B) string { return startRelay(b, h2relay.Options{}, be.addr) }},
	}
	for _, conns := range []int{1, 10} {
		for _, p := range paths {
			b.Run(fmt.Sprintf("%s/conns=%d", p.name, conns), func(b *testing.B) {
				addr := p.start(b)
				clients := make([]pb.GreeterClient, conns)
				for i := range clients {
					clients[i] = pb.NewGreeterClient(dialConn(b, addr))
				}
				benchCalls(b, clients)
			})
		}
	}
}

func benchCalls(b *testing.B, clients []pb.GreeterClient) {
	var next atomic.Uint64
	ctx := context.Background()
	if _, err := clients[0].SayHello(ctx, &pb.HelloRequest{Name: "warm"}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(25) // 50 callers on 2 procs
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	b.RunParallel(func(pb_ *testing.PB) {
		c := clients[next.Add(1)%uint64(len(clients))]
		for pb_.Next() {
			if _, err := c.SayHello(ctx, &pb.HelloRequest{Name: "bench"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "calls/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dialConn(tb testing.TB, addr string) *grpc.ClientConn {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecureCreds()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// startGRPCPath serves the grpc-go reference data path in front of addrs.
func startGRPCPath(tb testing.TB, addrs ...string) string {
	guard := guardtest.Static(tb, "c", addrs...)
	cl, err := proxy.NewCluster("c", guard, proxy.ClusterOptions{MaxMessageSize: 4 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cl.Close() })
	return testutil.Serve(tb, proxy.NewServer(&proxy.Routes{Table: route.NewTable("c"), Clusters: map[string]*proxy.Cluster{"c": cl}}, proxy.ServerOptions{MaxMessageSize: 4 << 20}))
}

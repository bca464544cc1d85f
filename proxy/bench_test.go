package proxy_test

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/metrics"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

// benchCallers matches make bench's ghz -c 50 over one connection.
const benchCallers = 50

// The benchmarks run the same SayHello load in one process: straight to
// a backend, through the grpc-go path, through the relay, and through
// the relay with its metrics. Every part runs under a
// pprof label (part=client|proxy|backend), so a CPU profile splits by
// part: go test -run '^$' -bench Unary -cpuprofile cpu.out ./proxy &&
// go tool pprof -tagfocus part=proxy -top proxy.test cpu.out
func BenchmarkUnaryDirect(b *testing.B) { benchUnary(b, nil) }

func BenchmarkUnaryThroughProxy(b *testing.B) { benchUnary(b, startBenchProxy) }

// BenchmarkUnaryThroughRelay runs the same load through the frame-level
// relay (proxy/h2relay) instead of the grpc-go data path.
func BenchmarkUnaryThroughRelay(b *testing.B) { benchUnary(b, startBenchRelay) }

// BenchmarkUnaryThroughRelayMetrics adds the metrics hooks the gateway
// installs, to show what counting calls costs the relay.
func BenchmarkUnaryThroughRelayMetrics(b *testing.B) {
	benchUnary(b, func(b *testing.B, addrs []string) string {
		m, err := metrics.New(prometheus.NewRegistry(), func(string) (string, bool) { return "c", true })
		if err != nil {
			b.Fatal(err)
		}
		return startRelayWith(b, addrs, h2relay.Options{
			Begin: func(method, _ string) any { return m.StartCall(method) },
			Observe: func(o h2relay.Observation) {
				o.Begun.(*metrics.Call).End(o.Endpoint, o.Code, o.Duration)
			},
		})
	})
}

func benchUnary(b *testing.B, start func(*testing.B, []string) string) {
	addrs := startBenchBackends(b, 3)
	addr := addrs[0]
	if start != nil {
		addr = start(b, addrs)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	client := pb.NewGreeterClient(conn)
	ctx := pprof.WithLabels(context.Background(), pprof.Labels("part", "client"))
	if _, err := client.SayHello(ctx, &pb.HelloRequest{Name: "warm"}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism((benchCallers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	r0, w0 := syscallCounts(b)
	b.RunParallel(func(p *testing.PB) {
		pprof.SetGoroutineLabels(ctx)
		req := &pb.HelloRequest{Name: "bench"}
		for p.Next() {
			if _, err := client.SayHello(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// CPU per call is steadier than ns/op on a shared machine: other
	// processes slow the wall clock, much less the work done per call.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	// Read and write calls per call, all parts together: a data path's
	// batching shows here when the clock is too noisy to tell.
	r1, w1 := syscallCounts(b)
	b.ReportMetric(float64(r1-r0)/float64(b.N), "reads/op")
	b.ReportMetric(float64(w1-w0)/float64(b.N), "writes/op")
}

// syscallCounts is the read and write system calls this process has
// made so far (Linux /proc/self/io).
func syscallCounts(b *testing.B) (reads, writes int64) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// processCPU is the user+system time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startBenchBackends starts n demo backends labelled part=backend.
func startBenchBackends(b *testing.B, n int) []string {
	b.Helper()
	var addrs []string
	pprof.Do(context.Background(), pprof.Labels("part", "backend"), func(context.Context) {
		_, addrs = backend.StartN(b, "b", n)
	})
	return addrs
}

// runBenchGuard runs a static cluster "c" over addrs until the benchmark
// ends; ctx carries the pprof labels its goroutine inherits.
func runBenchGuard(b *testing.B, ctx context.Context, addrs []string) *upstream.Guard {
	ctx, cancel := context.WithCancel(ctx)
	guard := upstream.NewGuard("c", static.New(addrs), slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { guard.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return guard
}

// startBenchProxy starts the grpc-go path over addrs, labelled
// part=proxy (goroutines inherit the label from where they start).
func startBenchProxy(b *testing.B, addrs []string) string {
	b.Helper()
	var lisAddr string
	pprof.Do(context.Background(), pprof.Labels("part", "proxy"), func(ctx context.Context) {
		guard := runBenchGuard(b, ctx, addrs)
		cl, err := proxy.NewCluster("c", guard, proxy.ClusterOptions{MaxMessageSize: 4 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cl.Close() })
		lisAddr = testutil.Serve(b, proxy.NewServer(&proxy.Routes{Table: route.NewTable("c"), Clusters: map[string]*proxy.Cluster{"c": cl}}, proxy.ServerOptions{MaxMessageSize: 4 << 20}))
	})
	return lisAddr
}

// startBenchRelay starts the relay over addrs (round robin), labelled
// part=proxy.
func startBenchRelay(b *testing.B, addrs []string) string {
	return startRelayWith(b, addrs, h2relay.Options{})
}

// startRelayWith is startBenchRelay with o's hooks.
func startRelayWith(b *testing.B, addrs []string, o h2relay.Options) string {
	b.Helper()
	o.MaxMessageSize = 4 << 20
	var lisAddr string
	pprof.Do(context.Background(), pprof.Labels("part", "proxy"), func(ctx context.Context) {
		guard := runBenchGuard(b, ctx, addrs)
		<-guard.Ready()
		rr, stop := h2relay.NewRoundRobin(guard)
		b.Cleanup(stop)
		lisAddr = testutil.Serve(b, h2relay.NewServer(route.NewTable("c"), map[string]h2relay.Balancer{"c": rr}, o))
	})
	return lisAddr
}

// Command loadgen sends a bounded load of helloworld SayHello calls and
// prints throughput, latency and how the calls spread over the backends
// (each demo backend names itself in its reply).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/status"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address of strait's gRPC listener")
	total := flag.Int("n", 2000, "number of calls")
	conc := flag.Int("c", 20, "concurrent callers")
	limit := flag.Duration("max-time", 30*time.Second, "stop after this long even if calls remain")
	flag.Parse()
	if err := run(*addr, *total, *conc, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type result struct {
	mu        sync.Mutex
	latencies []time.Duration
	byBackend map[string]int
	errors    map[string]int
}

func run(addr string, total, conc int, limit time.Duration) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := pb.NewGreeterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	res := &result{byBackend: map[string]int{}, errors: map[string]int{}}
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(total) && ctx.Err() == nil {
				res.add(call(ctx, client))
			}
		})
	}
	wg.Wait()
	res.print(time.Since(start))
	return nil
}

type outcome struct {
	latency time.Duration
	backend string
	err     error
}

func call(ctx context.Context, client pb.GreeterClient) outcome {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t0 := time.Now()
	reply, err := client.SayHello(cctx, &pb.HelloRequest{Name: "demo"}, grpc.WaitForReady(true))
	o := outcome{latency: time.Since(t0), err: err}
	if err == nil {
		_, o.backend, _ = strings.Cut(reply.GetMessage(), " from ")
	}
	return o
}

func (r *result) add(o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.err != nil {
		r.errors[status.Code(o.err).String()]++
		return
	}
	r.latencies = append(r.latencies, o.latency)
	r.byBackend[o.backend]++
}

func (r *result) print(elapsed time.Duration) {
	ok := len(r.latencies)
	failed := 0
	for _, n := range r.errors {
		failed += n
	}
	slices.Sort(r.latencies)
	fmt.Printf("calls: %d ok, %d failed in %s (%.0f req/s)\n", ok, failed, elapsed.Round(time.Millisecond), float64(ok+failed)/elapsed.Seconds())
	if ok > 0 {
		fmt.Printf("latency: p50 %s  p99 %s\n", pct(r.latencies, 0.50), pct(r.latencies, 0.99))
	}
	fmt.Println("spread over backends:")
	names := make([]string, 0, len(r.byBackend))
	for n := range r.byBackend {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("  %-18s %6d  %5.1f%%\n", n, r.byBackend[n], 100*float64(r.byBackend[n])/float64(ok))
	}
	for code, n := range r.errors {
		fmt.Printf("  error %-12s %6d\n", code, n)
	}
}

func pct(sorted []time.Duration, p float64) time.Duration {
	return sorted[int(p*float64(len(sorted)-1))].Round(time.Microsecond)
}

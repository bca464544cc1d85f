// Command balance measures how the default data path (the frame relay
// over an lb.Pool) spreads a concurrent load over three demo backends:
// all equal, then one of them 10× slower. It runs everything in one
// process on loopback (backends, relay, callers on one client
// connection) and prints one row per concurrency and repetition: the p50
// and p99 of each cluster, their ratio, and the slow node's share.
// bench/balance.sh runs it, optionally beside a build of an older
// revision.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"

	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
)

func main() {
	conc := flag.String("c", "20,100", "concurrent callers, comma-separated")
	fast := flag.Duration("fast", time.Millisecond, "latency of the fast backends")
	slow := flag.Duration("slow", 10*time.Millisecond, "latency of the slow backend")
	warmup := flag.Duration("warmup", time.Second, "load before measuring, per run")
	measure := flag.Duration("d", 5*time.Second, "measured load, per run")
	label := flag.String("label", "current", "first column of every row")
	flag.DurationVar(&balancer.Tau, "tau", 0, "the balancer's peak-biased EWMA decay (0: lb's default)")
	flag.Parse()
	if err := run(os.Stdout, *label, *conc, *fast, *slow, *warmup, *measure); err != nil {
		fmt.Fprintln(os.Stderr, "balance:", err)
		os.Exit(1)
	}
}

// balancer is the lb options every cluster of the run balances with.
var balancer lb.Options

func run(w io.Writer, label, conc string, fast, slow, warmup, measure time.Duration) error {
	for _, f := range strings.Split(conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > 1000 {
			return fmt.Errorf("-c: bad concurrency %q", f)
		}
		equal, err := cluster([]time.Duration{fast, fast, fast}, c, warmup, measure)
		if err != nil {
			return err
		}
		skewed, err := cluster([]time.Duration{fast, fast, slow}, c, warmup, measure)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", label, c,
			ms(equal.p50), ms(equal.p99), ms(skewed.p50), ms(skewed.p99),
			float64(skewed.p99)/float64(equal.p99), 100*skewed.share[2])
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type outcome struct {
	p50, p99 time.Duration
	share    []float64 // of each backend, in order
}

// cluster serves backends with the given latencies behind the relay and
// loads it with callers for warmup + measure.
func cluster(latencies []time.Duration, callers int, warmup, measure time.Duration) (outcome, error) {
	var addrs, names []string
	for i, d := range latencies {
		name := fmt.Sprintf("n%d", i)
		s, err := backend.Start("127.0.0.1:0", name)
		if err != nil {
			return outcome{}, err
		}
		defer s.Stop()
		s.SetLatency(d)
		addrs, names = append(addrs, s.Addr()), append(names, name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guard := upstream.NewGuard("c", static.New(addrs), slog.New(slog.DiscardHandler))
	go guard.Run(ctx)
	<-guard.Ready()
	bal, stop := h2relay.NewLBPool(lb.NewPool("c", balancer), guard)
	defer stop()
	srv := h2relay.NewServer(route.NewTable("c"), map[string]h2relay.Balancer{"c": bal}, h2relay.Options{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return outcome{}, err
	}
	go srv.Serve(lis)
	defer srv.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return outcome{}, err
	}
	defer cc.Close()
	return load(pb.NewGreeterClient(cc), names, callers, warmup, measure)
}

// load runs callers (joining one by one over the first half of warmup)
// until warmup + measure and sums up the calls started after warmup.
func load(client pb.GreeterClient, names []string, callers int, warmup, measure time.Duration) (outcome, error) {
	start := time.Now()
	from, end := start.Add(warmup), start.Add(warmup+measure)
	var mu sync.Mutex
	var lats []time.Duration
	count := map[string]int{}
	var firstErr error
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * warmup / time.Duration(2*callers))
			for t0 := time.Now(); t0.Before(end); t0 = time.Now() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				rep, err := client.SayHello(ctx, &pb.HelloRequest{Name: "bench"})
				cancel()
				lat := time.Since(t0)
				if t0.Before(from) {
					continue
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					lats = append(lats, lat)
					_, name, _ := strings.Cut(rep.GetMessage(), " from ")
					count[name]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return outcome{}, firstErr
	}
	if len(lats) == 0 {
		return outcome{}, fmt.Errorf("no call finished")
	}
	slices.Sort(lats)
	o := outcome{p50: lats[len(lats)/2], p99: lats[len(lats)*99/100]}
	for _, n := range names {
		o.share = append(o.share, float64(count[n])/float64(len(lats)))
	}
	return o, nil
}

package lb_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/lb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster is real demo backends on loopback behind a ClientConn that
// balances with lb.Name, fed by a manual resolver.
type cluster struct {
	name     string
	backends []*backend.Server
	cc       *grpc.ClientConn
	pool     *lb.Pool
}

// clusterSeq keeps pool names unique when a test starts two clusters.
var clusterSeq atomic.Int64

func startCluster(t *testing.T, n int, o lb.Options) *cluster {
	t.Helper()
	c := &cluster{name: fmt.Sprintf("%s#%d", t.Name(), clusterSeq.Add(1))}
	var eps []resolver.Endpoint
	for i := range n {
		s := backend.StartTest(t, string(rune('a'+i)))
		c.backends = append(c.backends, s)
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: s.Addr()}}})
	}
	r := manual.NewBuilderWithScheme("lbtest")
	r.InitialState(resolver.State{Endpoints: eps})
	sc, err := lb.ServiceConfig(c.name, o)
	if err != nil {
		t.Fatal(err)
	}
	bo := backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 300 * time.Millisecond}
	c.cc, err = grpc.NewClient(r.Scheme()+":///"+c.name, grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(sc),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cc.Close() })
	c.cc.Connect()
	testutil.WaitFor(t, 5*time.Second, "every backend ready", func() bool {
		p, ok := lb.DefaultRegistry.Pool(c.name)
		c.pool = p
		return ok && p.Current().Len() == n
	})
	return c
}

type result struct {
	at      time.Duration // since the load started
	backend string
	latency time.Duration
	err     error
}

// load runs workers calling SayHello until d passes or max calls are made,
// calling during(elapsed) from the first worker between calls.
func (c *cluster) load(workers int, d time.Duration, max int, during func(time.Duration)) []result {
	client := pb.NewGreeterClient(c.cc)
	start := time.Now()
	var mu sync.Mutex
	var out []result
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				el := time.Since(start)
				mu.Lock()
				full := len(out) >= max
				mu.Unlock()
				if el > d || full {
					return
				}
				if w == 0 && during != nil {
					during(el)
				}
				out1 := call(client, el)
				mu.Lock()
				out = append(out, out1)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

func call(client pb.GreeterClient, at time.Duration) result {
	return callWithin(client, at, 2*time.Second)
}

// callWithin is call with a deadline of timeout.
func callWithin(client pb.GreeterClient, at, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	t0 := time.Now()
	rep, err := client.SayHello(ctx, &pb.HelloRequest{Name: "lb"})
	r := result{at: at, latency: time.Since(t0), err: err}
	if err == nil {
		_, r.backend, _ = strings.Cut(rep.GetMessage(), " from ")
	}
	return r
}

type summary struct {
	calls, errors int
	share         map[string]int
	p50, p99      time.Duration
}

func summarize(rs []result, from time.Duration) summary {
	s := summary{share: map[string]int{}}
	var lats []time.Duration
	for _, r := range rs {
		if r.at < from {
			continue
		}
		s.calls++
		if r.err != nil {
			s.errors++
			continue
		}
		s.share[r.backend]++
		lats = append(lats, r.latency)
	}
	slices.Sort(lats)
	s.p50, s.p99 = testutil.Quantile(lats, 0.5), testutil.Quantile(lats, 0.99)
	return s
}

func pbClient(c *cluster) pb.GreeterClient { return pb.NewGreeterClient(c.cc) }

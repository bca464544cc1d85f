package etcd

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/proxytest"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/upstream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fastOpts make a Source notice failures and retry quickly in tests.
var fastOpts = []Option{WithProbeInterval(100 * time.Millisecond), WithBackoff(50*time.Millisecond, 300*time.Millisecond)}

// testConfig is a Config for hosts with a short dial timeout.
func testConfig(hosts []string, key string) Config {
	return Config{Hosts: hosts, Key: key, DialTimeout: 500 * time.Millisecond}
}

// newSource builds a Source for hosts, failing the test on error.
func newSource(t *testing.T, hosts []string, key string, opts ...Option) *Source {
	t.Helper()
	src, err := New(testConfig(hosts, key), nil, append(slices.Clone(fastOpts), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// register puts key/<lease> = value under a new lease of ttl seconds, the
// way go-zero does, and returns the lease.
func register(t *testing.T, cli *clientv3.Client, key, value string, ttl int64) clientv3.LeaseID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := cli.Grant(ctx, ttl)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	if _, err := cli.Put(ctx, fmt.Sprintf("%s/%d", key, l.ID), value, clientv3.WithLease(l.ID)); err != nil {
		t.Fatalf("put: %v", err)
	}
	return l.ID
}

func revoke(t *testing.T, cli *clientv3.Client, id clientv3.LeaseID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Revoke(ctx, id); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}

// waitSet waits until g serves exactly want (sorted) in state st.
func waitSet(t *testing.T, g *upstream.Guard, st upstream.State, timeout time.Duration, want ...string) time.Duration {
	t.Helper()
	slices.Sort(want)
	start := time.Now()
	testutil.WaitFor(t, timeout, fmt.Sprintf("set %v %v", want, st), func() bool {
		s := g.Snapshot()
		return s.State == st && slices.Equal(upstream.Addrs(s.Endpoints), want)
	})
	return time.Since(start)
}

// throughStrait puts strait's grpc-go path (the proxy, its guard-fed
// resolver and balancer) in front of g's cluster, and returns a client
// connected to strait.
func throughStrait(t *testing.T, g *upstream.Guard) *grpc.ClientConn {
	t.Helper()
	addr := proxytest.Start(t, "user", g, proxy.ClusterOptions{MaxMessageSize: 4 << 20, ConnectTimeout: time.Second})
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

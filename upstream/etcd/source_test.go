package etcd

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/loadtest"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/upstream"
)

// TestDiscoveryAndPropagation: existing registrations are found; a new one
// takes traffic and a revoked one stops getting it. The delays are
// measured over several rounds and printed (goal: under 100 ms).
func TestDiscoveryAndPropagation(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	a, b, c := backend.StartTest(t, "a"), backend.StartTest(t, "b"), backend.StartTest(t, "c")
	register(t, cli, "user.rpc", a.Addr(), 30)
	register(t, cli, "user.rpc", b.Addr(), 30)
	register(t, cli, "other.rpc", c.Addr(), 30)

	g, _ := guardtest.Run(t, "user", newSource(t, srv.Endpoints(), "user.rpc"), nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, a.Addr(), b.Addr())
	l := loadtest.Start(t, throughStrait(t, g))
	testutil.WaitFor(t, 5*time.Second, "a and b get traffic", func() bool { return a.Calls() > 0 && b.Calls() > 0 })

	var inSet, firstRPC, outOfSet, lastRPC []time.Duration
	for range 5 {
		start := time.Now()
		lease := register(t, cli, "user.rpc", c.Addr(), 30)
		calls := c.Calls()
		waitSet(t, g, upstream.Synced, 5*time.Second, a.Addr(), b.Addr(), c.Addr())
		inSet = append(inSet, time.Since(start))
		testutil.WaitFor(t, 5*time.Second, "c gets traffic", func() bool { return c.Calls() > calls })
		firstRPC = append(firstRPC, time.Since(start))

		start = time.Now()
		revoke(t, cli, lease)
		waitSet(t, g, upstream.Synced, 5*time.Second, a.Addr(), b.Addr())
		outOfSet = append(outOfSet, time.Since(start))
		lastRPC = append(lastRPC, untilQuiet(t, c, start, a, b))
	}
	l.Stop()
	t.Logf("registration → in strait's set: %s", summary(inSet))
	t.Logf("registration → first RPC through strait: %s", summary(firstRPC))
	t.Logf("revocation → out of strait's set: %s", summary(outOfSet))
	t.Logf("revocation → last RPC through strait: %s (goal < 100ms)", summary(lastRPC))
	if median(inSet) > time.Second || median(outOfSet) > time.Second {
		t.Errorf("propagation too slow: add %s, remove %s", summary(inSet), summary(outOfSet))
	}
	if n := l.Failed.Load(); n != 0 {
		t.Errorf("%d RPCs failed (first: %v)", n, l.FirstErr())
	}
}

// untilQuiet waits until gone gets no calls while the others get 50, and
// returns how long after since gone got its last call (as far as polling
// can tell).
func untilQuiet(t *testing.T, gone *backend.Server, since time.Time, others ...*backend.Server) time.Duration {
	t.Helper()
	total := func() (n uint64) {
		for _, o := range others {
			n += o.Calls()
		}
		return n
	}
	last, lastAt := gone.Calls(), time.Since(since)
	testutil.WaitFor(t, 5*time.Second, "the removed endpoint stops getting traffic", func() bool {
		n, before := gone.Calls(), total()
		if n != last {
			last, lastAt = n, time.Since(since)
			return false
		}
		testutil.WaitFor(t, 5*time.Second, "load goes on", func() bool { return total() >= before+50 })
		return gone.Calls() == n
	})
	return lastAt
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("min %v median %v max %v (n=%d)", s[0].Round(time.Millisecond/10), median(s).Round(time.Millisecond/10), s[len(s)-1].Round(time.Millisecond/10), len(s))
}

// TestLeaseExpiryRemovesEndpoint: an instance killed without revoking
// disappears once its lease expires.
func TestLeaseExpiryRemovesEndpoint(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	register(t, cli, "user.rpc", "10.0.0.1:8080", 60)

	// The instance's own client keeps its lease alive, then dies.
	inst := srv.Client(t)
	lease := register(t, inst, "user.rpc", "10.0.0.2:8080", 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := inst.KeepAlive(ctx, lease); err != nil {
		t.Fatal(err)
	}

	g, _ := guardtest.Run(t, "user", newSource(t, srv.Endpoints(), "user.rpc"), nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, "10.0.0.1:8080", "10.0.0.2:8080")
	killed := time.Now()
	inst.Close()
	waitSet(t, g, upstream.Synced, 10*time.Second, "10.0.0.1:8080")
	t.Logf("lease of 2s expired and endpoint removed %v after the kill", time.Since(killed))
}

// TestBadValuesAndDuplicates: unparsable values are skipped, logged and
// counted once, never dropping the rest; duplicate addresses count once.
func TestBadValuesAndDuplicates(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	put := func(k, v string) {
		t.Helper()
		if _, err := cli.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	put("bad.rpc/1", "10.0.0.1:80")
	put("bad.rpc/2", `{"addr": "10.0.0.2:80", "zone": "b", "weight": 3}`)
	put("bad.rpc/3", "not an address")
	put("bad.rpc/4", "0.0.0.0:80")
	put("bad.rpc/5", `{"addr": 5}`)
	put("bad.rpc/6", "10.0.0.1:80")
	put("bad.rpcx/7", "10.0.0.9:80") // another key that shares the prefix string only

	src := newSource(t, srv.Endpoints(), "bad.rpc")
	g, _ := guardtest.Run(t, "user", src, nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, "10.0.0.1:80", "10.0.0.2:80")
	if got := g.Snapshot().Endpoints[1].Metadata; got["zone"] != "b" || got["weight"] != "3" {
		t.Errorf("metadata = %v, want zone=b weight=3", got)
	}
	if n := src.SkippedValues(); n != 3 {
		t.Errorf("skipped = %v, want 3", n)
	}

	// A re-list after an etcd restart does not count the same values again.
	srv.Restart()
	put("bad.rpc/1", "10.0.0.3:80")
	waitSet(t, g, upstream.Synced, 10*time.Second, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
	if n := src.SkippedValues(); n != 3 {
		t.Errorf("after re-list skipped = %v, want 3", n)
	}
	// A good value turned bad takes its old address out; a new bad value counts.
	put("bad.rpc/2", "garbage")
	waitSet(t, g, upstream.Synced, 5*time.Second, "10.0.0.1:80", "10.0.0.3:80")
	if n := src.SkippedValues(); n != 4 {
		t.Errorf("skipped = %v, want 4", n)
	}
}

// TestCompactionRelists: when the revision the watch starts from has been
// compacted, the Source lists again and misses nothing.
func TestCompactionRelists(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	register(t, cli, "user.rpc", "10.0.0.1:80", 60)
	src := newSource(t, srv.Endpoints(), "user.rpc")
	first := true
	src.beforeWatch = func() {
		if !first {
			return
		}
		first = false
		ctx := context.Background()
		register(t, cli, "user.rpc", "10.0.0.2:80", 60)
		resp, err := cli.Put(ctx, "unrelated", "x")
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
			t.Error(err)
		}
	}
	g, _ := guardtest.Run(t, "user", src, nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, "10.0.0.1:80", "10.0.0.2:80")
	if first {
		t.Fatal("the compaction hook never ran")
	}
}

// TestStartWhileEtcdDown: an unreachable etcd is reported within the dial
// timeout instead of blocking start-up; the set arrives once etcd is back.
func TestStartWhileEtcdDown(t *testing.T) {
	srv := etcdtest.Start(t)
	register(t, srv.Client(t), "user.rpc", "10.0.0.1:80", 60)
	srv.Stop()

	start := time.Now()
	g, _ := guardtest.Run(t, "user", newSource(t, srv.Endpoints(), "user.rpc"), nil)
	select {
	case <-g.Ready():
	case <-time.After(3 * time.Second):
		t.Fatal("no report 3s after start with etcd down")
	}
	s := g.Snapshot()
	t.Logf("first report with etcd down after %v: %v", time.Since(start), s.LastErr)
	if s.State != upstream.NeverSynced || s.LastErr == nil {
		t.Fatalf("snapshot = %+v, want never_synced with an error", s)
	}
	srv.Restart()
	waitSet(t, g, upstream.Synced, 10*time.Second, "10.0.0.1:80")
}

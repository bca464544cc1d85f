package etcd

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/loadtest"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/internal/testutil/relay"
	"github.com/straitproxy/strait/upstream"
)

// outage is how long etcd stays down in TestOutageUnderLoad. The gateway's
// TestEtcdOutageUnderLoad holds the 10 s through all of strait;
// this one is shorter to keep CI time down.
const outage = 3 * time.Second

// TestOutageUnderLoad: etcd stopped under continuous load → the set
// is unchanged and no RPC fails; etcd back → a node added and a node
// removed while strait was cut off are applied.
func TestOutageUnderLoad(t *testing.T) {
	srv := etcdtest.Start(t)
	writer := srv.Client(t)
	a, b, c := backend.StartTest(t, "a"), backend.StartTest(t, "b"), backend.StartTest(t, "c")
	register(t, writer, "user.rpc", a.Addr(), 60)
	leaseB := register(t, writer, "user.rpc", b.Addr(), 60)
	// strait reaches etcd through a relay, so the test can keep strait cut
	// off while the writer changes etcd.
	rel := relay.Start(t, srv.Endpoints()[0])
	g, _ := guardtest.Run(t, "user", newSource(t, []string{rel.Addr()}, "user.rpc"), nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, a.Addr(), b.Addr())

	frozen := []string{a.Addr(), b.Addr()}
	slices.Sort(frozen)
	var checking atomic.Bool
	var changed atomic.Value
	checking.Store(true)
	cancel := g.Subscribe(func(s upstream.Snapshot) {
		if checking.Load() && !slices.Equal(upstream.Addrs(s.Endpoints), frozen) {
			changed.Store(s)
		}
	})
	defer cancel()
	l := loadtest.Start(t, throughStrait(t, g))
	testutil.WaitFor(t, 5*time.Second, "a and b get traffic", func() bool { return a.Calls() > 0 && b.Calls() > 0 })

	srv.Stop()
	down := time.Now()
	waitSet(t, g, upstream.Stale, 5*time.Second, frozen...)
	t.Logf("outage noticed after %v", time.Since(down))
	okAtStop := l.OK.Load()
	testutil.Never(t, outage-time.Since(down), "the set changed during the outage", func() bool {
		return changed.Load() != nil || l.Failed.Load() > 0
	})
	if served := l.OK.Load() - okAtStop; served < 50 {
		t.Errorf("only %d RPCs served during the outage", served)
	}
	t.Logf("etcd down %v: %d RPCs served, %d failed", time.Since(down), l.OK.Load()-okAtStop, l.Failed.Load())

	rel.Cut()
	srv.Restart()
	revoke(t, writer, leaseB)
	register(t, writer, "user.rpc", c.Addr(), 60)
	checking.Store(false)
	rel.Restore()
	back := time.Now()
	waitSet(t, g, upstream.Synced, 10*time.Second, a.Addr(), c.Addr())
	t.Logf("resynced %v after strait could reach etcd again", time.Since(back))
	testutil.WaitFor(t, 5*time.Second, "c gets traffic", func() bool { return c.Calls() > 0 })
	bCalls := b.Calls()
	before := a.Calls() + c.Calls()
	testutil.WaitFor(t, 5*time.Second, "load goes on", func() bool { return a.Calls()+c.Calls() > before+200 })
	if b.Calls() > bCalls+2 {
		t.Errorf("b still gets traffic after removal: %d → %d", bCalls, b.Calls())
	}
	l.Stop()
	if n := l.Failed.Load(); n != 0 {
		t.Errorf("%d RPCs failed (first: %v)", n, l.FirstErr())
	}
	if s, ok := changed.Load().(upstream.Snapshot); ok {
		t.Errorf("set changed during the outage: %+v", s)
	}
}

// TestWarmStartFromSavedSet: strait started while etcd is down serves the
// set saved by its previous run, marked stale, until etcd answers.
func TestWarmStartFromSavedSet(t *testing.T) {
	srv := etcdtest.Start(t)
	a, b := backend.StartTest(t, "a"), backend.StartTest(t, "b")
	register(t, srv.Client(t), "user.rpc", a.Addr(), 60)
	register(t, srv.Client(t), "user.rpc", b.Addr(), 60)
	saved, err := upstream.NewSavedSets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, stop := guardtest.Run(t, "user", newSource(t, srv.Endpoints(), "user.rpc"), saved)
	waitSet(t, g, upstream.Synced, 5*time.Second, a.Addr(), b.Addr())
	stop()
	srv.Stop()

	start := time.Now()
	g, _ = guardtest.Run(t, "user", newSource(t, srv.Endpoints(), "user.rpc"), saved)
	waitSet(t, g, upstream.Stale, 3*time.Second, a.Addr(), b.Addr())
	t.Logf("serving the saved set %v after start with etcd down", time.Since(start))
	l := loadtest.Start(t, throughStrait(t, g))
	testutil.WaitFor(t, 5*time.Second, "a and b get traffic", func() bool { return a.Calls() > 10 && b.Calls() > 10 })

	srv.Restart()
	waitSet(t, g, upstream.Synced, 10*time.Second, a.Addr(), b.Addr())
	l.Stop()
	if n := l.Failed.Load(); n != 0 {
		t.Errorf("%d RPCs failed (first: %v)", n, l.FirstErr())
	}
}

// TestEtcdDiesBeforeWatch: etcd stops between the listing and the watch
// (whose creation waits for etcd); the outage is still reported, and the
// Source recovers when etcd is back.
func TestEtcdDiesBeforeWatch(t *testing.T) {
	srv := etcdtest.Start(t)
	register(t, srv.Client(t), "user.rpc", "10.0.0.1:80", 60)
	src := newSource(t, srv.Endpoints(), "user.rpc")
	first := true
	src.beforeWatch = func() {
		if first {
			first = false
			srv.Stop()
		}
	}
	g, _ := guardtest.Run(t, "user", src, nil)
	waitSet(t, g, upstream.Stale, 5*time.Second, "10.0.0.1:80")
	srv.Restart()
	waitSet(t, g, upstream.Synced, 10*time.Second, "10.0.0.1:80")
}

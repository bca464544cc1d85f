package etcd

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/loadtest"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/internal/testutil/relay"
	"github.com/straitproxy/strait/registry"
	"github.com/straitproxy/strait/upstream"
)

// TestWipedEtcdKeepsSetUntilInstancesReturn: etcd restarts with its data
// wiped; strait sees the empty listing first, and keeps the previous set
// instead of applying it, until the instances' registrars have registered
// again: no RPC fails.
func TestWipedEtcdKeepsSetUntilInstancesReturn(t *testing.T) {
	srv := etcdtest.Start(t)
	a, b := backend.StartTest(t, "a"), backend.StartTest(t, "b")
	// The instances reach etcd through a relay, so the test can hold them
	// back until strait has listed the wiped etcd.
	instances := relay.Start(t, srv.Endpoints()[0])
	for _, be := range []string{a.Addr(), b.Addr()} {
		r, err := registry.Register(context.Background(), etcdtest.NewClient(t, instances.Addr()), "user.rpc", be,
			registry.WithTimeout(time.Second), registry.WithBackoff(50*time.Millisecond, 300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
	}
	g, _ := guardtest.Run(t, "user", newSource(t, srv.Endpoints(), "user.rpc"), nil)
	want := []string{a.Addr(), b.Addr()}
	slices.Sort(want)
	waitSet(t, g, upstream.Synced, 5*time.Second, want...)
	var shrunk atomic.Value
	var held atomic.Bool
	cancel := g.Subscribe(func(s upstream.Snapshot) {
		if !slices.Equal(upstream.Addrs(s.Endpoints), want) {
			shrunk.Store(s)
		}
		if s.LastErr != nil && strings.Contains(s.LastErr.Error(), "revision went back") {
			held.Store(true)
		}
	})
	defer cancel()
	l := loadtest.Start(t, throughStrait(t, g))

	instances.Cut()
	srv.RestartWiped()
	testutil.WaitFor(t, 10*time.Second, "strait lists the wiped etcd", held.Load)
	instances.Restore()
	back := time.Now()
	waitSet(t, g, upstream.Synced, DefaultWipeGrace-time.Second, want...)
	t.Logf("set confirmed %v after the instances could reach etcd again (grace %v)", time.Since(back), DefaultWipeGrace)
	l.Stop()
	if s, ok := shrunk.Load().(upstream.Snapshot); ok {
		t.Errorf("the set shrank after the wipe: %+v", s)
	}
	if n := l.Failed.Load(); n != 0 {
		t.Errorf("%d RPCs failed (first: %v)", n, l.FirstErr())
	}
}

// TestWipeGraceEnds: instances that do not come back are dropped once the
// grace period ends, and what etcd says is applied.
func TestWipeGraceEnds(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	register(t, cli, "user.rpc", "10.0.0.1:80", 60)
	register(t, cli, "user.rpc", "10.0.0.2:80", 60)
	g, _ := guardtest.Run(t, "user", newSource(t, srv.Endpoints(), "user.rpc", WithWipeGrace(time.Second)), nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, "10.0.0.1:80", "10.0.0.2:80")

	srv.RestartWiped()
	register(t, cli, "user.rpc", "10.0.0.3:80", 60)
	register(t, cli, "user.rpc", "10.0.0.1:80", 60)
	waitSet(t, g, upstream.Synced, 10*time.Second, "10.0.0.1:80", "10.0.0.3:80")
	if s := g.Snapshot(); s.LastErr != nil {
		t.Errorf("LastErr = %v after the grace period", s.LastErr)
	}
}

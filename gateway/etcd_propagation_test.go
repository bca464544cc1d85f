package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
)

// TestEtcdPropagationThroughStrait measures how long a registration takes
// to get calls through strait, and a revocation to stop them.
func TestEtcdPropagationThroughStrait(t *testing.T) {
	srv := etcdtest.Start(t)
	writer := srv.Client(t)
	a, b := backend.StartTest(t, "a"), backend.StartTest(t, "b")
	grantPut(t, writer, "user.rpc", a.Addr())
	gw, addr := startGateway(t, parse(t, etcdConfig(srv.Endpoints()[0], t.TempDir())))
	testutil.WaitFor(t, 5*time.Second, "gateway ready", func() bool { return gw.Ready() == nil })
	_, failed, stop := greeterLoad(t, dial(t, addr, nil))
	testutil.WaitFor(t, 5*time.Second, "a gets calls", func() bool { return a.Calls() > 0 })
	for range 3 {
		start := time.Now()
		lease := grantPut(t, writer, "user.rpc", b.Addr())
		calls := b.Calls()
		testutil.WaitFor(t, 10*time.Second, "b gets calls", func() bool { return b.Calls() > calls })
		added := time.Since(start)
		start = time.Now()
		if _, err := writer.Revoke(context.Background(), lease); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 10*time.Second, "b out of the set", func() bool { return len(gw.Status().Clusters[0].Endpoints) == 1 })
		t.Logf("registration → first call through strait %v; revocation → out of the set %v", added.Round(time.Millisecond/10), time.Since(start).Round(time.Millisecond/10))
	}
	stop()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d calls failed", n)
	}
}

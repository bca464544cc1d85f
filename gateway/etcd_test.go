package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
)

func etcdConfig(etcdAddr, stateDir string) string {
	return fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, default_cluster: user}]
clusters: {user: {etcd: {hosts: [%s], key: user.rpc, dial_timeout: 500ms}}}
state_dir: %s
`, etcdAddr, stateDir)
}

func put(t *testing.T, cli *clientv3.Client, key, value string) {
	t.Helper()
	if _, err := cli.Put(context.Background(), key, value); err != nil {
		t.Fatal(err)
	}
}

// TestEtcdClusterStatus: an etcd cluster relays to what etcd lists, and
// its status shows the source, skipped values and staleness while etcd is
// down, when calls still go through.
func TestEtcdClusterStatus(t *testing.T) {
	srv := etcdtest.Start(t)
	a := backend.StartTest(t, "a")
	put(t, srv.Client(t), "user.rpc/1", a.Addr())
	put(t, srv.Client(t), "user.rpc/2", "not an address")
	gw, addr := startGateway(t, parse(t, etcdConfig(srv.Endpoints()[0], t.TempDir())))
	testutil.WaitFor(t, 5*time.Second, "gateway ready", func() bool { return gw.Ready() == nil })
	conn := dial(t, addr, nil)
	if from, err := sayHello(conn); err != nil || from != "a" {
		t.Fatalf("call answered by %q, %v", from, err)
	}
	st := gw.Status().Clusters[0]
	if st.Source != admin.SourceEtcd || st.State != admin.StateSynced || st.SkippedValues != 1 || len(st.Endpoints) != 1 {
		t.Fatalf("status = %+v", st)
	}

	srv.Stop()
	testutil.WaitFor(t, 5*time.Second, "status stale", func() bool {
		st := gw.Status().Clusters[0]
		return st.State == admin.StateStale && st.LastError != "" && len(st.Endpoints) == 1
	})
	if from, err := sayHello(conn); err != nil || from != "a" {
		t.Fatalf("with etcd down, call answered by %q, %v", from, err)
	}
}

// TestEtcdDownAtStartServesSavedSet: strait restarted while etcd is down
// becomes ready and relays to the set its previous run saved.
func TestEtcdDownAtStartServesSavedSet(t *testing.T) {
	srv := etcdtest.Start(t)
	a := backend.StartTest(t, "a")
	put(t, srv.Client(t), "user.rpc/1", a.Addr())
	cfg := etcdConfig(srv.Endpoints()[0], t.TempDir())
	gw, _ := startGateway(t, parse(t, cfg))
	testutil.WaitFor(t, 5*time.Second, "first run synced", func() bool {
		return gw.Status().Clusters[0].State == admin.StateSynced
	})
	gw.Stop()
	srv.Stop()

	start := time.Now()
	gw, addr := startGateway(t, parse(t, cfg))
	testutil.WaitFor(t, 3*time.Second, "second run ready with etcd down", func() bool { return gw.Ready() == nil })
	t.Logf("ready %v after start with etcd down", time.Since(start))
	if from, err := sayHello(dial(t, addr, nil)); err != nil || from != "a" {
		t.Fatalf("call answered by %q, %v", from, err)
	}
	if st := gw.Status().Clusters[0]; st.State != admin.StateStale {
		t.Errorf("state %s, want stale (served from the saved set)", st.State)
	}
}

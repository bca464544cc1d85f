package k8s_test

import (
	"context"
	"fmt"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/loadtest"
	"github.com/straitproxy/strait/internal/testutil/proxytest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/upstream"
)

// outage is how long the API server stays down under load.
const outage = 10 * time.Second

// TestAPIServerOutageUnderLoad kills the API server for 10 s while calls
// flow through strait's proxy, whose cluster is fed from the Guard: the set
// must not change and no call may fail. A slice deleted meanwhile (through
// a second API server on the same etcd) must be applied once the first is
// back, and its backend must stop receiving calls.
func TestAPIServerOutageUnderLoad(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	backends, addrs := backend.StartN(t, "b", 3)
	ctx := context.Background()
	for i, b := range backends {
		s := sliceOf(fmt.Sprintf("svc-%d", i), "svc", discoveryv1.AddressTypeFQDN, "grpc", port(t, b), ready("127.0.0.1"))
		if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	saved, err := upstream.NewSavedSets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	target, kubeconfig := "k8s://"+ns+"/svc:grpc", adminKubeconfig(t)
	w := watch(t, target, kubeconfig, saved)
	w.waitSet(t, addrs...)
	load := loadtest.Start(t, throughProxy(t, w.guard))
	waitCalls(t, load, 200)

	other, err := kube.AddAPIServer()
	if err != nil {
		t.Fatal(err)
	}
	otherClient, err := kubernetes.NewForConfig(other.Config())
	if err != nil {
		t.Fatal(err)
	}
	keptBefore := backends[2].Calls()
	// Killed rather than stopped: a graceful stop waits for open watches
	// to drain, so the outage would begin up to 15 s later.
	stopping := time.Now()
	kube.API.Kill()
	stopped := time.Now()
	testutil.WaitFor(t, mustHappen, "the Guard to see the outage", func() bool {
		snap, _ := w.snapshot()
		return snap.State == upstream.Stale
	})
	t.Logf("API server killed in %s; outage detected %s after the kill",
		stopped.Sub(stopping).Round(time.Millisecond), time.Since(stopping).Round(time.Millisecond))
	if err := otherClient.DiscoveryV1().EndpointSlices(ns).Delete(ctx, "svc-2", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete through the second API server: %v", err)
	}
	warm := watch(t, target, kubeconfig, saved)
	callsBefore := load.OK.Load()
	holdSet(t, w, addrs, stopped.Add(outage))
	if n := load.OK.Load() - callsBefore; n == 0 {
		t.Error("no call succeeded during the outage")
	}
	if backends[2].Calls() == keptBefore {
		t.Error("the backend whose slice was deleted meanwhile got no calls while the set was frozen")
	}
	checkWarmStart(t, warm, addrs)

	if err := kube.API.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	w.waitSet(t, addrs[:2]...)
	warm.waitSet(t, addrs[:2]...)
	t.Logf("outage %s; deletion made meanwhile applied %s after the API server was ready",
		back.Sub(stopped).Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	// Calls picked before the change may still land on the removed
	// backend; after a few hundred more none may.
	waitCalls(t, load, load.OK.Load()+200)
	removed := backends[2].Calls()
	waitCalls(t, load, load.OK.Load()+500)
	if n := backends[2].Calls() - removed; n != 0 {
		t.Errorf("the backend whose slice was deleted still got %d calls", n)
	}
	load.Stop()
	// The restarted API server cannot resume the old watch, so the
	// informer relists and delivers the deletion as a tombstone.
	if !strings.Contains(w.logs.String(), "deleted while disconnected") {
		t.Error("the deletion did not come as a DeletedFinalStateUnknown tombstone; the test no longer covers them")
	}
	t.Logf("calls: %d ok, %d failed", load.OK.Load(), load.Failed.Load())
	if f := load.Failed.Load(); f != 0 {
		t.Errorf("%d calls failed; first error: %v", f, load.FirstErr())
	}
}

// holdSet checks, until the deadline, that the Guard keeps serving want.
func holdSet(t *testing.T, w *watched, want []string, until time.Time) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(until) {
		<-tick.C
		snap, _ := w.snapshot()
		if got := upstream.Addrs(snap.Endpoints); key(got) != key(want) || snap.State != upstream.Stale {
			t.Fatalf("during the outage the set became %v (%s), want %v kept stale", got, snap.State, want)
		}
	}
}

// checkWarmStart: a Guard started while the API server is down serves the
// set saved by the one that ran before.
func checkWarmStart(t *testing.T, w *watched, want []string) {
	t.Helper()
	select {
	case <-w.guard.Ready():
	case <-time.After(mustHappen):
		t.Fatal("a Guard started during the outage never reported")
	}
	snap := w.guard.Snapshot()
	if got := upstream.Addrs(snap.Endpoints); key(got) != key(want) || snap.State != upstream.Stale {
		t.Errorf("warm start served %v (%s), want the saved %v, stale", got, snap.State, want)
	}
}

func port(t *testing.T, s *backend.Server) int32 {
	t.Helper()
	var p int32
	if _, err := fmt.Sscanf(s.Addr(), "127.0.0.1:%d", &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// throughProxy runs strait's gRPC proxy with one cluster fed by the Guard
// and returns a client connection to it.
func throughProxy(t *testing.T, g *upstream.Guard) *grpc.ClientConn {
	t.Helper()
	return throughAddr(t, proxytest.Start(t, "svc", g, proxy.ClusterOptions{MaxMessageSize: 4 << 20}))
}

// throughAddr returns a client connection to a strait listener.
func throughAddr(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitCalls waits until the load has made n successful calls.
func waitCalls(t *testing.T, l *loadtest.Load, n int64) {
	t.Helper()
	testutil.WaitFor(t, mustHappen, fmt.Sprintf("%d calls", n), func() bool { return l.OK.Load() >= n })
}

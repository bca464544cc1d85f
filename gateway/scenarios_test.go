package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/gateway"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The balancer's end-to-end scenarios, each run on both data paths: the
// relay and the grpc-go path make the same promises.
func TestBalancerScenarios(t *testing.T) {
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, dp string)
	}{
		{"slow node", slowNodeGetsLittle},
		{"fast-failing node", failingNodeGetsFewCalls},
		{"killed node", killedNodeCostsFewCalls},
		{"restarted node", restartedNodeIsTakenBack},
		{"not serving", notServingNodeIsDrainedAndTakenBack},
		{"every node failing", everyNodeFailingAndRecovering},
		{"short client deadlines", shortDeadlinesNeverEjectAHealthyNode},
		{"trailer-less responses", trailerlessNodeIsSettledAndBlamed},
	} {
		t.Run(sc.name, func(t *testing.T) { eachDataplane(t, sc.run) })
	}
}

// balancedGateway runs a gateway on dp in front of addrs with balancer
// options (YAML flow mapping content, may be empty).
func balancedGateway(t *testing.T, dp, balancer string, addrs ...string) (*gateway.Gateway, *grpc.ClientConn) {
	cfg := greeterConfigOn(dp, addrs...)
	if balancer != "" {
		cfg = strings.Replace(cfg, "]}}", "], balancer: {"+balancer+"}}}", 1)
	}
	gw, addr := startGateway(t, parse(t, cfg))
	return gw, dial(t, addr, nil)
}

// spread makes n calls and counts who answered; errs counts failures.
func spread(conn *grpc.ClientConn, n int) (from map[string]int, errs int) {
	from = map[string]int{}
	for range n {
		name, err := sayHello(conn)
		if err != nil {
			errs++
			continue
		}
		from[name]++
	}
	return from, errs
}

func endpointStatus(t *testing.T, gw *gateway.Gateway, addr string) admin.EndpointStatus {
	t.Helper()
	for _, e := range gw.Status().Clusters[0].Endpoints {
		if e.Addr == addr {
			return e
		}
	}
	t.Fatalf("no endpoint %s in the status", addr)
	return admin.EndpointStatus{}
}

// allSettled waits until no endpoint has a call in flight.
func allSettled(t *testing.T, gw *gateway.Gateway) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "every call settled (in flight 0)", func() bool {
		for _, e := range gw.Status().Clusters[0].Endpoints {
			if e.InFlight != 0 {
				return false
			}
		}
		return true
	})
}

func slowNodeGetsLittle(t *testing.T, dp string) {
	bs, addrs := backend.StartN(t, "n", 3)
	bs[0].SetLatency(2 * time.Millisecond)
	bs[1].SetLatency(2 * time.Millisecond)
	bs[2].SetLatency(100 * time.Millisecond)
	_, conn := balancedGateway(t, dp, "tau: 1s", addrs...)
	from, errs := spread(conn, 300)
	// Round robin would give it a third; loose for a shared machine,
	// whose stalls slow the fast nodes too.
	if errs > 0 || from["n2"] > 300/6 {
		t.Fatalf("slow node took %d of 300 calls (%d failed): %v", from["n2"], errs, from)
	}
}

func failingNodeGetsFewCalls(t *testing.T, dp string) {
	bs, addrs := backend.StartN(t, "n", 3)
	bs[2].SetFailure(1, codes.Unavailable)
	gw, conn := balancedGateway(t, dp, "", addrs...)
	_, errs := spread(conn, 200)
	if errs > 20 || uint64(errs) != bs[2].Calls() {
		t.Fatalf("%d of 200 calls failed; the failing node took %d", errs, bs[2].Calls())
	}
	// Its penalty alone may keep it out after one failure, before
	// its breaker sees the five that eject it.
	if e := endpointStatus(t, gw, addrs[2]); bs[2].Calls() == 0 || !strings.Contains(e.LastError, "failing by setting") {
		t.Fatalf("the failing node was not tried, or not blamed: %+v", e)
	}
	allSettled(t, gw)
}

func killedNodeCostsFewCalls(t *testing.T, dp string) {
	bs, addrs := backend.StartN(t, "n", 3)
	gw, conn := balancedGateway(t, dp, "", addrs...)
	if _, errs := spread(conn, 50); errs > 0 {
		t.Fatalf("%d of 50 calls failed before the kill", errs)
	}
	bs[1].Stop()
	from, errs := spread(conn, 200)
	if errs > 5 || from["n1"] > 0 {
		t.Fatalf("after the kill %d of 200 calls failed, the dead node answered %d", errs, from["n1"])
	}
	allSettled(t, gw)
}

func restartedNodeIsTakenBack(t *testing.T, dp string) {
	bs, addrs := backend.StartN(t, "n", 2)
	gw, conn := balancedGateway(t, dp, "breaker: {timeout: 100ms}", addrs...)
	bs[1].Stop()
	spread(conn, 50)
	again, err := backend.Start(addrs[1], "n1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Stop)
	testutil.WaitFor(t, 20*time.Second, "the restarted node answers again", func() bool {
		from, _ := spread(conn, 20)
		return from["n1"] > 0
	})
	allSettled(t, gw)
}

func notServingNodeIsDrainedAndTakenBack(t *testing.T, dp string) {
	bs, addrs := backend.StartN(t, "n", 3)
	// The relay polls (fast, for the test); the grpc-go path watches and
	// refuses a poll interval.
	hc := "health_check: {enabled: true, interval: 50ms, timeout: 1s}"
	if dp == "grpc" {
		hc = "health_check: {enabled: true}"
	}
	gw, conn := balancedGateway(t, dp, hc, addrs...)
	if from, errs := spread(conn, 60); errs > 0 || from["n2"] == 0 {
		t.Fatalf("before: %v, %d failed", from, errs)
	}
	bs[2].SetServing(false)
	testutil.WaitFor(t, 10*time.Second, "the node is reported not serving", func() bool {
		return endpointStatus(t, gw, addrs[2]).LastError != "" || dp == "grpc" && spreadAvoids(conn, "n2")
	})
	before := bs[2].Calls()
	if from, errs := spread(conn, 100); errs > 0 || from["n2"] > 0 || bs[2].Calls() != before {
		t.Fatalf("while not serving: %v, %d failed, %d calls reached it", from, errs, bs[2].Calls()-before)
	}
	bs[2].SetServing(true)
	testutil.WaitFor(t, 20*time.Second, "the node takes calls again", func() bool {
		from, _ := spread(conn, 20)
		return from["n2"] > 0
	})
}

// spreadAvoids says whether 20 calls all went to other nodes than name.
func spreadAvoids(conn *grpc.ClientConn, name string) bool {
	from, errs := spread(conn, 20)
	return errs == 0 && from[name] == 0
}

func everyNodeFailingAndRecovering(t *testing.T, dp string) {
	bs, addrs := backend.StartN(t, "n", 3)
	for _, b := range bs {
		b.SetFailure(1, codes.Unavailable)
	}
	gw, conn := balancedGateway(t, dp, "breaker: {timeout: 100ms}", addrs...)
	for range 100 {
		if _, err := sayHello(conn); status.Code(err) != codes.Unavailable {
			t.Fatalf("with every node failing: %v, want Unavailable", err)
		}
	}
	for _, b := range bs {
		b.SetFailure(0, codes.OK)
	}
	testutil.WaitFor(t, 20*time.Second, "calls succeed again", func() bool {
		_, errs := spread(conn, 20)
		return errs == 0
	})
	allSettled(t, gw)
}

func trailerlessNodeIsSettledAndBlamed(t *testing.T, dp string) {
	_, addrs := backend.StartN(t, "n", 2)
	odd, _ := testutil.StartNoTrailers(t)
	gw, conn := balancedGateway(t, dp, "", append(addrs, odd)...)
	_, errs := spread(conn, 200)
	if errs > 20 {
		t.Fatalf("%d of 200 calls failed", errs)
	}
	allSettled(t, gw)
	if e := endpointStatus(t, gw, odd); e.Requests == 0 || !strings.Contains(e.LastError, "trailers") {
		t.Fatalf("the node that sends no trailers was not tried, or not blamed: %+v", e)
	}
}

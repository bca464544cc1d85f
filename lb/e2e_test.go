package lb_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/status"

	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/lb"
)

// TestE2ESlowNodeAvoided compares a cluster with a 10× slower node to an
// all-fast one, both under the same load at the same time, so that the
// machine's scheduling stalls hit both alike. On this kind of machine (two
// cores shared by several jobs, load average above 10) those stalls reach
// 50-120 ms under -race; the peak-EWMA estimate latches them for about τ,
// which blurs a 50 ms vs 500 ms difference: measured at load 3-10 the slow
// node took 0.1-1.2% of the calls and p99 was 1.1× the all-fast one; at
// load 25, 6%. The test asserts under 10% (round robin: 33%) and logs the
// p99 ratio; the simulator (package sim), free of such noise, asserts the
// 1.2× p99 target.
func TestE2ESlowNodeAvoided(t *testing.T) {
	const fastLatency, slowLatency = 50 * time.Millisecond, 500 * time.Millisecond
	fast, slow := startCluster(t, 3, lb.Options{}), startCluster(t, 3, lb.Options{})
	for i := range 3 {
		fast.backends[i].SetLatency(fastLatency)
		slow.backends[i].SetLatency(fastLatency)
	}
	slow.backends[2].SetLatency(slowLatency)
	var fr, sr []result
	var wg sync.WaitGroup
	wg.Go(func() { fr = fast.load(3, 12*time.Second, 1500, nil) })
	wg.Go(func() { sr = slow.load(3, 12*time.Second, 1500, nil) })
	wg.Wait()
	const warm = 2 * time.Second // the slow node is found out on its first calls
	base, s := summarize(fr, warm), summarize(sr, warm)
	t.Logf("all fast: p50 %v p99 %v; c 10× slower: p50 %v p99 %v (%.2f×) share %v",
		base.p50, base.p99, s.p50, s.p99, float64(s.p99)/float64(base.p99), s.share)
	if s.calls < 150 {
		t.Fatalf("only %d calls measured", s.calls)
	}
	if s.share["c"]*100 >= 10*s.calls {
		t.Errorf("slow node got %d of %d calls (want < 10%%)", s.share["c"], s.calls)
	}
}

// TestE2EFailingNodeEjected runs twice: with the default failure penalty
// (the estimate alone steers away), and with a negligible penalty so that
// the breaker has to do it.
func TestE2EFailingNodeEjected(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    lb.Options
	}{{"penalty", lb.Options{}}, {"breaker", lb.Options{Penalty: time.Microsecond}}} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 3, tc.o)
			c.backends[2].SetFailure(1, codes.Unavailable)
			var atOneSecond uint64
			var once sync.Once
			rs := c.load(4, 5*time.Second, 1_000_000, func(el time.Duration) {
				if el > time.Second {
					once.Do(func() { atOneSecond = c.backends[2].Calls() })
				}
			})
			all, late := summarize(rs, 0), summarize(rs, time.Second)
			toBad := c.backends[2].Calls() - atOneSecond
			st := endpointStats(t, c, 2)
			t.Logf("all: %d calls %d errors; after 1s: %d calls, %d errors, %d reached the failing node; ejections %d",
				all.calls, all.errors, late.calls, late.errors, toBad, st.Ejections)
			if late.calls < 300 {
				t.Fatalf("only %d calls after the first second", late.calls)
			}
			if late.errors*200 > late.calls {
				t.Errorf("client errors after 1s: %d of %d (want < 0.5%%)", late.errors, late.calls)
			}
			if toBad*100 > uint64(late.calls) {
				t.Errorf("failing node got %d of %d calls after 1s (want < 1%%)", toBad, late.calls)
			}
			if st.Failures == 0 || !strings.Contains(st.LastError, "failing by setting") {
				t.Errorf("failure not recorded: %+v", st)
			}
			if tc.o.Penalty != 0 && st.Ejections == 0 {
				t.Errorf("breaker never ejected the failing node: %+v", st)
			}
		})
	}
}

func endpointStats(t *testing.T, c *cluster, i int) lb.EndpointStats {
	t.Helper()
	for _, e := range c.pool.Stats().Endpoints {
		if e.Addr == c.backends[i].Addr() {
			return e
		}
	}
	t.Fatalf("no stats for %s", c.backends[i].Addr())
	return lb.EndpointStats{}
}

func TestE2EKilledNodeNoNewFailures(t *testing.T) {
	c := startCluster(t, 3, lb.Options{})
	for _, b := range c.backends {
		b.SetLatency(time.Millisecond)
	}
	var killedAt time.Duration
	var once sync.Once
	rs := c.load(4, 2500*time.Millisecond, 1_000_000, func(el time.Duration) {
		if el > 500*time.Millisecond {
			once.Do(func() { c.backends[1].Stop(); killedAt = el })
		}
	})
	var lastErr time.Duration
	errs := 0
	for _, r := range rs {
		if r.err != nil {
			errs++
			lastErr = max(lastErr, r.at)
		}
	}
	after := summarize(rs, killedAt+time.Second)
	t.Logf("killed at %v; %d client errors, the last %v after the kill; %d calls after kill+1s",
		killedAt, errs, lastErr-killedAt, after.calls)
	if after.errors != 0 {
		t.Errorf("%d client failures more than 1s after the kill", after.errors)
	}
	if after.calls < 100 || after.share["b"] != 0 {
		t.Errorf("after kill+1s: %+v", after)
	}
}

func TestE2ERestartedNodeTakesTrafficAgain(t *testing.T) {
	c := startCluster(t, 3, lb.Options{})
	addr := c.backends[1].Addr()
	c.backends[1].Stop()
	testutil.WaitFor(t, 5*time.Second, "killed node leaves the set", func() bool { return c.pool.Current().Len() == 2 })
	s, err := backend.Start(addr, "b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	restarted := time.Now()
	testutil.WaitFor(t, 5*time.Second, "restarted node takes calls", func() bool {
		call(pbClient(c), 0)
		return s.Calls() > 0
	})
	t.Logf("restarted node took traffic %v after it came back", time.Since(restarted))
}

func TestE2EHealedNodeBackAfterBreakerTimeout(t *testing.T) {
	// A negligible penalty leaves ejection to the breaker.
	c := startCluster(t, 3, lb.Options{Penalty: time.Microsecond, Breaker: health.BreakerOptions{Timeout: 500 * time.Millisecond}})
	bad := c.backends[0]
	bad.SetFailure(1, codes.Internal)
	// Concurrent calls: with one call at a time nothing is ever in flight
	// and P2C always prefers the lowest estimate.
	testutil.WaitFor(t, 5*time.Second, "failing node ejected", func() bool {
		c.load(4, time.Second, 20, nil)
		return endpointStats(t, c, 0).Breaker == "open"
	})
	bad.SetFailure(0, codes.OK)
	healed := time.Now()
	before := bad.Calls()
	testutil.WaitFor(t, 5*time.Second, "healed node closed again and taking calls", func() bool {
		c.load(4, time.Second, 20, nil)
		return endpointStats(t, c, 0).Breaker == "closed" && bad.Calls() > before+1
	})
	back := time.Since(healed)
	t.Logf("healed node back after %v (breaker timeout 500ms ±20%%)", back)
	if back < 400*time.Millisecond {
		t.Errorf("back after %v, before its breaker timeout", back)
	}
}

func TestE2EAllFailingPanics(t *testing.T) {
	c := startCluster(t, 3, lb.Options{})
	for _, b := range c.backends {
		b.SetFailure(1, codes.Unavailable)
	}
	testutil.WaitFor(t, 5*time.Second, "panic mode", func() bool {
		call(pbClient(c), 0)
		return c.pool.Panicking()
	})
	var before []uint64
	for _, b := range c.backends {
		before = append(before, b.Calls())
	}
	c.load(2, 5*time.Second, 300, nil)
	for i, b := range c.backends {
		if b.Calls() == before[i] {
			t.Errorf("panic mode sent nothing to %s", b.Name())
		}
	}
	// The admin server exports this as strait_cluster_panic_activations_total.
	if got := c.pool.PanicActivations(); got != 1 {
		t.Errorf("panic activations = %d, want 1", got)
	}
}

func TestE2EHealthCheckNotServing(t *testing.T) {
	c := startCluster(t, 3, lb.Options{HealthCheck: lb.HealthCheckOptions{Enabled: true}})
	c.backends[0].SetServing(false)
	testutil.WaitFor(t, 5*time.Second, "NOT_SERVING node leaves the set", func() bool { return c.pool.Current().Len() == 2 })
	before := c.backends[0].Calls()
	rs := summarize(c.load(4, 5*time.Second, 300, nil), 0)
	if got := c.backends[0].Calls() - before; got != 0 || rs.errors != 0 {
		t.Errorf("NOT_SERVING node took %d calls; %d client errors", got, rs.errors)
	}
	c.backends[0].SetServing(true)
	testutil.WaitFor(t, 5*time.Second, "SERVING node back in the set", func() bool { return c.pool.Current().Len() == 3 })
}

// TestE2EClientDeadlinesDoNotEject: calls that end because the client's
// own deadline ran out say nothing about the backend.
func TestE2EClientDeadlinesDoNotEject(t *testing.T) {
	c := startCluster(t, 1, lb.Options{})
	c.backends[0].SetLatency(time.Second)
	client := pbClient(c)
	for range 2 * health.DefaultConsecutiveFailures {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := client.SayHello(ctx, &pb.HelloRequest{Name: "hurry"})
		cancel()
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("got %v, want the client's DeadlineExceeded", err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "calls done", func() bool { return c.pool.Current().Endpoint(0).InFlight() == 0 })
	if st := endpointStats(t, c, 0); st.Failures != 0 || st.Breaker != "closed" {
		t.Fatalf("client deadlines counted against the backend: %+v", st)
	}
}

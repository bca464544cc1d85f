package tcpproxy

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/lb"
)

func TestBackendDownConnectionsGoElsewhere(t *testing.T) {
	backends := []*backend{startBackend(t), startBackend(t), startBackend(t)}
	h := startProxy(t, Options{}, backends[0].addr(), backends[1].addr(), backends[2].addr())
	for i := range 30 {
		if err := h.pingOnce("warm"); err != nil {
			t.Fatalf("warm-up connection %d: %v", i, err)
		}
	}
	// The one to stop is the picker's favourite: P2C never picks the
	// endpoint it rates worst of three, so stopping that one would leave
	// nothing for the test to see.
	dead := h.favourite(backends)
	dead.stop() // its port now refuses connections
	for i := range 100 {
		if err := h.pingOnce("after"); err != nil {
			t.Fatalf("connection %d after a backend died: %v", i, err)
		}
	}
	s := h.proxy.Stats()
	if s.Unserved != 0 {
		t.Errorf("%d clients turned away while two backends were up", s.Unserved)
	}
	d := h.endpoint(dead.addr())
	if d.Failed == 0 {
		t.Errorf("no dial failure counted on the dead endpoint: the test did not exercise the retry")
	}
	// Each failure reached the endpoint's balancing state (breaker and
	// penalised estimate), which is why so few dials went there.
	if d.Failed > 10 {
		t.Errorf("%d dials to the dead endpoint; the picker should avoid it", d.Failed)
	}
	for _, e := range h.pool.Stats().Endpoints {
		if e.Addr == dead.addr() && e.Failures != d.Failed {
			t.Errorf("balancer saw %d failures of the dead endpoint, the proxy %d", e.Failures, d.Failed)
		}
	}
}

func TestAllBackendsDownClientTurnedAway(t *testing.T) {
	dead := startBackend(t)
	h := startProxy(t, Options{DialAttempts: 2}, dead.addr())
	dead.stop()
	c := h.dial()
	if !readsEOF(c, waitLong) {
		t.Fatal("client of a cluster with no live endpoint was not closed")
	}
	testutil.WaitFor(t, waitLong, "unserved counted", func() bool { return h.proxy.Stats().Unserved == 1 })
	if f := h.endpoint(dead.addr()).Failed; f != 2 {
		t.Errorf("%d dials, want DialAttempts=2", f)
	}
}

// A backend that is slow to accept fills its listen queue; then the kernel
// drops new SYNs, connecting to it takes a SYN retransmission, and its
// connect-time estimate makes P2C send it few new connections.
func TestSlowAcceptGetsFewerConnections(t *testing.T) {
	slow := startBackend(t, withAcceptDelay(100*time.Millisecond), withBacklog(0))
	fast := startBackend(t)
	// A dial needing a second SYN retransmission (3 s) times out and goes
	// to the other backend, so no client waits past its deadline.
	h := startProxy(t, Options{DialTimeout: 1500 * time.Millisecond}, slow.addr(), fast.addr())
	const workers, each = 6, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := h.pingOnce("x"); err != nil {
					t.Errorf("ping: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s, f := h.endpoint(slow.addr()), h.endpoint(fast.addr())
	t.Logf("slow backend got %d connections, fast %d; dial time slow %v fast %v", s.Opened, f.Opened,
		s.DialTotal/time.Duration(max(1, s.DialCount)), f.DialTotal/time.Duration(max(1, f.DialCount)))
	if s.Opened+f.Opened != workers*each {
		t.Fatalf("opened %d+%d, want %d", s.Opened, f.Opened, workers*each)
	}
	if float64(s.Opened) > 0.15*float64(workers*each) {
		t.Errorf("slow-to-accept backend got %d of %d connections, want under 15 %%", s.Opened, workers*each)
	}
}

// Open connections are the balancer's in-flight calls: the (open + 1)
// factor of the load that P2C compares.
func TestOpenConnectionsCountAsInFlight(t *testing.T) {
	b := startBackend(t)
	h := startProxy(t, Options{}, b.addr())
	inflight := func() int64 { return h.pool.Stats().Endpoints[0].InFlight }
	var conns []*net.TCPConn
	for i := range 3 {
		c := h.dial()
		if err := ping(c, "open"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if n := inflight(); n != int64(i+1) {
			t.Fatalf("%d connections open, balancer counts %d in flight", i+1, n)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	testutil.WaitFor(t, waitLong, "in-flight back to 0", func() bool { return inflight() == 0 })
	if e := h.pool.Stats().Endpoints[0]; e.Requests != 3 || e.Failures != 0 {
		t.Fatalf("balancer saw %d calls %d failures, want 3 and 0", e.Requests, e.Failures)
	}
}

// An ejected endpoint that comes back is probed with one connection.
// That connection may stay open for as long as its client likes; the
// breaker closes once it is connected, not when it ends, so the
// endpoint takes new connections while the probe is still open.
func TestProbeConnectionClosesBreakerWhileOpen(t *testing.T) {
	good, gone := startBackend(t), startBackend(t)
	addr := gone.addr()
	gone.stop() // its port refuses connections until it comes back
	// The recovered endpoint holds the open probe, so while the two
	// connect times are alike it is the dearer one; passed over, it takes
	// no samples and its estimate decays with tau until it wins. A short
	// tau and a small penalty make that wait a fraction of a second,
	// whatever one slow probe connect or the refusals' penalty was.
	lo := lb.Options{Tau: 200 * time.Millisecond, Penalty: time.Millisecond,
		Breaker: health.BreakerOptions{ConsecutiveFailures: 1, Timeout: 50 * time.Millisecond, Probes: 1}}
	h := startProxyLB(t, Options{}, lo, good.addr(), addr)
	testutil.WaitFor(t, waitLong, "the stopped endpoint ejected", func() bool {
		h.pingOnce("eject")
		return h.breaker(addr) != health.Closed.String()
	})
	back := startBackendAt(t, addr)
	var probe net.Conn
	testutil.WaitFor(t, waitLong, "a probe connection reaches the revived endpoint", func() bool {
		c := h.dial()
		if err := ping(c, "probe"); err != nil {
			t.Fatalf("connection while probing: %v", err)
		}
		if back.open() == 1 {
			probe = c
			return true
		}
		c.Close()
		return false
	})
	testutil.WaitFor(t, waitLong, "breaker closed while the probe is open", func() bool {
		return h.breaker(addr) == health.Closed.String()
	})
	testutil.WaitFor(t, waitLong, "a new connection to the recovered endpoint while the probe is open", func() bool {
		if err := h.pingOnce("after"); err != nil {
			t.Fatalf("connection after recovery: %v", err)
		}
		return back.accepted.Load() >= 2
	})
	if err := ping(probe, "still open"); err != nil {
		t.Fatalf("the probe connection: %v", err)
	}
}

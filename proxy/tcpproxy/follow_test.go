package tcpproxy

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/internal/testutil/guardtest"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/upstream/static"
)

// A listener fed by a real discovery source through its Guard, as the
// gateway wires it.
func TestFollowStaticSource(t *testing.T) {
	a, b := startBackend(t), startBackend(t)
	h := startProxy(t, Options{})
	g, stopGuard := guardtest.Run(t, "test", static.New([]string{a.addr(), b.addr()}), nil)
	stop := NewPoolBalancer(h.pool).Follow(g, h.proxy)
	defer func() { stop(); stopGuard() }()
	testutil.WaitFor(t, waitLong, "set applied", func() bool { return h.pool.Current().Len() == 2 })
	for range 10 {
		if err := h.pingOnce("via static"); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.accepted.Load() + b.accepted.Load(); n != 10 {
		t.Fatalf("backends saw %d connections, want 10", n)
	}
}

// With active TCP checks, a dead endpoint is taken out before any client
// connection has to fail on it.
func TestProberTakesDeadEndpointOutBeforeAnyDial(t *testing.T) {
	live, live2, dead := startBackend(t), startBackend(t), startBackend(t)
	dead.stop()
	h := startProxy(t, Options{})
	pr := health.NewProber(health.TCP(), 50*time.Millisecond, time.Second, h.pool.SetServing)
	defer pr.Close()
	g, stopGuard := guardtest.Run(t, "test", static.New([]string{dead.addr(), live.addr(), live2.addr()}), nil)
	stop := NewPoolBalancer(h.pool).WithProber(pr).Follow(g, h.proxy)
	defer func() { stop(); stopGuard() }()
	testutil.WaitFor(t, waitLong, "the probe marks the dead endpoint", func() bool {
		for _, e := range h.pool.Stats().Endpoints {
			if e.Addr == dead.addr() && !e.Serving {
				return true
			}
		}
		return false
	})
	for range 20 {
		if err := h.pingOnce("checked"); err != nil {
			t.Fatal(err)
		}
	}
	if f := h.endpoint(dead.addr()).Failed; f != 0 {
		t.Fatalf("%d client dials failed on an endpoint the probe had taken out", f)
	}
}

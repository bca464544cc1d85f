package tcpproxy

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/upstream"
)

// setSource is a discovery Source the test drives by hand, standing in for
// a registry (the real ones are tested in their own packages); the Guard
// and the subscription path in front of it are the real ones.
type setSource struct{ sets chan []string }

func (s *setSource) Run(ctx context.Context, emit func(upstream.Update)) {
	for {
		select {
		case <-ctx.Done():
			return
		case addrs := <-s.sets:
			eps := make([]upstream.Endpoint, len(addrs))
			for i, a := range addrs {
				eps[i] = upstream.Endpoint{Addr: a}
			}
			emit(upstream.Update{Endpoints: eps})
		}
	}
}

// followGuard makes h's proxy follow a Guard fed by the returned channel.
func followGuard(t *testing.T, h *harness) chan<- []string {
	src := &setSource{sets: make(chan []string)}
	g, _ := guardtest.Run(t, "test", src, nil)
	// Cleanups run last first: the balancer stops following before
	// the guard stops.
	t.Cleanup(NewPoolBalancer(h.pool).Follow(g, h.proxy))
	return src.sets
}

// connTo opens connections until one lands on addr.
func connTo(t *testing.T, h *harness, b *backend) *net.TCPConn {
	t.Helper()
	for range 50 {
		before := b.accepted.Load()
		c := h.dial()
		if err := ping(c, "which"); err != nil {
			t.Fatal(err)
		}
		if b.accepted.Load() > before {
			return c
		}
		c.Close()
	}
	t.Fatalf("no connection landed on %s", b.addr())
	return nil
}

func TestRemovedEndpointKeepsOpenConnections(t *testing.T) {
	a, b := startBackend(t), startBackend(t)
	h := startProxy(t, Options{Drain: DrainOptions{Mode: DrainKeep}})
	sets := followGuard(t, h)
	sets <- []string{a.addr(), b.addr()}
	testutil.WaitFor(t, waitLong, "set applied", func() bool { return h.pool.Current().Len() == 2 })
	old := connTo(t, h, a)
	sets <- []string{b.addr()}
	testutil.WaitFor(t, waitLong, "removal applied", func() bool { return h.pool.Current().Len() == 1 })
	before := a.accepted.Load()
	for range 20 {
		if err := h.pingOnce("new"); err != nil {
			t.Fatal(err)
		}
	}
	if a.accepted.Load() != before {
		t.Fatal("a removed endpoint got new connections")
	}
	if err := ping(old, "still served"); err != nil {
		t.Fatalf("open connection to the removed endpoint broke in keep mode: %v", err)
	}
	if s := h.proxy.Stats(); s.DrainClosed != 0 {
		t.Fatalf("%d drain closes in keep mode", s.DrainClosed)
	}
}

func TestRemovedEndpointConnectionsClosedAfterGrace(t *testing.T) {
	a, b := startBackend(t), startBackend(t)
	const grace = 150 * time.Millisecond
	h := startProxy(t, Options{Drain: DrainOptions{Mode: DrainClose, Grace: grace}})
	sets := followGuard(t, h)
	sets <- []string{a.addr(), b.addr()}
	testutil.WaitFor(t, waitLong, "set applied", func() bool { return h.pool.Current().Len() == 2 })
	doomed, kept := connTo(t, h, a), connTo(t, h, b)
	removed := time.Now()
	sets <- []string{b.addr()}
	if err := ping(doomed, "within grace"); err != nil {
		t.Fatalf("connection cut before the grace time: %v", err)
	}
	if !readsEOF(doomed, waitLong) {
		t.Fatal("connection to the removed endpoint outlived the grace time")
	}
	if d := time.Since(removed); d < grace {
		t.Fatalf("closed %v after removal, before the %v grace", d, grace)
	}
	if err := ping(kept, "unaffected"); err != nil {
		t.Fatalf("connection to a remaining endpoint was hurt: %v", err)
	}
	testutil.WaitFor(t, waitLong, "drain close counted", func() bool { return h.proxy.Stats().DrainClosed == 1 })
}

// An endpoint that comes back within the grace time keeps its connections.
func TestReaddedEndpointCancelsDrain(t *testing.T) {
	a := startBackend(t)
	h := startProxy(t, Options{Drain: DrainOptions{Mode: DrainClose, Grace: 100 * time.Millisecond}}, a.addr())
	c := h.dial()
	if err := ping(c, "x"); err != nil {
		t.Fatal(err)
	}
	h.setEndpoints()
	h.setEndpoints(a.addr())
	if readsEOF(c, 300*time.Millisecond) {
		t.Fatal("connection closed although its endpoint came back")
	}
	if err := ping(c, "back"); err != nil {
		t.Fatal(err)
	}
}

package tcpproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
)

func TestConnectionLimitClosesExcessAtOnce(t *testing.T) {
	b := startBackend(t)
	h := startProxy(t, Options{MaxConnections: 2}, b.addr())
	c1, c2 := h.dial(), h.dial()
	for _, c := range []net.Conn{c1, c2} {
		if err := ping(c, "in"); err != nil {
			t.Fatal(err)
		}
	}
	excess := h.dial()
	if !readsEOF(excess, waitLong) {
		t.Fatal("connection over the limit was kept open")
	}
	if s := h.proxy.Stats(); s.Rejected != 1 || s.Active != 2 {
		t.Fatalf("rejected %d active %d, want 1 and 2", s.Rejected, s.Active)
	}
	if n := b.accepted.Load(); n != 2 {
		t.Fatalf("backend saw %d connections; the rejected one must not reach it", n)
	}
	c1.Close()
	testutil.WaitFor(t, waitLong, "a slot frees", func() bool { return h.proxy.Stats().Active == 1 })
	if err := ping(h.dial(), "again"); err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
	if err := ping(c2, "still"); err != nil {
		t.Fatalf("open connection hurt by the limit: %v", err)
	}
}

func TestIdleTimeoutClosesSilentConnection(t *testing.T) {
	b := startBackend(t)
	const idle = 200 * time.Millisecond
	h := startProxy(t, Options{IdleTimeout: idle}, b.addr())
	c := h.dial()
	if err := ping(c, "hi"); err != nil {
		t.Fatal(err)
	}
	last := time.Now()
	if !readsEOF(c, waitLong) {
		t.Fatal("idle connection was not closed")
	}
	if d := time.Since(last); d < idle {
		t.Fatalf("closed after %v of silence, before the %v idle timeout", d, idle)
	}
	testutil.WaitFor(t, waitLong, "idle close counted", func() bool { return h.proxy.Stats().IdleClosed == 1 })
	testutil.WaitFor(t, waitLong, "backend side closed", func() bool { return b.open() == 0 })
}

// Bytes flowing one way only keep the connection alive: the other
// direction's silence is not idleness.
func TestIdleTimeoutSparesOneWayTraffic(t *testing.T) {
	const idle = 150 * time.Millisecond
	sink := func(c net.Conn, r *bufio.Reader) { io.Copy(io.Discard, r) }
	b := startBackend(t, withHandler(sink))
	h := startProxy(t, Options{IdleTimeout: idle}, b.addr())
	c := h.dial()
	tick := time.NewTicker(idle / 5) // paces the client's trickle
	defer tick.Stop()
	for range 25 { // five idle timeouts' worth
		<-tick.C
		if _, err := c.Write([]byte{'.'}); err != nil {
			t.Fatalf("trickling connection was cut: %v", err)
		}
	}
	if s := h.proxy.Stats(); s.IdleClosed != 0 || s.Active != 1 {
		t.Fatalf("idle closes %d, active %d: a busy connection was taken for idle", s.IdleClosed, s.Active)
	}
}

func TestMaxLifetimeClosesBusyConnection(t *testing.T) {
	b := startBackend(t)
	const life = 200 * time.Millisecond
	h := startProxy(t, Options{MaxLifetime: life}, b.addr())
	start := time.Now()
	c := h.dial()
	for time.Since(start) < 10*time.Second {
		if err := ping(c, "busy"); err != nil {
			break
		}
	}
	if d := time.Since(start); d < life || d > 5*time.Second {
		t.Fatalf("connection ended after %v, want about %v", d, life)
	}
	testutil.WaitFor(t, waitLong, "lifetime close counted", func() bool { return h.proxy.Stats().LifetimeClosed == 1 })
}

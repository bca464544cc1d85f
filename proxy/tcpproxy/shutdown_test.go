package tcpproxy

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
)

func TestShutdownLetsOpenConnectionsFinish(t *testing.T) {
	b := startBackend(t)
	h := startProxy(t, Options{}, b.addr())
	c := h.dial()
	if err := ping(c, "before"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := shutdownCtx(waitLong)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.proxy.Shutdown(ctx) }()
	select {
	case err := <-h.done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Serve returned %v, want ErrClosed", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Serve still running after Shutdown began")
	}
	h.done <- ErrClosed // for the harness's own check at cleanup
	if nc, err := net.DialTimeout("tcp", h.addr, waitLong); err == nil {
		nc.Close()
		t.Fatal("listener still accepts during shutdown")
	}
	if err := ping(c, "during shutdown"); err != nil {
		t.Fatalf("open connection cut by graceful shutdown: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a connection open", err)
	default:
	}
	c.CloseWrite()
	if !readsEOF(c, waitLong) {
		t.Fatal("connection did not end after the client's half-close")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Shutdown did not return once the last connection ended")
	}
	if s := h.proxy.Stats(); s.ShutdownClosed != 0 {
		t.Fatalf("%d connections cut by a graceful shutdown", s.ShutdownClosed)
	}
}

func TestShutdownCutsConnectionsAtDeadline(t *testing.T) {
	b := startBackend(t)
	h := startProxy(t, Options{}, b.addr())
	c := h.dial()
	if err := ping(c, "open"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := shutdownCtx(100 * time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := h.proxy.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown reported success although it cut a connection")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("Shutdown cut connections after %v, before its deadline", d)
	}
	if !readsEOF(c, waitLong) {
		t.Fatal("connection open after the shutdown deadline")
	}
	if s := h.proxy.Stats(); s.ShutdownClosed != 1 || s.Active != 0 {
		t.Fatalf("shutdown closes %d active %d, want 1 and 0", s.ShutdownClosed, s.Active)
	}
	testutil.WaitFor(t, waitLong, "backend side closed", func() bool { return b.open() == 0 })
}

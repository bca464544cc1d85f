package tcpproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/straitproxy/strait/lb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLong bounds what must happen; tests fail rather than hang.
const waitLong = 5 * time.Second

// harness is a proxy on a loopback listener, balancing over an lb.Pool.
type harness struct {
	t     testing.TB
	proxy *Proxy
	pool  *lb.Pool
	addr  string
	done  chan error
}

func startProxy(t testing.TB, o Options, addrs ...string) *harness {
	return startProxyLB(t, o, lb.Options{}, addrs...)
}

// startProxyLB is startProxy with balancer options.
func startProxyLB(t testing.TB, o Options, lo lb.Options, addrs ...string) *harness {
	t.Helper()
	if err := o.Validate("test"); err != nil {
		t.Fatal(err)
	}
	pool := lb.NewPool("test", lo, lb.WithLogger(quietLog()))
	p := New(o, NewPoolBalancer(pool), quietLog())
	pool.Update(addrs)
	p.UpdateEndpoints(addrs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	h := &harness{t: t, proxy: p, pool: pool, addr: lis.Addr().String(), done: make(chan error, 1)}
	go func() { h.done <- p.Serve(lis) }()
	t.Cleanup(h.close)
	return h
}

// setEndpoints changes the cluster as Follow would: pool, then proxy.
func (h *harness) setEndpoints(addrs ...string) {
	h.pool.Update(addrs)
	h.proxy.UpdateEndpoints(addrs)
}

func (h *harness) close() {
	h.proxy.Close()
	select {
	case err := <-h.done:
		if !errors.Is(err, ErrClosed) {
			h.t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	case <-time.After(waitLong):
		h.t.Errorf("Serve did not return after Close")
	}
}

func (h *harness) dial() *net.TCPConn {
	h.t.Helper()
	c, err := net.DialTimeout("tcp", h.addr, waitLong)
	if err != nil {
		h.t.Fatalf("dial proxy: %v", err)
	}
	h.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(4 * waitLong))
	return c.(*net.TCPConn)
}

// ping writes msg and reads it back from an echo backend.
func ping(c net.Conn, msg string) error {
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, []byte(msg)) {
		return errors.New("echo mismatch: " + string(got))
	}
	return nil
}

// pingOnce opens a connection through the proxy, echoes, half-closes and
// waits for the proxy to relay the backend's end.
func (h *harness) pingOnce(msg string) error {
	c, err := net.DialTimeout("tcp", h.addr, waitLong)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLong))
	if err := ping(c, msg); err != nil {
		return err
	}
	c.(*net.TCPConn).CloseWrite()
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return errors.New("expected EOF after echo")
	}
	return nil
}

// readsEOF says whether the connection was closed by the far side within
// the deadline (EOF or reset), as opposed to timing out.
func readsEOF(c net.Conn, within time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	c.SetReadDeadline(time.Now().Add(waitLong))
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func (h *harness) endpoint(addr string) EndpointStats {
	for _, e := range h.proxy.Stats().Endpoints {
		if e.Addr == addr {
			return e
		}
	}
	return EndpointStats{Addr: addr}
}

// favourite is the backend whose endpoint the balancer rates best now.
func (h *harness) favourite(bs []*backend) *backend {
	best, low := bs[0], time.Duration(-1)
	for _, b := range bs {
		for _, e := range h.pool.Stats().Endpoints {
			if e.Addr == b.addr() && (low < 0 || e.Estimate < low) {
				best, low = b, e.Estimate
			}
		}
	}
	return best
}

// breaker is the balancer's breaker position for addr.
func (h *harness) breaker(addr string) string {
	for _, e := range h.pool.Stats().Endpoints {
		if e.Addr == addr {
			return e.Breaker
		}
	}
	return ""
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func shutdownCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

package attack_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

// TestNoGoAwayAtFullSpeed: a grpc-go client calling as fast as it can for
// 30 s through one connection is never sent a GOAWAY. grpc-go pings once
// per read batch to estimate the bandwidth-delay product; a flood limit
// that counted those PINGs told busy, honest clients ENHANCE_YOUR_CALM.
// The client's bytes are tapped both ways and parsed, so the test sees
// the GOAWAY itself, not a guess from failed calls.
func TestNoGoAwayAtFullSpeed(t *testing.T) {
	const (
		callers  = 8
		duration = 30 * time.Second
		maxCalls = 5_000_000
	)
	backendAddr := startBackend(t)
	// A PING limit far under the rate of the client's window-sizing
	// PINGs (hundreds a second, fewer under the race detector), so the
	// test fails wherever those count, not only on a fast machine: only
	// PINGs without stream traffic between them may.
	s := startStrait(t, backendAddr, "limits: {flood: {pings: {per_second: 20, burst: 20}}}\n")
	tap := &frameTap{}
	cc, err := grpc.NewClient(s.target.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(tap.dial))
	if err != nil {
		t.Fatal(err)
	}
	client := pb.NewGreeterClient(cc)
	// Each call has a deadline of its own, not tied to the run's end: a
	// call cut by the end of the run could fail DeadlineExceeded (the
	// server's status can beat the client's own timer) and would be
	// miscounted as strait's failure.
	stopAt := time.Now().Add(duration)
	var (
		ok, failed, budget atomic.Int64
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		failures           []string // the first few, with how long they took
	)
	for range callers {
		wg.Go(func() {
			for time.Now().Before(stopAt) && budget.Add(1) <= maxCalls {
				callCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
				start := time.Now()
				_, err := client.SayHello(callCtx, &pb.HelloRequest{Name: "full speed"})
				done()
				switch {
				case err == nil:
					ok.Add(1)
				default:
					if failed.Add(1) <= 5 {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("after %v, at %s: %v", time.Since(start).Round(time.Millisecond), time.Now().Format("15:04:05.000"), err))
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	cc.Close()
	tap.wait()
	secs := duration.Seconds()
	t.Logf("%d calls (%.0f/s), %d failed; client PINGs %.0f/s; GOAWAYs %d; connections %d",
		ok.Load(), float64(ok.Load())/secs, failed.Load(), float64(tap.pings.Load())/secs, tap.goAways.Load(), tap.dials.Load())
	if n := tap.goAways.Load(); n > 0 {
		t.Errorf("strait sent %d GOAWAY (first: %v) to a conforming client", n, http2.ErrCode(tap.firstCode.Load()))
	}
	if n := tap.dials.Load(); n != 1 {
		t.Errorf("the client connected %d times, want once", n)
	}
	if n := failed.Load(); n > 0 {
		t.Errorf("%d calls failed; the first:\n%s", n, strings.Join(failures, "\n"))
	}
	if ok.Load() < 1000 {
		t.Errorf("only %d calls in %s: the client was not at speed", ok.Load(), duration)
	}
}

// frameTap dials connections whose bytes it parses as HTTP/2 frames both
// ways: it counts the GOAWAYs the server sends and the PINGs the client
// sends.
type frameTap struct {
	dials, goAways atomic.Int32
	firstCode      atomic.Uint32
	pings          atomic.Int64
	wg             sync.WaitGroup
}

func (ft *frameTap) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	ft.dials.Add(1)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ft.wg.Go(func() { ft.parse(inR, false) })
	ft.wg.Go(func() { ft.parse(outR, true) })
	return &tappedConn{Conn: nc, in: inW, out: outW}, nil
}

// parse reads frames from r until it ends; fromClient skips the client
// preface first.
func (ft *frameTap) parse(r *io.PipeReader, fromClient bool) {
	defer io.Copy(io.Discard, r) // never block the connection
	if fromClient {
		if _, err := io.ReadFull(r, make([]byte, len(http2.ClientPreface))); err != nil {
			return
		}
	}
	fr := http2.NewFramer(nil, r)
	fr.SetMaxReadFrameSize(1<<24 - 1)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			if fromClient {
				continue // the client's own, as it closes
			}
			if ft.goAways.Add(1) == 1 {
				ft.firstCode.Store(uint32(f.ErrCode))
			}
		case *http2.PingFrame:
			if fromClient && !f.IsAck() {
				ft.pings.Add(1)
			}
		}
	}
}

// wait waits for the parsers of closed connections.
func (ft *frameTap) wait() { ft.wg.Wait() }

// tappedConn copies what it reads and writes to its tap's parsers.
type tappedConn struct {
	net.Conn
	in, out *io.PipeWriter
}

func (c *tappedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.in.Write(p[:n])
	}
	if err != nil {
		c.in.CloseWithError(err)
	}
	return n, err
}

func (c *tappedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.out.Write(p[:n])
	}
	return n, err
}

func (c *tappedConn) Close() error {
	c.in.Close()
	c.out.Close()
	return c.Conn.Close()
}

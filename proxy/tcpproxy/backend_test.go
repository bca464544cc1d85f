package tcpproxy

import (
	"bufio"
	"crypto/sha256"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// backend is a real TCP server on loopback for the proxy to reach.
type backend struct {
	t        testing.TB
	lis      net.Listener
	handle   func(net.Conn, *bufio.Reader)
	delay    time.Duration // before each Accept: a backend slow to accept
	proxyHdr bool          // expect a PROXY protocol header first

	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	headers  []*proxyproto.Header
}

// echo sends back everything it reads, then half-closes.
func echo(c net.Conn, r *bufio.Reader) {
	io.Copy(c, r)
	c.(*net.TCPConn).CloseWrite()
}

// digest reads until the client's EOF, then answers with the SHA-256 of
// what it read: it can only answer if the half-close reached it.
func digest(c net.Conn, r *bufio.Reader) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return
	}
	c.Write(h.Sum(nil))
}

type backendOpt func(*backend)

func withHandler(h func(net.Conn, *bufio.Reader)) backendOpt {
	return func(b *backend) { b.handle = h }
}

func withAcceptDelay(d time.Duration) backendOpt { return func(b *backend) { b.delay = d } }

// withBacklog shrinks the listen queue: Linux lets listen(2) be called again
// on a listening socket to change it. Once a slow backend's queue is full,
// the kernel drops new SYNs and connecting takes a retransmission (1 s).
func withBacklog(n int) backendOpt {
	return func(b *backend) {
		raw, err := b.lis.(*net.TCPListener).SyscallConn()
		if err == nil {
			err = raw.Control(func(fd uintptr) { err = syscall.Listen(int(fd), n) })
		}
		if err != nil {
			b.t.Fatalf("backend backlog: %v", err)
		}
	}
}

func withProxyHeader() backendOpt { return func(b *backend) { b.proxyHdr = true } }

func startBackend(t testing.TB, opts ...backendOpt) *backend {
	t.Helper()
	return startBackendAt(t, "127.0.0.1:0", opts...)
}

// startBackendAt starts a backend on addr: a stopped one coming back.
func startBackendAt(t testing.TB, addr string, opts ...backendOpt) *backend {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("backend listen: %v", err)
	}
	b := &backend{t: t, lis: lis, handle: echo, conns: map[net.Conn]struct{}{}}
	for _, o := range opts {
		o(b)
	}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(b.stop)
	return b
}

func (b *backend) addr() string { return b.lis.Addr().String() }

func (b *backend) serve() {
	defer b.wg.Done()
	for {
		if b.delay > 0 {
			time.Sleep(b.delay) // the backend's own slowness, not a test wait
		}
		c, err := b.lis.Accept()
		if err != nil {
			return
		}
		b.accepted.Add(1)
		b.mu.Lock()
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serveConn(c)
	}
}

func (b *backend) serveConn(c net.Conn) {
	defer b.wg.Done()
	defer func() {
		c.Close()
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	if b.proxyHdr {
		h, err := proxyproto.Read(r)
		if err != nil {
			b.t.Errorf("backend: reading PROXY header: %v", err)
			return
		}
		b.mu.Lock()
		b.headers = append(b.headers, h)
		b.mu.Unlock()
	}
	b.handle(c, r)
}

// stop closes the listener and every connection, and waits for the
// handlers: a backend going down.
func (b *backend) stop() {
	b.lis.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *backend) open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

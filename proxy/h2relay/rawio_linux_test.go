package h2relay

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	a, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

// A write far larger than the socket buffers waits on the poller while
// the peer drains it, and every byte arrives in order; then the peer's
// close reads as EOF.
func TestSocketIOWritesAllAndReadsEOF(t *testing.T) {
	a, b := tcpPair(t)
	sa, sb := newSocketIO(a), newSocketIO(b)
	if _, ok := sa.(*socketIO); !ok {
		t.Fatalf("a TCP connection got %T, want raw socket I/O", sa)
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	errc := make(chan error, 1)
	go func() {
		n, err := sa.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		a.CloseWrite()
		errc <- err
	}()
	got, err := io.ReadAll(sb)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
}

// Deadlines and Close reach a read waiting on the poller, as on net.Conn.
func TestSocketIOReadDeadlineAndClose(t *testing.T) {
	a, _ := tcpPair(t)
	sa := newSocketIO(a)
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := sa.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := sa.Read(make([]byte, 8))
		errc <- err
	}()
	a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed connection: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read stayed blocked after Close")
	}
}

// limitUnsent sets TCP_NOTSENT_LOWAT on a client connection's socket,
// also when the connection is wrapped in TLS.
func TestLimitUnsentSetsTheSocketOption(t *testing.T) {
	a, b := tcpPair(t)
	limitUnsent(a, 32<<10)
	limitUnsent(tls.Server(b, &tls.Config{}), 48<<10)
	for _, c := range []struct {
		conn *net.TCPConn
		want int
	}{{a, 32 << 10}, {b, 48 << 10}} {
		raw, err := c.conn.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var gerr error
		if err := raw.Control(func(fd uintptr) {
			got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
		}); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		if got != c.want {
			t.Errorf("TCP_NOTSENT_LOWAT = %d, want %d", got, c.want)
		}
	}
}

package h2relay

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// limitUnsent bounds what a client connection's socket keeps queued and
// not yet sent to n bytes (TCP_NOTSENT_LOWAT): past it the socket takes
// no more until the peer has taken some. Without it Linux queues up to
// tcp_wmem's 4 MiB per socket, so a client that stops reading looks like
// one that keeps up until megabytes went its way, pulled through the
// upstream connection it shares with every other client; with it, its
// write buffer fills after a few hundred KiB and its streams' windows
// stop growing (upwindow.go). Bytes in flight are not counted, so a
// distant fast client is not slowed. It works under TLS too, and is best
// effort: a socket that refuses keeps the default.
func limitUnsent(nc net.Conn, n int) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	})
}

// socketIO reads and writes a TCP connection's non-blocking socket with
// raw system calls, waiting on Go's poller when it would block, as
// net.Conn does. The difference is what a raw call skips: a plain one
// tells the scheduler it may block, and each such notice wakes the
// runtime's monitor thread from its sleep whenever the process had
// gone idle — on a proxy at a third of a core that monitor, polling
// every 20 µs after each wake, cost 15 % of the relay's CPU (perf). A
// non-blocking socket never blocks in the kernel, so nothing needs the
// notice. Go offers no such call on net.Conn, hence this; one reader
// and one writer at a time, as the relay uses a connection.
type socketIO struct {
	raw syscall.RawConn

	rbuf   []byte
	lend   *readBuf // readLent's buffer, taken only while input waits
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	wbuf    []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
}

// newSocketIO returns raw socket I/O for a TCP connection, or nc itself.
func newSocketIO(nc net.Conn) io.ReadWriter {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	s := &socketIO{raw: raw}
	s.readFn, s.writeFn = s.readFD, s.writeFD
	return s
}

// readLent reads into rb's buffer, taken from the pool once input is
// there; while the socket has none it waits holding no buffer.
func (s *socketIO) readLent(rb *readBuf) (int, error) {
	s.lend = rb
	n, err := s.Read(nil)
	s.lend = nil
	return n, err
}

func (s *socketIO) Read(p []byte) (int, error) {
	if len(p) == 0 && s.lend == nil {
		return 0, nil
	}
	s.rbuf = p
	err := s.raw.Read(s.readFn)
	s.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case s.rerr != nil:
		return 0, s.rerr
	case s.rn == 0:
		return 0, io.EOF
	}
	return s.rn, nil
}

// readFD makes one read; false asks the poller to wait for input.
func (s *socketIO) readFD(fd uintptr) bool {
	if s.lend != nil {
		s.lend.take()
		s.rbuf = s.lend.buf[:]
	}
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.rbuf[0])), uintptr(len(s.rbuf)))
		switch errno {
		case 0:
			s.rn, s.rerr = int(n), nil
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if s.lend != nil {
				s.lend.release() // nothing to read: wait without it
			}
			return false
		}
		s.rn, s.rerr = 0, &net.OpError{Op: "read", Net: "tcp", Err: errno}
		return true
	}
}

func (s *socketIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.wbuf, s.wn, s.werr = p, 0, nil
	err := s.raw.Write(s.writeFn)
	n := s.wn
	s.wbuf = nil
	if err == nil {
		err = s.werr
	}
	return n, err
}

// writeFD writes what the socket takes; false asks the poller to wait
// until it takes more.
func (s *socketIO) writeFD(fd uintptr) bool {
	for s.wn < len(s.wbuf) {
		rest := s.wbuf[s.wn:]
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch errno {
		case 0:
			s.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.werr = &net.OpError{Op: "write", Net: "tcp", Err: errno}
			return true
		}
	}
	return true
}

package h2relay

import (
	"io"
	"sync"
	"sync/atomic"
)

// readBufSize is a connection's read buffer: a few frames of the
// largest size the relay accepts, so one read brings a batch.
const readBufSize = 32 << 10

// readBufs pools read buffers across connections.
var readBufs = sync.Pool{New: func() any { return new([readBufSize]byte) }}

// lender is a source that can read into a pooled buffer and give it
// back while it waits for input (socketIO).
type lender interface {
	readLent(rb *readBuf) (int, error)
}

// readBuf buffers a connection's input for its frame reader. On TCP the
// buffer is taken from the pool when input arrives and returned when the
// socket has no more, so a connection waiting for its peer holds none:
// most connections at an edge are idle most of the time. Other sources
// (TLS) block in a read that needs the buffer, and keep theirs. Owned
// by the reader goroutine; held is read by tests.
type readBuf struct {
	src  io.Reader
	buf  *[readBufSize]byte
	r, w int
	held atomic.Bool // buf is taken
}

// take gets a buffer from the pool unless one is held.
func (b *readBuf) take() {
	if b.buf == nil {
		b.buf = readBufs.Get().(*[readBufSize]byte)
		b.held.Store(true)
	}
}

// release gives the buffer back; what it holds must have been read.
func (b *readBuf) release() {
	if b.buf != nil {
		readBufs.Put(b.buf)
		b.buf = nil
		b.held.Store(false)
	}
}

func (b *readBuf) Read(p []byte) (int, error) {
	if b.r == b.w {
		b.r, b.w = 0, 0
		var n int
		var err error
		if l, ok := b.src.(lender); ok {
			n, err = l.readLent(b)
		} else {
			b.take()
			n, err = b.src.Read(b.buf[:])
		}
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
		b.w = n
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// buffered is how many bytes wait in the buffer.
func (b *readBuf) buffered() int { return b.w - b.r }

// peek returns the next n buffered bytes; n must be at most buffered().
func (b *readBuf) peek(n int) []byte { return b.buf[b.r : b.r+n] }

package h2relay

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

const (
	// maxWindow is the largest flow-control window HTTP/2 allows.
	maxWindow = 1<<31 - 1
	// defaultWindow is a window before any SETTINGS or WINDOW_UPDATE.
	defaultWindow = 65535
	// controlSlack is what a connection's write buffer may hold beyond
	// Options.WriteBuffer: DATA stops at WriteBuffer (the rest stays
	// queued on its stream, bounded by the stream's window), header
	// blocks and control frames do not, and flood limits bound those;
	// a peer past it is broken or hostile, and dropped.
	controlSlack = 4 << 20
	// pingAckDelay bounds how long a PING's acknowledgement waits for
	// other frames to share its write. Under load that is the next
	// request or reply, a fraction of it; gRPC peers ping once per
	// round trip to size their windows, and answering each in a write of
	// its own was a quarter of the relay's writes. Idle, it goes out
	// alone this much later: keep-alive timeouts are seconds.
	pingAckDelay = time.Millisecond
)

// conn is one HTTP/2 connection, client or upstream side: its write
// buffer and flusher, hpack encoder, windows and streams. mu guards the
// wire state: everything appended to wbuf, the header encoder (so stream ids,
// header blocks and buffer order agree), windows and the legs on it.
type conn struct {
	nc  net.Conn
	rw  io.ReadWriter // nc's data, through raw system calls on TCP (socketIO)
	o   *Options
	br  readBuf
	rfr *http2.Framer

	mu           sync.Mutex
	wbuf         []byte
	wfr          *http2.Framer
	hdr          headerEncoder
	streams      map[uint32]*leg
	sendWin      int32 // what the peer lets us send on the connection
	peerInitWin  int32
	peerMaxFrame uint32
	recvWin      int32 // what the peer may still send us
	unacked      int32 // consumed, not yet given back
	dead         bool
	handed       uint64        // bytes the flusher took from wbuf, ever
	closing      bool          // close once wbuf is written
	ackDelay     time.Duration // pingAckDelay; tests change it
	ackTimer     *time.Timer
	ackArmed     bool // ackTimer will flush a PING ack
	// wbufFull is set when a leg left DATA queued because wbuf held
	// Options.WriteBuffer; the flusher pumps the legs once it took wbuf.
	wbufFull bool
	// moved is set when HEADERS or DATA with a payload passed either
	// way; a client's PING clears it (see downConn.onClientPing).
	moved bool

	up   *upConn   // set on upstream connections
	down *downConn // set on client connections

	// peerMaxHeaders is the peer's SETTINGS_MAX_HEADER_LIST_SIZE (0:
	// unlimited); response blocks over it are not sent to a client.
	peerMaxHeaders atomic.Uint32

	rb         batch        // owned by the reader goroutine
	stallAt    time.Time    // owned by the flusher: the write deadline set last
	lateRefund atomic.Int32 // conn-level credit from dropped queues
	flush      atomic.Int32 // flusher state: flushIdle, flushRunning, ...
	wg         *sync.WaitGroup
}

type bufWriter struct{ c *conn }

func (w bufWriter) Write(p []byte) (int, error) {
	if w.c.wbuf == nil {
		w.c.wbuf = getWriteBuf()
	}
	w.c.wbuf = append(w.c.wbuf, p...)
	if len(w.c.wbuf) > w.c.o.WriteBuffer+controlSlack {
		w.c.nc.Close()
	}
	return len(p), nil
}

func newConn(nc net.Conn, o *Options) *conn {
	rw := newSocketIO(nc)
	c := &conn{
		nc: nc, rw: rw, o: o,
		streams:      map[uint32]*leg{},
		sendWin:      defaultWindow,
		peerInitWin:  defaultWindow,
		peerMaxFrame: 16384,
		recvWin:      defaultWindow,
		ackDelay:     pingAckDelay,
	}
	c.br.src = rw
	c.rfr = http2.NewFramer(nil, &c.br)
	c.rfr.SetReuseFrames()
	c.rfr.SetMaxReadFrameSize(16384) // we advertise no other
	c.wfr = http2.NewFramer(bufWriter{c}, nil)
	c.hdr.init()
	return c
}

// initialWindow is the receive window a new stream has on c.
func (c *conn) initialWindow() int32 {
	if c.up != nil {
		return c.o.upWindow()
	}
	return c.o.StreamWindow
}

// writeSettingsLocked sends our SETTINGS and opens the connection window.
func (c *conn) writeSettingsLocked(extra ...http2.Setting) {
	s := append([]http2.Setting{
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.initialWindow())},
		{ID: http2.SettingMaxHeaderListSize, Val: c.o.MaxHeaderListSize},
	}, extra...)
	c.wfr.WriteSettings(s...)
	if inc := c.o.ConnWindow - defaultWindow; inc > 0 {
		c.wfr.WriteWindowUpdate(0, uint32(inc))
		c.recvWin += inc
	}
	c.kick()
}

// The flusher's states (conn.flush). A connection has a flusher
// goroutine only while it has something to write: most connections at an
// edge are idle most of the time, and a parked goroutine costs its
// stack.
const (
	flushIdle    int32 = iota // no flusher; the next kick starts one
	flushRunning              // a flusher writes what it took
	flushKicked               // more to write: the flusher passes again
	flushDone                 // the connection is closed: no more writes
)

// startFlusher lets kicks start flushers, which wg counts (one count for
// the connection's whole writing life, ended by its last flusher).
// Nothing may kick c before.
func (c *conn) startFlusher(wg *sync.WaitGroup) {
	wg.Add(1)
	c.wg = wg
}

// kick has the flusher write what is buffered, starting one when none
// runs. It takes no lock.
func (c *conn) kick() {
	for {
		s := c.flush.Load()
		if s == flushKicked || s == flushDone {
			return
		}
		if c.flush.CompareAndSwap(s, flushKicked) {
			if s == flushIdle {
				go c.flushLoop()
			}
			return
		}
	}
}

// flushLoop writes whatever accumulated since its last write in one
// write: frames appended by many goroutines go out together. It returns
// when nothing more was kicked, and for good once the connection closes.
func (c *conn) flushLoop() {
	var spare []byte
	for {
		c.flush.Store(flushRunning)
		b, ok := c.flushOnce(spare)
		if !ok {
			c.flush.Store(flushDone)
			c.wg.Done()
			return
		}
		spare = nil
		if c.flush.Load() == flushKicked {
			// More to write already: the next swap reuses b.
			if cap(b) <= maxPooledBuffer {
				spare = b
			}
			continue
		}
		// Nothing more for now: the buffers go back to the pool, so
		// that an idle connection keeps none, and the goroutine ends.
		putWriteBuf(b)
		c.mu.Lock()
		if len(c.wbuf) == 0 {
			putWriteBuf(c.wbuf)
			c.wbuf = nil
		}
		c.mu.Unlock()
		if c.flush.CompareAndSwap(flushRunning, flushIdle) {
			return
		}
	}
}

// flushOnce takes wbuf, leaving spare in its place, and writes it; it
// returns what it wrote, and false once the connection is closed.
func (c *conn) flushOnce(spare []byte) ([]byte, bool) {
	// Let the goroutines already runnable append first: replies from
	// several endpoints to one client then share a write. Measured:
	// 4-5 % less CPU per call, fewer writes.
	runtime.Gosched()
	c.mu.Lock()
	if n := c.lateRefund.Swap(0); n > 0 {
		c.refundLocked(nil, n, nil)
	}
	b, closing := c.wbuf, c.closing
	c.wbuf = spare[:0]
	c.handed += uint64(len(b))
	if c.ackArmed {
		c.ackTimer.Stop()
		c.ackArmed = false
	}
	var refunds []refund
	if c.wbufFull {
		// Legs stopped at a full buffer fill the fresh one while this
		// one is written.
		c.wbufFull = false
		refunds = c.pumpAllLocked(refunds, nil)
	}
	if !closing && len(b) > 0 {
		c.armStallLocked()
	}
	c.mu.Unlock()
	applyRefunds(refunds, nil)
	if len(b) > 0 {
		c.o.Budget.add(int64(len(b)))
		_, err := c.rw.Write(b)
		c.o.Budget.add(-int64(len(b)))
		if err != nil {
			c.nc.Close()
			return nil, false
		}
	}
	if closing {
		c.linger()
		return nil, false
	}
	return b, true
}

// maxPooledBuffer is the largest write buffer kept for reuse.
const maxPooledBuffer = 1 << 20

// writeBufs pools empty write buffers across connections.
var writeBufs sync.Pool

func getWriteBuf() []byte {
	if b, ok := writeBufs.Get().([]byte); ok {
		return b
	}
	return make([]byte, 0, 4<<10)
}

func putWriteBuf(b []byte) {
	if cap(b) > 0 && cap(b) <= maxPooledBuffer {
		writeBufs.Put(b[:0]) //nolint:staticcheck // a slice header per put; an idle connection keeps no buffer
	}
}

// armStallLocked has a write that the peer does not take within
// WriteStall fail, which ends the connection. The deadline moves only
// once an eighth of WriteStall has passed, not per write: a write gets
// between 7/8 of WriteStall and all of it.
func (c *conn) armStallLocked() {
	now := time.Now()
	if now.Add(c.o.WriteStall).Sub(c.stallAt) < c.o.WriteStall/8 {
		return
	}
	c.stallAt = now.Add(c.o.WriteStall)
	c.nc.SetWriteDeadline(c.stallAt)
}

// flushSoonLocked has what was appended go out with the next write, or
// after ackDelay at the latest.
func (c *conn) flushSoonLocked() {
	if c.ackArmed {
		return
	}
	c.ackArmed = true
	if c.ackTimer == nil {
		c.ackTimer = time.AfterFunc(c.ackDelay, c.kick)
		return
	}
	c.ackTimer.Reset(c.ackDelay)
}

// linger closes the connection after the peer has had a moment to read
// what was written last (a GOAWAY): closing with unread input would
// send a TCP reset that can destroy it in flight.
func (c *conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, c.nc)
	}
	c.nc.Close()
}

// closeLocked ends the connection once what is buffered is written; a
// peer that does not read gets a second to take it.
func (c *conn) closeLocked() {
	if c.closing {
		return
	}
	c.closing = true
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.kick()
}

// endLocked ends the connection after err (with a GOAWAY naming
// lastID when err is a connection error) and closes every leg on it,
// returning them so the caller can end their peers outside the lock.
func (c *conn) endLocked(err error, lastID uint32) []*leg {
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		c.goAwayLocked(lastID, http2.ErrCode(ce))
	}
	c.closeLocked()
	c.dead = true
	legs := make([]*leg, 0, len(c.streams))
	for _, l := range c.streams {
		l.finishLocked()
		legs = append(legs, l)
	}
	c.streams = nil
	return legs
}

// goAwayLocked sends GOAWAY and closes the connection.
func (c *conn) goAwayLocked(lastID uint32, code http2.ErrCode) {
	if !c.closing {
		c.wfr.WriteGoAway(lastID, code, nil)
	}
	c.closeLocked()
}

// refundLocked gives n consumed bytes back to the peer: to l while the
// peer may still send on it, and to a client connection. An upstream
// connection had its connection-level window back as the bytes arrived
// (see onData). Updates go out once a quarter of a window has built up,
// never as zero.
func (c *conn) refundLocked(l *leg, n int32, b *batch) { c.refundStreamLocked(l, n, b, false) }

// refundStreamLocked is refundLocked; with grow, an upstream stream's
// window also grows when an update goes out (see upWindowStart).
func (c *conn) refundStreamLocked(l *leg, n int32, b *batch, grow bool) {
	if n <= 0 || c.dead {
		return
	}
	wrote := false
	if c.up == nil {
		wrote = c.creditConnLocked(n)
	}
	if l != nil && !l.closed && !l.recvEnd {
		l.unacked += n
		if l.unacked >= c.streamWindow(l)/4 {
			inc := l.unacked
			if grow {
				inc += c.growLocked(l)
			}
			c.wfr.WriteWindowUpdate(l.id, uint32(inc))
			l.recvWin += inc
			l.unacked = 0
			wrote = true
		}
	}
	if wrote {
		b.add(c)
	}
}

// creditConnLocked gives n bytes back to the connection's window and
// says whether a WINDOW_UPDATE was written.
func (c *conn) creditConnLocked(n int32) bool {
	c.unacked += n
	if c.unacked < c.o.ConnWindow/4 {
		return false
	}
	c.wfr.WriteWindowUpdate(0, uint32(c.unacked))
	c.recvWin += c.unacked
	c.unacked = 0
	return true
}

func (c *conn) refund(l *leg, n int32, b *batch) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	c.refundLocked(l, n, b)
	c.mu.Unlock()
}

// writeHeadersLocked encodes fields and writes them as HEADERS plus
// CONTINUATION frames that fit the peer's frame size.
func (c *conn) writeHeadersLocked(id uint32, fields []hpackField, end bool) {
	block := c.hdr.encode(fields)
	n := min(len(block), int(c.peerMaxFrame))
	c.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:n], EndStream: end, EndHeaders: n == len(block)})
	for block = block[n:]; len(block) > 0; block = block[n:] {
		n = min(len(block), int(c.peerMaxFrame))
		c.wfr.WriteContinuation(id, n == len(block), block[:n])
	}
}

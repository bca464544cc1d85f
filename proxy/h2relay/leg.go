package h2relay

import (
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// chunk is one queued item for a leg: DATA bytes, a header block, or a
// RST_STREAM, kept in order so that nothing overtakes data.
type chunk struct {
	data     []byte
	fields   []hpackField
	code     http2.ErrCode // before the bools, so that they pack: 56 bytes, not 64
	end      bool
	rst      bool
	borrowed bool // data or fields point into the reader's buffers
	replayed bool // data is a replay buffer's: not the client's to give back
}

// leg is one side of a stream on one connection.
type leg struct {
	s    *stream
	conn atomic.Pointer[conn]
	pool atomic.Pointer[pool]
	id   uint32

	sendWin, recvWin, unacked int32
	// grant is an upstream stream's window: it starts small and grows
	// while the client keeps up (upwindow.go).
	grant                    int32
	queue                    []chunk
	queueBuf                 [2]chunk // queue's first home, saving an allocation per call
	sentEnd, recvEnd, closed bool
	sentHeaders, gotHeaders  bool
	// quiet counts the stream sweeps since a frame for the call was
	// received on either side (saturating); the sweeper reads the down
	// leg's. Each frame zeroes the leg it arrives on or is forwarded to.
	quiet uint8
	// expiring: the call is in its client connection's expiries (down
	// leg; guarded by that connection's mu).
	expiring bool
	msgs     msgLimit
}

func (l *leg) peer() *leg {
	if l == &l.s.down {
		return &l.s.up
	}
	return &l.s.down
}

func (l *leg) isUp() bool { return l == &l.s.up }

// detached guards up legs that never reached a pool (the call failed
// before; such legs are closed from the start) and up legs between two
// attempts (retry.go). A leaf lock: nothing is locked while holding it.
var detached sync.Mutex

// lock locks what guards l now: its connection, or its pool while the
// leg waits for one. An up leg moves from pool to connection once, under
// both locks, so a retry sees the move.
func (l *leg) lock() *sync.Mutex {
	for {
		if c := l.conn.Load(); c != nil {
			c.mu.Lock()
			if l.conn.Load() == c {
				return &c.mu
			}
			c.mu.Unlock()
			continue
		}
		p := l.pool.Load()
		if p == nil {
			detached.Lock()
			if l.conn.Load() == nil && l.pool.Load() == nil {
				return &detached
			}
			detached.Unlock()
			continue
		}
		p.mu.Lock()
		if l.conn.Load() == nil && l.pool.Load() == p {
			return &p.mu
		}
		p.mu.Unlock()
	}
}

// pumpLocked writes what l's windows allow from its queue and returns
// the DATA bytes sent, which the caller gives back to the peer leg.
func (l *leg) pumpLocked(b *batch) (sent int32) {
	c := l.conn.Load()
	if c == nil || c.dead {
		return 0
	}
	for len(l.queue) > 0 && !l.closed {
		ch := &l.queue[0]
		switch {
		case ch.rst:
			c.writeResetLocked(l.id, ch.code)
			l.finishLocked()
		case ch.fields != nil:
			c.writeHeadersLocked(l.id, ch.fields, ch.end)
			if ch.end && !l.isUp() {
				l.s.code, l.s.coded = grpcStatus(ch.fields)
				if d := l.s.detail; d != nil && l.s.code != codes.OK {
					d.message = grpcMessage(ch.fields)
				}
			}
			l.sentHeaders = true
			l.sentEnd = l.sentEnd || ch.end
		default:
			if len(c.wbuf) >= c.o.WriteBuffer && len(ch.data) > 0 {
				// The peer has yet to take what is buffered: the
				// rest waits on the stream, held by its window.
				c.wbufFull = true
				b.add(c)
				return sent
			}
			n := min(int32(len(ch.data)), l.sendWin, c.sendWin, int32(c.peerMaxFrame))
			if n <= 0 && len(ch.data) > 0 {
				b.add(c)
				return sent
			}
			end := ch.end && int(n) == len(ch.data)
			c.wfr.WriteData(l.id, end, ch.data[:n])
			l.sendWin -= n
			c.sendWin -= n
			if !ch.replayed {
				sent += n
			}
			c.moved = true
			if !ch.borrowed && !ch.replayed {
				l.hold(-int(n))
			}
			if ch.data = ch.data[n:]; len(ch.data) > 0 {
				continue
			}
			l.sentEnd = l.sentEnd || end
		}
		if len(l.queue) > 0 {
			l.queue[0] = chunk{}
			l.queue = l.queue[1:]
		}
	}
	if len(l.queue) == 0 {
		l.queue = l.queueBuf[:0]
	}
	if l.sentEnd && l.recvEnd {
		l.finishLocked()
	}
	if len(c.wbuf) > 0 {
		b.add(c)
	}
	return sent
}

// recvEndLocked records the peer's END_STREAM on l. When l had sent
// its own end already the stream is over: nothing else would close it
// (pumping closes a leg only when it sends the last of both).
func (l *leg) recvEndLocked() {
	l.recvEnd = true
	if l.sentEnd {
		l.finishLocked()
	}
}

// finishLocked closes l: it leaves its connection, and queued data it
// will never send is given back to the connection it came from.
func (l *leg) finishLocked() {
	if l.closed {
		return
	}
	l.closed = true
	l.dropQueueLocked()
	l.queue = nil
	if l.isUp() {
		l.s.rp.drop(l.s.srv)
		if l.hedged() {
			l.s.rs.hedge.upFinished(l.s)
		}
	}
	c := l.conn.Load()
	if c == nil {
		return
	}
	if !l.isUp() {
		c.down.endedLocked(l.s)
		// Also when the client's connection is gone: a call that
		// began must be observed, or gauges fed by Begin never fall.
		l.s.srv.observe(l.s)
	}
	if c.dead {
		return
	}
	delete(c.streams, l.id)
	if l.isUp() {
		l.s.upClosed(c)
	} else {
		l.s.srv.downClosed(c)
	}
}

// dropQueueLocked discards what l has queued; the DATA bytes among it
// are given back to the connection they came from.
func (l *leg) dropQueueLocked() {
	l.hold(-l.ownedLocked())
	var dropped int32
	for _, ch := range l.queue {
		if !ch.replayed {
			dropped += int32(len(ch.data))
		}
	}
	clear(l.queue)
	l.queue = l.queue[:0]
	if dropped > 0 {
		if src := l.peer().conn.Load(); src != nil {
			src.lateRefund.Add(dropped)
			src.kick()
		}
	}
}

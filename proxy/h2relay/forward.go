package h2relay

import (
	"slices"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// refundTo gives n bytes received on src back to its peer.
func refundTo(src *leg, n int32, b *batch) {
	if c := src.conn.Load(); c != nil {
		c.refund(src, n, b)
	}
}

// forwardData relays DATA received on src to dst. src's windows are
// given back only once the bytes are written for dst's peer, so a slow
// reader on one side slows the sender on the other, and the relay never
// holds more than the windows it granted.
func forwardData(src *leg, data []byte, end bool, b *batch) {
	dst := src.peer()
	mu := dst.lock()
	if dst.closed {
		mu.Unlock()
		refundTo(src, int32(len(data)), b)
		return
	}
	if len(data) == 0 && !end {
		// An empty frame carries nothing to relay: passing it on one
		// for one would let a client make the relay hold and write
		// frames that cost it no window.
		mu.Unlock()
		return
	}
	var due *hedging
	if dst.isUp() {
		dst.s.rp.record(data, end, dst.s.srv)
		if end {
			due = dst.s.requestEndedLocked()
		}
	}
	dst.quiet = 0
	if !dst.coalesce(data, end) {
		dst.queue = append(dst.queue, chunk{data: data, end: end, borrowed: true})
	}
	sent := dst.pumpLocked(b)
	dst.keepLast()
	caughtUp := src.isUp() && dst.caughtUpLocked()
	mu.Unlock()
	if due != nil {
		due.poke()
	}
	if caughtUp {
		refundCaughtUp(src, sent, b)
		return
	}
	refundTo(src, sent, b)
}

// coalesce appends data to the last queued chunk when that is DATA the
// leg owns and has not ended, so that a queue holds one DATA entry
// however many frames its bytes came in: entries stay bounded by the
// header blocks and resets a stream can have, and bytes by the window.
func (l *leg) coalesce(data []byte, end bool) bool {
	n := len(l.queue)
	if n == 0 {
		return false
	}
	last := &l.queue[n-1]
	if last.fields != nil || last.rst || last.end || last.borrowed || last.replayed {
		return false
	}
	last.data = append(last.data, data...)
	last.end = end
	l.hold(len(data))
	return true
}

// keepLast copies what the last chunk of l's queue borrows from a
// reader's buffers, when pumping could not send it at once.
func (l *leg) keepLast() {
	q := l.queue
	if n := len(q); n > 0 && q[n-1].borrowed {
		q[n-1].data = slices.Clone(q[n-1].data)
		q[n-1].fields = slices.Clone(q[n-1].fields)
		q[n-1].borrowed = false
		l.hold(len(q[n-1].data))
	}
}

// forwardHeaders relays a header block to dst, in order behind its data.
// fields are borrowed from the reader's header decoding.
func forwardHeaders(dst *leg, fields []hpackField, end bool, b *batch) {
	mu := dst.lock()
	if dst.closed {
		mu.Unlock()
		return
	}
	if dst.isUp() {
		dst.s.rp.drop(dst.s.srv) // client trailers: not kept for a replay
	}
	dst.quiet = 0
	dst.queue = append(dst.queue, chunk{fields: fields, end: end, borrowed: true})
	sent := dst.pumpLocked(b)
	dst.keepLast()
	mu.Unlock()
	refundTo(dst.peer(), sent, b)
}

// resetLeg resets dst. An ordered reset (NO_ERROR: "response complete,
// stop sending") waits behind queued data and trailers; any other
// discards them and goes out at once. A leg still waiting in a pool just
// leaves it.
func resetLeg(dst *leg, code http2.ErrCode) {
	mu := dst.lock()
	if dst.closed {
		mu.Unlock()
		return
	}
	if dst.conn.Load() == nil {
		if p := dst.pool.Load(); p != nil {
			p.dropLocked(dst.s)
		}
		dst.finishLocked() // waiting in a pool, or between two attempts
		mu.Unlock()
		return
	}
	if code != http2.ErrCodeNo {
		dst.finishLocked()
		c := dst.conn.Load()
		c.writeResetLocked(dst.id, code)
		c.kick()
		mu.Unlock()
		return
	}
	dst.queue = append(dst.queue, chunk{rst: true, code: code})
	sent := dst.pumpLocked(nil)
	mu.Unlock()
	refundTo(dst.peer(), sent, nil)
}

// failDown ends the client's stream with a status of the relay's own:
// trailers-only if no response headers went out, trailers otherwise,
// behind what is queued; then a reset if the client is still sending.
func failDown(down *leg, code codes.Code, msg string) {
	mu := down.lock()
	if down.closed || down.sentEnd || hasEnd(down.queue) {
		mu.Unlock()
		return
	}
	trailersOnly := !down.sentHeaders && !hasHeaders(down.queue)
	down.queue = append(down.queue, chunk{fields: statusFields(trailersOnly, code, msg), end: true})
	if !down.recvEnd {
		down.queue = append(down.queue, chunk{rst: true, code: http2.ErrCodeNo})
	}
	sent := down.pumpLocked(nil)
	mu.Unlock()
	refundTo(down.peer(), sent, nil)
}

func hasEnd(q []chunk) bool {
	for _, ch := range q {
		if ch.end || ch.rst {
			return true
		}
	}
	return false
}

func hasHeaders(q []chunk) bool {
	for _, ch := range q {
		if ch.fields != nil {
			return true
		}
	}
	return false
}

package h2relay

import (
	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// How a hedged call's attempts end (see hedge.go). Each function here
// runs in the reader of the upstream connection that carries attempt l,
// with that connection's mu held.

// hedged says whether l is an attempt of a hedged call.
func (l *leg) hedged() bool { return l.s.rs != nil && l.s.rs.hedge != nil }

// hedgeFirstLocked takes the first response headers of hedged attempt
// l: a non-fatal status ends the attempt and the call goes on; anything
// else commits the call to l. It returns the leg to relay the response
// on, or nil when the call does not take it (uc.mu is then released).
func (uc *upConn) hedgeFirstLocked(l *leg, fields []hpackField, end bool) *leg {
	if end {
		if code, _ := grpcStatus(fields); code != codes.OK {
			o := Outcome{Code: code, Message: grpcMessage(fields)}
			if post, ok := uc.hedgeFailedLocked(l, o, false, !l.sentEnd); ok {
				uc.mu.Unlock()
				post()
				return nil
			}
		}
	}
	return uc.hedgeWinLocked(l)
}

// hedgeFailedLocked ends attempt l, which ended with o before response
// headers, if the call goes on without it: ok then, and post, to run
// once uc.mu is released, settles the attempt. transparent: the
// endpoint did not process it. cancel: the stream is still open and is
// reset. A status that is fatal, or the last attempt's with no other
// to come, is the call's own: ok is false and it is relayed as without
// hedging. A shadow's reset or lost connection never is: the client
// has nothing of the shadow to be told about.
func (uc *upConn) hedgeFailedLocked(l *leg, o Outcome, transparent, cancel bool) (post func(), ok bool) {
	s := l.s
	hs := s.rs.hedge
	hs.mu.Lock()
	if hs.decided && (hs.winner == nil || hs.moved) && s == hs.s {
		hs.mu.Unlock()
		return nil, false // committed: l is the call's answer
	}
	lost := hs.decided
	code := o.Code
	if o.Err != nil {
		code = codes.Unavailable
	}
	nonFatal := transparent || hs.p.nonFatal(code) || (s != hs.s && o.Err != nil)
	if !lost && (!nonFatal || hs.live == 1 && !hs.canSendLocked()) {
		hs.mu.Unlock()
		return nil, false
	}
	if lost {
		o = Outcome{Local: true}
	} else {
		hs.last = o
	}
	if s != hs.s {
		hs.mu.Unlock()
		if cancel {
			uc.wfr.WriteRSTStream(l.id, http2.ErrCodeCancel)
			uc.kick()
		}
		l.finishLocked() // counts the attempt ended (upFinished)
		return func() { s.end(o) }, true
	}
	if !lost {
		hs.live--
	}
	hs.mu.Unlock()
	call := s.endLocked() // before the detach lets a winner take the leg
	back := uc.detachLocked(l, cancel)
	return func() {
		refundTo(&s.down, back, nil)
		if call != nil {
			call.End(o)
		}
		hs.poke()
	}, true
}

// endLocked marks the first attempt of hedged call s ended and returns
// its Call, for the caller to end once unlocked; nil when it was ended
// already. Under the up leg's lock, so that a winning shadow, which
// takes the leg before it puts its own Call in s.call, never sees its
// Call ended for the first attempt.
func (s *stream) endLocked() Call {
	if s.ended.CompareAndSwap(false, true) {
		return s.call
	}
	return nil
}

// hedgeWinLocked commits hedged call l.s to attempt l, whose first
// response headers just arrived, unless another attempt won first. It
// returns the leg to relay the response on: l for the first attempt, the
// call's up leg for a shadow, moved there; nil (uc.mu released) when l
// lost.
func (uc *upConn) hedgeWinLocked(l *leg) *leg {
	s := l.s
	hs := s.rs.hedge
	hs.mu.Lock()
	if hs.decided && (hs.winner == nil || hs.moved) && s == hs.s {
		hs.mu.Unlock()
		return l
	}
	if !hs.decided {
		hs.decided = true
		if s == hs.s {
			hs.mu.Unlock()
			hs.stop()
			return l
		}
		hs.winner = s
		hs.mu.Unlock()
		return uc.moveWinner(l)
	}
	hs.mu.Unlock()
	// Lost: another attempt answered first.
	if s == hs.s {
		call := s.endLocked() // before the detach lets the winner take the leg
		cancelLocked(uc.conn, l)
		back := uc.detachLocked(l, false)
		uc.mu.Unlock()
		refundTo(&s.down, back, nil)
		if call != nil {
			call.End(Outcome{Local: true})
		}
		return nil
	}
	cancelLocked(uc.conn, l)
	l.finishLocked()
	uc.mu.Unlock()
	s.end(Outcome{Local: true})
	return nil
}

// cancelLocked resets attempt l on c, unless its response is complete:
// a losing attempt stops costing its endpoint work. c.mu is held.
func cancelLocked(c *conn, l *leg) {
	if !l.recvEnd {
		c.wfr.WriteRSTStream(l.id, http2.ErrCodeCancel)
		c.kick()
	}
}

// moveWinner moves shadow leg l, which won, into its call's up leg: the
// first attempt is taken off its connection (and cancelled) or out of
// its pool, the call takes the shadow's Call, and the shadow's stream on
// uc becomes the call's. uc.mu is held on entry and, unless nil is
// returned, on return; it is released in between, since the first
// attempt's connection is locked alone.
func (uc *upConn) moveWinner(l *leg) *leg {
	h := l.s
	hs := h.rs.hedge
	s := hs.s
	uc.mu.Unlock()
	back, first, gone := s.up.takeFirst()
	if !gone {
		refundTo(&s.down, back, nil)
		if first != nil {
			first.End(Outcome{Local: true})
		}
		mu := s.down.lock() // Observe reads call under it
		s.call = h.call
		mu.Unlock()
		h.ended.Store(true) // h's Call is s's to end now
		s.ended.Store(false)
	}
	uc.mu.Lock()
	detached.Lock()
	if gone || l.closed || s.up.closed || s.up.conn.Load() != nil || s.up.pool.Load() != nil {
		// The call ended meanwhile (the client went, its deadline).
		detached.Unlock()
		if !l.closed {
			cancelLocked(uc.conn, l)
			l.finishLocked()
		}
		uc.mu.Unlock()
		h.end(Outcome{Local: true})
		s.end(Outcome{Local: true})
		return nil
	}
	uc.transplantLocked(l, &s.up)
	detached.Unlock()
	hs.mu.Lock()
	hs.moved = true
	hs.mu.Unlock()
	hs.stop()
	return &s.up
}

// takeFirst takes the first attempt u of a hedged call off its
// connection (cancelling its stream) or out of its pool, so that it is
// detached; back is the client's bytes to give back, first its Call to
// end. gone: the call is over.
func (u *leg) takeFirst() (back int32, first Call, gone bool) {
	mu := u.lock()
	defer mu.Unlock()
	if u.closed {
		return 0, nil, true
	}
	first = u.s.endLocked()
	if c := u.conn.Load(); c != nil {
		cancelLocked(c, u)
		back = c.up.detachLocked(u, false)
	} else if p := u.pool.Load(); p != nil {
		p.dropLocked(u.s)
		for _, ch := range u.queue {
			if !ch.replayed {
				back += int32(len(ch.data))
			}
		}
		u.hold(-u.ownedLocked())
		clear(u.queue)
		u.queue = u.queueBuf[:0]
		u.pool.Store(nil)
	}
	return back, first, false
}

// transplantLocked makes detached leg u carry shadow leg l's stream on
// uc; uc.mu and detached are held. l is closed without freeing its
// stream slot, which u now holds.
func (uc *upConn) transplantLocked(l, u *leg) {
	u.id, u.sendWin, u.recvWin, u.unacked = l.id, l.sendWin, l.recvWin, l.unacked
	u.sentEnd, u.recvEnd, u.sentHeaders, u.gotHeaders = l.sentEnd, l.recvEnd, l.sentHeaders, l.gotHeaders
	u.msgs, u.quiet = l.msgs, l.quiet
	// Client DATA that reached u while it was detached is in the
	// replay, which l was sent: it is given back to the client.
	u.dropQueueLocked()
	u.queue = append(u.queueBuf[:0], l.queue...)
	u.s.upAt = l.s.upAt
	uc.streams[u.id] = u
	// Connection first: a locker that finds the pool must then find
	// the connection, since the pool's mu is not held here.
	u.conn.Store(uc.conn)
	u.pool.Store(uc.p)
	l.closed = true
	clear(l.queue)
	l.queue = nil
}

// runAll runs what hedgeFailedLocked left to do for several attempts.
func runAll(posts []func()) {
	for _, post := range posts {
		post()
	}
}

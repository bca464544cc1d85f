package h2relay

import (
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// Transparent retries: a call its endpoint provably did not process (it
// refused the stream, the stream is above a GOAWAY's last stream id, or
// the connection was lost before any of the call's bytes were handed to
// the socket) is sent to an endpoint it has not tried, as long as the
// whole request so far is in its replay buffer.
//
// Ownership: a call's replay is guarded by its up leg's lock. A leg taken
// off its connection for another attempt (detachLocked) has neither
// connection nor pool and is guarded by the detached mutex until a pool
// takes it (takeDetached); detached is a leaf lock, taken after a pool's.
// tried and attempts belong to whoever moves the call: the client's
// reader while it dispatches, then the goroutine that detached the leg.

// RetryEvent names what the relay's retries did with a call, for metrics.
type RetryEvent string

// Retry events. The first three are retries, named by their reason.
const (
	// RetryRefused: the endpoint reset the stream with REFUSED_STREAM.
	RetryRefused RetryEvent = "refused"
	// RetryGoAway: the stream was above the last stream id of the
	// endpoint's GOAWAY.
	RetryGoAway RetryEvent = "goaway"
	// RetryUnsent: the connection was lost before any of the call's
	// bytes were handed to the socket.
	RetryUnsent RetryEvent = "unsent"
	// RetryStatus: the endpoint answered a status its route's policy
	// retries, before any response headers.
	RetryStatus RetryEvent = "status"
	// RetryLost: the connection was lost after the call went out, before
	// any response headers, and the route's policy retries Unavailable.
	RetryLost RetryEvent = "lost"
	// NotRetriedBuffer: the call would have been retried, but its
	// request had outgrown its replay buffer (or the process-wide cap).
	NotRetriedBuffer RetryEvent = "buffer_exceeded"
	// NotRetriedBudget: the route's policy would have retried the call,
	// but the cluster's retry budget was spent.
	NotRetriedBudget RetryEvent = "budget_exhausted"
)

// Skipped says whether e is a retry not made (rather than one made).
func (e RetryEvent) Skipped() bool { return e == NotRetriedBuffer || e == NotRetriedBudget }

// retryState is what a call that was retried remembers.
type retryState struct {
	tried   []string // endpoints tried before the current one
	retries int      // retries made under the route's policy
	hedge   *hedging // set before a hedged call is published
}

// ByteBudget bounds the bytes held by replay buffers across every relay
// server that shares it. Safe for concurrent use.
type ByteBudget struct {
	max  int64
	used atomic.Int64
}

// NewByteBudget returns a budget of max bytes.
func NewByteBudget(max int64) *ByteBudget { return &ByteBudget{max: max} }

// Used is the number of bytes held now.
func (b *ByteBudget) Used() int64 { return b.used.Load() }

func (b *ByteBudget) take(n int) bool {
	if b.used.Add(int64(n)) > b.max {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

func (b *ByteBudget) give(n int) {
	if n > 0 {
		b.used.Add(-int64(n))
	}
}

// replay is what a call sent upstream so far, kept until it commits (its
// first response headers) so that another endpoint can be sent the same
// request.
// The request headers are the stream's hdrs.
type replay struct {
	body []byte // request DATA so far; len(body) is held in the budget
	end  bool   // the client ended its request
	off  bool   // no retry any more: committed, ended or outgrown
	over bool   // off because the request outgrew the buffer
}

// record keeps data the client sent; the call stops being retryable
// once its request outgrows the buffer.
func (r *replay) record(data []byte, end bool, srv *Server) {
	if r.off {
		return
	}
	if len(r.body)+len(data) > srv.o.ReplayBuffer || !srv.replayMem.take(len(data)) {
		r.drop(srv)
		r.over = true
		return
	}
	r.body = append(r.body, data...)
	r.end = r.end || end
}

// drop ends retries for the call and frees its buffer.
func (r *replay) drop(srv *Server) {
	if r.off {
		return
	}
	srv.replayMem.give(len(r.body))
	*r = replay{off: true}
}

// replayableLocked says whether s may be sent again; under its up leg's
// lock. event is NotRetriedBuffer when only the buffer stood in the way.
func (s *stream) replayableLocked() (ok bool, event RetryEvent) {
	if s.rp.off {
		if s.rp.over {
			return false, NotRetriedBuffer
		}
		return false, ""
	}
	return s.bal != nil && !s.up.closed && !hasHeaderChunk(s.up.queue), ""
}

func hasHeaderChunk(q []chunk) bool {
	for _, ch := range q {
		if ch.fields != nil || ch.rst {
			return true
		}
	}
	return false
}

// detachLocked takes l off uc for another attempt; uc.mu is held. Its
// queue becomes the request replayed; the client DATA that was queued
// and never sent is returned in back, to be given back to the client
// (the replay holds a copy). With cancel, a stream the relay had not
// ended is reset (the endpoint answered before the request's end).
func (uc *upConn) detachLocked(l *leg, cancel bool) (back int32) {
	c := uc.conn
	if cancel && !l.sentEnd {
		c.wfr.WriteRSTStream(l.id, http2.ErrCodeCancel)
		c.kick()
	}
	delete(c.streams, l.id)
	l.s.upClosed(c)
	for _, ch := range l.queue {
		if !ch.replayed {
			back += int32(len(ch.data))
		}
	}
	l.hold(-l.ownedLocked())
	clear(l.queue)
	s := l.s
	l.queue = l.queueBuf[:0]
	if len(s.rp.body) > 0 || s.rp.end {
		l.queue = append(l.queue, chunk{data: s.rp.body, end: s.rp.end, replayed: true})
	}
	l.id, s.upAt = 0, 0
	l.sendWin, l.recvWin, l.unacked = 0, 0, 0
	l.sentEnd, l.recvEnd, l.sentHeaders, l.gotHeaders = false, false, false, false
	l.msgs = msgLimit{}
	// Pool first: a locker that finds no connection must find no pool.
	l.pool.Store(nil)
	l.conn.Store(nil)
	return back
}

// retry sends s, whose up leg was detached after its attempt ended
// with o, to an endpoint it has not tried, after wait. A configured
// retry (the route's policy) may go back to a tried endpoint when no
// other remains; a transparent one never does. With no endpoint left,
// fail ends the call as it would have ended without retries.
func (s *stream) retry(back int32, o Outcome, event RetryEvent, configured bool, wait time.Duration, fail func()) {
	refundTo(&s.down, back, nil)
	if !s.end(o) {
		s.closeDetached() // the client ended the call meanwhile
		return
	}
	if s.rs == nil {
		s.rs = &retryState{}
	}
	s.rs.tried = append(s.rs.tried, s.call.Addr())
	if configured {
		s.rs.retries++
		s.setPreviousAttempts(s.rs.retries)
	}
	if wait <= 0 {
		s.sendAgain(event, configured, fail)
		return
	}
	srv := s.srv
	srv.wg.Add(1) // the caller is a connection goroutine: the group is not at zero
	go func() {
		defer srv.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
			s.sendAgain(event, configured, fail)
		case <-srv.quit:
			s.closeDetached()
			fail()
		}
	}()
}

// sendAgain picks an endpoint for s's next attempt and queues it there.
func (s *stream) sendAgain(event RetryEvent, configured bool, fail func()) {
	srv := s.srv
	for picks := 0; picks < maxAttempts && (configured || s.attempts < maxAttempts); picks++ {
		s.attempts++
		call, ok := pickAvoiding(s.bal, s.rs.tried)
		if !ok && configured {
			call, ok = s.bal.Pick()
		}
		if !ok {
			break
		}
		mu := s.down.lock() // Observe reads call under it
		s.call = call
		mu.Unlock()
		s.ended.Store(false)
		switch srv.tr.pool(call.Addr(), srv.upstreamTLS(s.bal)).takeDetached(s, func() { srv.retried(s.cluster, event) }) {
		case movedIn:
			return
		case movedGone:
			s.end(Outcome{Local: true})
			return
		}
		s.rs.tried = append(s.rs.tried, call.Addr())
		s.end(Outcome{Err: errEndpointDown})
	}
	s.closeDetached()
	fail()
}

// closeDetached closes an up leg that stays detached.
func (s *stream) closeDetached() {
	mu := s.up.lock()
	s.up.finishLocked()
	mu.Unlock()
}

// takeDetached queues s, whose up leg is detached, on p. counted runs
// once s is sure to move in, before it is queued: the attempt may finish
// as soon as it is, and whoever sees the call end must see the retry
// counted.
func (p *pool) takeDetached(s *stream, counted func()) moved {
	p.mu.Lock()
	if !p.acceptsLocked() {
		p.mu.Unlock()
		return movedDown
	}
	detached.Lock()
	gone := s.up.closed
	if !gone {
		s.up.pool.Store(p) // from here on p.mu guards the leg
	}
	detached.Unlock()
	if gone {
		p.mu.Unlock()
		return movedGone
	}
	counted()
	_, refunds := p.enqueueLocked(s)
	p.mu.Unlock()
	applyRefunds(refunds, nil)
	return movedIn
}

// pickAvoiding picks an endpoint of bal that tried does not hold.
func pickAvoiding(bal Balancer, tried []string) (Call, bool) {
	avoid := func(addr string) bool { return slices.Contains(tried, addr) }
	if ab, ok := bal.(AvoidingBalancer); ok {
		return ab.PickAvoiding(avoid)
	}
	for range len(tried) + 2 {
		c, ok := bal.Pick()
		if !ok {
			return nil, false
		}
		if !avoid(c.Addr()) {
			return c, true
		}
		c.End(Outcome{Local: true})
	}
	return nil, false
}

// retried reports a retry event to Options.OnRetry.
func (srv *Server) retried(cluster string, e RetryEvent) {
	if srv.o.OnRetry != nil {
		srv.o.OnRetry(cluster, e)
	}
}

// detachedLeg is a call taken off its connection for another attempt,
// with the client bytes to give back (see detachLocked).
type detachedLeg struct {
	s    *stream
	back int32
	wait time.Duration // before a configured retry
}

// detachIfReplayableLocked detaches l when its call may be sent again;
// uc.mu is held. A call kept back by its buffer alone is counted.
func (uc *upConn) detachIfReplayableLocked(l *leg) (detachedLeg, bool) {
	ok, event := l.s.replayableLocked()
	if !ok {
		if event != "" {
			l.s.srv.retried(l.s.cluster, event)
		}
		return detachedLeg{}, false
	}
	return detachedLeg{l.s, uc.detachLocked(l, false), 0}, true
}

// policyRetryLocked says whether s, whose attempt ended with code (from
// trailers fields, nil for a lost connection) before it committed, is
// retried under its route's policy, and after what wait; under the up
// leg's lock. event names a retry the policy wanted and could not make.
func (s *stream) policyRetryLocked(code codes.Code, fields []hpackField) (wait time.Duration, ok bool, event RetryEvent) {
	p := s.retryPolicy()
	if p == nil || !p.retryable(code) {
		return 0, false, ""
	}
	if ok, event := s.replayableLocked(); !ok {
		return 0, false, event
	}
	n := 1
	if s.rs != nil {
		n = s.rs.retries + 1
	}
	if n >= p.MaxAttempts {
		return 0, false, ""
	}
	pb, set, allowed := pushback(fields)
	if !allowed {
		return 0, false, ""
	}
	if b := budgetOf(s.bal); b != nil && !b.withdraw() {
		return 0, false, NotRetriedBudget
	}
	if set {
		return pb, true, ""
	}
	return p.backoff(n), true, ""
}

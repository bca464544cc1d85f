package h2relay

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// expiries holds the calls of one client connection that have a time
// to end by (a grpc-timeout, max_stream_duration), earliest first, and
// the one timer that fires for the earliest: a call costs a heap push,
// not a timer of its own. Guarded by the connection's mu.
//
// A call that ends stays in the heap (a stream has no room for its
// index: its size class is tight) until it comes to the top or the heap
// holds twice as many calls as are live, when the ended ones are swept
// out at once: amortised, a constant cost per call.
//
// The timer is re-armed only for an expiry earlier than the one it is
// armed for; a call that ends early leaves it armed, and the firing
// re-arms it for whatever is earliest then. With calls of one timeout
// it fires about once per timeout, not once per call.
type expiries struct {
	heap    []*stream
	live    int // calls in heap not yet ended
	timer   *time.Timer
	armedAt time.Duration // when the timer fires (relay clock); 0: not armed
}

// expiry is when the relay ends s: at its client's deadline (unless
// grpc-timeout enforcement is off) or max_stream_duration after it
// began, whichever is first; 0 for never. Computed, not stored: every
// call allocates a stream, and its size class is tight.
func (s *stream) expiry() time.Duration {
	o := &s.srv.o
	at := s.deadline
	if o.IgnoreGRPCTimeout {
		at = 0
	}
	if m := o.MaxStreamDuration; m > 0 && (at == 0 || s.start+m < at) {
		at = s.start + m
	}
	return at
}

// scheduleLocked adds s, which has an expiry, and arms the timer when s
// is the earliest. now is about the current time on the relay's clock.
func (d *downConn) scheduleLocked(s *stream, now time.Duration) {
	e := &d.exp
	e.push(s)
	e.live++
	s.down.expiring = true
	at := s.expiry()
	if e.armedAt != 0 && e.armedAt <= at {
		return
	}
	e.armedAt = at
	if e.timer == nil {
		e.timer = time.AfterFunc(at-now, d.expire)
		return
	}
	e.timer.Reset(at - now)
}

// endedLocked notes that s, whose client leg is now closed, ended.
func (d *downConn) endedLocked(s *stream) {
	e := &d.exp
	if !s.down.expiring {
		return
	}
	s.down.expiring = false
	e.live--
	if len(e.heap) < 2*e.live+64 {
		return
	}
	kept := e.heap[:0]
	for _, x := range e.heap {
		if x.down.expiring {
			kept = append(kept, x)
		}
	}
	clear(e.heap[len(kept):])
	e.heap = kept
	for i := len(kept)/2 - 1; i >= 0; i-- {
		e.down(i)
	}
	if len(kept) == 0 && cap(kept) > 1024 {
		e.heap = nil // a burst once; do not keep its memory
	}
}

func (e *expiries) less(i, j int) bool { return e.heap[i].expiry() < e.heap[j].expiry() }

func (e *expiries) push(s *stream) {
	e.heap = append(e.heap, s)
	for i := len(e.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !e.less(i, p) {
			return
		}
		e.heap[i], e.heap[p] = e.heap[p], e.heap[i]
		i = p
	}
}

func (e *expiries) pop() *stream {
	s := e.heap[0]
	last := len(e.heap) - 1
	e.heap[0] = e.heap[last]
	e.heap[last] = nil
	e.heap = e.heap[:last]
	e.down(0)
	return s
}

func (e *expiries) down(i int) {
	for n := len(e.heap); ; {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && e.less(c+1, c) {
			c++
		}
		if !e.less(c, i) {
			return
		}
		e.heap[i], e.heap[c] = e.heap[c], e.heap[i]
		i = c
	}
}

// expire ends the calls whose time is up and re-arms the timer for the
// next. It runs on the timer's goroutine.
func (d *downConn) expire() {
	now := sinceStart()
	d.mu.Lock()
	e := &d.exp
	var due []*stream
	for len(e.heap) > 0 && e.heap[0].expiry() <= now {
		if s := e.pop(); s.down.expiring {
			s.down.expiring = false
			e.live--
			due = append(due, s)
		}
	}
	e.armedAt = 0
	if len(e.heap) > 0 && !d.dead {
		e.armedAt = e.heap[0].expiry()
		e.timer.Reset(e.armedAt - now)
	}
	d.mu.Unlock()
	for _, s := range due {
		if s.deadline != 0 && s.deadline <= now {
			s.timeOut("strait: call exceeded its deadline (grpc-timeout)")
		} else {
			s.timeOut(fmt.Sprintf("strait: call exceeded max_stream_duration (%v)", d.o.MaxStreamDuration))
		}
	}
}

// stopTimersLocked stops the connection's timer once it ends.
func (d *downConn) stopTimersLocked() {
	if d.exp.timer != nil {
		d.exp.timer.Stop()
	}
	for _, s := range d.exp.heap {
		s.down.expiring = false
	}
	d.exp.heap, d.exp.live = nil, 0
}

// timeOut ends a call whose time ran out: the client gets
// DEADLINE_EXCEEDED at once (what was queued for it is dropped: it
// would only arrive late), and the upstream stream is cancelled, or the
// call leaves the queue it waits in. The client chose the time, so the
// outcome says nothing about the endpoint.
func (s *stream) timeOut(msg string) {
	down := &s.down
	mu := down.lock()
	if down.closed || down.sentEnd {
		mu.Unlock()
		return
	}
	down.dropQueueLocked()
	down.queue = append(down.queue, chunk{fields: statusFields(!down.sentHeaders, codes.DeadlineExceeded, msg), end: true})
	if !down.recvEnd {
		down.queue = append(down.queue, chunk{rst: true, code: http2.ErrCodeNo})
	}
	down.pumpLocked(nil)
	mu.Unlock()
	resetLeg(&s.up, http2.ErrCodeCancel)
	s.end(Outcome{Local: true})
}

// sweepPeriod is how often the relay's sweeper looks for idle
// connections, idle streams and calls queued too long: a quarter of the
// shortest of those limits, so each fires at most a quarter late.
func (o *Options) sweepPeriod() time.Duration {
	p := o.IdleTimeout
	for _, d := range []time.Duration{o.StreamIdleTimeout, o.QueueTimeout} {
		if d > 0 {
			p = min(p, d)
		}
	}
	return max(p/idleSweeps, 10*time.Millisecond)
}

// idleSweeps is how many stream sweeps, one every quarter of
// StreamIdleTimeout, a call must stay quiet through to be idle: at least
// the timeout, at most a quarter (and a sweeper tick) more.
const idleSweeps = 4

// opening marks, in quiet, a call being dispatched.
const opening = 255

// idleStreamsLocked returns the calls on d quiet for idleSweeps sweeps.
func (d *downConn) idleStreamsLocked(idle []*stream) []*stream {
	for _, l := range d.streams {
		if l.quiet == opening {
			continue
		}
		if l.quiet < idleSweeps {
			l.quiet++
			continue
		}
		idle = append(idle, l.s)
	}
	return idle
}

// sweepStreams ends the calls idle for longer than StreamIdleTimeout.
func (srv *Server) sweepStreams() {
	var idle []*stream
	srv.each(func(d *downConn) {
		d.mu.Lock()
		idle = d.idleStreamsLocked(idle)
		d.mu.Unlock()
	})
	msg := fmt.Sprintf("strait: no frame on the call for stream_idle (%v)", srv.o.StreamIdleTimeout)
	for _, s := range idle {
		s.timeOut(msg)
	}
}

// errQueueTimeout ends a call that found no stream slot in time.
var errQueueTimeout = errors.New("no connection or stream slot within the queue timeout")

// expireQueued fails the calls that have waited for a connection or a
// stream slot since before now-limit (counted from the call's start,
// which re-picks do not reset). The endpoint could not take them: the
// outcome counts against it.
func (t *transport) expireQueued(now, limit time.Duration) {
	for _, p := range t.allPools(nil) {
		if p.nwaiting.Load() == 0 {
			continue
		}
		var late []*stream
		p.mu.Lock()
		kept := p.waiting[:0]
		for _, s := range p.waiting {
			if now-s.start >= limit {
				s.up.closed = true
				late = append(late, s)
			} else {
				kept = append(kept, s)
			}
		}
		clear(p.waiting[len(kept):])
		p.waiting = kept
		p.nwaiting.Add(-int32(len(late)))
		p.mu.Unlock()
		for _, s := range late {
			s.end(Outcome{Err: fmt.Errorf("upstream %s: %w", p.addr, errQueueTimeout)})
			s.failUnavailable(fmt.Sprintf("strait: upstream %s: %v (%v)", p.addr, errQueueTimeout, limit))
		}
	}
}

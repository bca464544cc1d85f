package h2relay

import "time"

// maxAttempts bounds the endpoints one call is picked for.
const maxAttempts = 3

// moved says how a call left the pool that held it.
type moved int

const (
	movedIn   moved = iota // queued on the new endpoint's pool
	movedDown              // that endpoint is closed or known down
	movedGone              // the client ended the call meanwhile
)

// failedLocked records a failed dial or handshake; with no live
// connection left, the waiting calls leave the queue (returned to the
// caller to be picked again). Their up legs stay in p's custody.
func (p *pool) failedLocked() []*stream {
	p.dialErrAt = time.Now()
	if p.liveLocked() > 0 {
		return nil
	}
	w := p.waiting
	p.waiting = nil
	p.nwaiting.Store(0)
	return w
}

// repick moves calls that waited on p when its endpoint failed (a dial
// refused or timed out, a connection lost) to endpoints picked again.
// None of their bytes went out, so they are safe to send elsewhere. It
// runs on the dial or connection goroutine, never on a client's reader.
func (p *pool) repick(ss []*stream, err error) {
	for _, s := range ss {
		s.repick(p, err)
	}
}

// repick tells the balancer the endpoint failed, then dispatches s again
// within the call's attempts. Its up leg stays guarded by from until it
// is queued elsewhere, so client DATA arriving meanwhile is kept.
func (s *stream) repick(from *pool, err error) {
	if s.rs != nil && s.rs.hedge != nil && s.repickHedged(from, err) {
		return
	}
	if !s.end(Outcome{Err: err}) {
		return // the client ended the call; its up leg is closed
	}
	srv := s.srv
	for s.attempts < maxAttempts {
		s.attempts++
		call, ok := s.bal.Pick()
		if !ok {
			break
		}
		mu := s.down.lock() // Observe reads call under it
		s.call = call
		mu.Unlock()
		s.ended.Store(false)
		switch srv.tr.pool(call.Addr(), srv.upstreamTLS(s.bal)).move(s, from) {
		case movedIn:
			return
		case movedGone:
			s.end(Outcome{Local: true})
			return
		}
		s.end(Outcome{Err: errEndpointDown})
	}
	from.mu.Lock()
	s.up.finishLocked()
	from.mu.Unlock()
	s.failUnavailable("strait: no endpoint available")
}

// move queues s, whose up leg from guards, on p. Both pools are locked,
// so whoever locks the leg finds it in one or the other.
func (p *pool) move(s *stream, from *pool) moved {
	lockPools(p, from)
	if s.up.closed {
		unlockPools(p, from)
		return movedGone
	}
	ok, refunds := p.enqueueLocked(s)
	unlockPools(p, from)
	applyRefunds(refunds, nil)
	if !ok {
		return movedDown
	}
	return movedIn
}

// lockPools locks a and b in the order of their seq, so two moves in
// opposite directions cannot deadlock.
func lockPools(a, b *pool) {
	if a == b {
		a.mu.Lock()
		return
	}
	if a.seq > b.seq {
		a, b = b, a
	}
	a.mu.Lock()
	b.mu.Lock()
}

func unlockPools(a, b *pool) {
	a.mu.Unlock()
	if a != b {
		b.mu.Unlock()
	}
}

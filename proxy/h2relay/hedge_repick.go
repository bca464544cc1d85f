package h2relay

// repickHedged handles attempt s of a hedged call that waited on pool
// from when its endpoint failed; handled is false when the call is
// re-picked as any other (its only attempt, with no other to come). A
// re-pick would move the leg while a winning shadow may be taking it:
// instead a shadow just ends, and the first attempt leaves the pool,
// detached, for the next attempt to go at once or for a winner to take.
func (s *stream) repickHedged(from *pool, err error) (handled bool) {
	hs := s.rs.hedge
	o := Outcome{Err: err}
	from.mu.Lock()
	if s.up.closed || s.up.pool.Load() != from || s.up.conn.Load() != nil {
		from.mu.Unlock()
		return true // taken by a winner, or the call is over
	}
	if s != hs.s {
		s.up.finishLocked() // counts the attempt ended (upFinished)
		from.mu.Unlock()
		s.end(o)
		return true
	}
	hs.mu.Lock()
	switch {
	case hs.decided:
		// A winner is taking the leg out of this pool.
		hs.mu.Unlock()
		from.mu.Unlock()
		return true
	case hs.live == 1 && !hs.canSendLocked():
		hs.mu.Unlock()
		from.mu.Unlock()
		return false
	}
	hs.live--
	hs.last = o
	hs.mu.Unlock()
	call := s.endLocked()
	s.up.pool.Store(nil) // detached: guarded by the detached mutex now
	from.mu.Unlock()
	if call != nil {
		call.End(o)
	}
	hs.poke()
	return true
}

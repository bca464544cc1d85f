package h2relay

import "time"

// allPools appends the transport's pools to dst: a snapshot, so that
// each pool is then locked on its own.
func (t *transport) allPools(dst []*pool) []*pool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pools {
		dst = append(dst, p)
	}
	return dst
}

// reapIdle closes upstream connections that carried no stream since
// before cutoff: endpoints that left the set, or traffic that moved.
func (t *transport) reapIdle(cutoff time.Time) {
	for _, p := range t.allPools(nil) {
		p.mu.Lock()
		for _, uc := range p.conns {
			if uc.ready && uc.active.Load() == 0 && uc.idleAt.Load() < cutoff.UnixNano() {
				uc.draining.Store(true)
				uc.mu.Lock()
				uc.closeLocked()
				uc.mu.Unlock()
			}
		}
		p.mu.Unlock()
	}
}

// prune forgets the pools offered no call since before cutoff that hold
// nothing: no connection (the idle reaper closed them), no waiting call,
// no dial. Endpoints come and go (pod churn, TLS changes on reload); a
// pool per address ever seen would grow for the life of the process.
// A pool is closed as it is forgotten, so that a caller that looked it
// up just before finds it closed and picks again: that rare call's
// endpoint is charged one failed attempt, which ejects nothing.
func (t *transport) prune(cutoff time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, p := range t.pools {
		p.mu.Lock()
		if len(p.conns) == 0 && len(p.waiting) == 0 && !p.dialing && p.usedAt.Before(cutoff) {
			p.closed = true
			delete(t.pools, k)
		}
		p.mu.Unlock()
	}
}

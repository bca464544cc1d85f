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

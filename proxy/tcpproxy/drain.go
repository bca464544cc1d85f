package tcpproxy

import (
	"time"
)

// drainState tracks open connections by endpoint so that those to an
// endpoint discovery removed can be closed after the grace time. Guarded
// by Proxy.mu.
type drainState struct {
	byAddr  map[string]map[*conn]struct{}
	current map[string]bool // the last set, nil before the first
	// removed holds when each endpoint left the set. It is kept a while
	// after its last connection is gone, because a dial that picked the
	// endpoint just before its removal may still register.
	removed map[string]time.Time
}

func newDrainState() drainState {
	return drainState{byAddr: map[string]map[*conn]struct{}{}, removed: map[string]time.Time{}}
}

// UpdateEndpoints tells the proxy the cluster's current endpoints. The
// balancer stops picking removed ones by itself; here their open
// connections are drained as Options.Drain says. Call it after updating
// the balancer, with every set discovery reports.
func (p *Proxy) UpdateEndpoints(addrs []string) {
	current := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		current[a] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := &p.drain
	now := time.Now()
	for addr := range d.current {
		if !current[addr] {
			d.removed[addr] = now
		}
	}
	for addr, conns := range d.byAddr {
		if !current[addr] {
			if _, ok := d.removed[addr]; !ok {
				d.removed[addr] = now
			}
			for c := range conns {
				p.scheduleDrainLocked(c, d.removed[addr])
			}
		}
	}
	d.current = current
	for addr, at := range d.removed {
		switch {
		case current[addr]:
			delete(d.removed, addr)
			for c := range d.byAddr[addr] {
				stopDrain(c)
			}
		case len(d.byAddr[addr]) == 0 && now.Sub(at) > p.opts.Drain.Grace+p.opts.DialTimeout:
			delete(d.removed, addr)
		}
	}
	p.stats.forget(current)
}

// scheduleDrainLocked arranges for c to be closed Grace after its
// endpoint's removal, in DrainClose mode. Called with Proxy.mu held.
func (p *Proxy) scheduleDrainLocked(c *conn, removedAt time.Time) {
	if p.opts.Drain.Mode != DrainClose || c.drainTimer != nil {
		return
	}
	wait := p.opts.Drain.Grace - time.Since(removedAt)
	c.drainTimer = time.AfterFunc(max(wait, 0), func() {
		p.log.Info("closing connection to removed endpoint", "endpoint", c.addr)
		c.kill(&p.stats.drainClosed)
	})
}

func stopDrain(c *conn) {
	if c.drainTimer != nil {
		c.drainTimer.Stop()
		c.drainTimer = nil
	}
}

// add lists c under its endpoint; a connection to an endpoint already
// removed drains from the removal's time. Called with Proxy.mu held.
func (d *drainState) add(p *Proxy, c *conn) {
	set := d.byAddr[c.addr]
	if set == nil {
		set = map[*conn]struct{}{}
		d.byAddr[c.addr] = set
	}
	set[c] = struct{}{}
	if at, ok := d.removed[c.addr]; ok {
		p.scheduleDrainLocked(c, at)
	}
}

// remove forgets c. Called with Proxy.mu held.
func (d *drainState) remove(c *conn) {
	stopDrain(c)
	set := d.byAddr[c.addr]
	delete(set, c)
	if len(set) == 0 {
		delete(d.byAddr, c.addr)
	}
}

// stopTimers cancels every pending drain; the caller closes the
// connections itself. Called with Proxy.mu held.
func (d *drainState) stopTimers() {
	for _, set := range d.byAddr {
		for c := range set {
			stopDrain(c)
		}
	}
}

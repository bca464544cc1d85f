package h2relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// redialAfter is how long an endpoint whose dial failed is skipped
// (calls picked for it are re-picked) before a new dial probes it.
const redialAfter = 500 * time.Millisecond

var errClosed = errors.New("h2relay: closed")

// transport holds one pool of upstream connections per endpoint.
type transport struct {
	o  *Options
	wg *sync.WaitGroup

	mu      sync.Mutex
	pools   map[poolKey]*pool
	lastSeq uint64
	closed  bool
}

// poolKey names a pool: an endpoint, reached with or without TLS.
type poolKey struct {
	addr string
	tls  *tls.Config
}

func (t *transport) pool(addr string, tlsConf *tls.Config) *pool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := poolKey{addr, tlsConf}
	p := t.pools[k]
	if p == nil {
		t.lastSeq++
		p = &pool{t: t, addr: addr, tls: tlsConf, seq: t.lastSeq, closed: t.closed, usedAt: time.Now()}
		t.pools[k] = p
	}
	return p
}

// dial connects to an endpoint, over TLS when configured.
func (t *transport) dial(addr string, tlsConf *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: t.o.ConnectTimeout}
	if tlsConf == nil {
		return d.Dial("tcp", addr)
	}
	cfg := tlsConf.Clone()
	cfg.NextProtos = []string{"h2"}
	nc, err := (&tls.Dialer{NetDialer: d, Config: cfg}).Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if p := nc.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		nc.Close()
		return nil, fmt.Errorf("%s negotiated %q, not h2", addr, p)
	}
	return nc, nil
}

func (t *transport) close() {
	t.mu.Lock()
	t.closed = true
	pools := t.pools
	t.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
}

// pool is the connections to one endpoint and the calls waiting for a
// stream slot on one of them (MAX_CONCURRENT_STREAMS, SETTINGS not yet
// received). Waiting calls are bound to no connection, so a GOAWAY
// never strands them.
type pool struct {
	t    *transport
	addr string
	tls  *tls.Config // nil: h2c
	seq  uint64      // orders the locking of two pools (see move)

	mu        sync.Mutex
	conns     []*upConn
	waiting   []*stream
	nwaiting  atomic.Int32
	dialing   bool
	dialErrAt time.Time
	closed    bool
	usedAt    time.Time // last offered a call (see transport.prune)
}

// enqueue queues s; false means the endpoint is closed or known down
// and s should be picked elsewhere.
func (p *pool) enqueue(s *stream) bool {
	p.mu.Lock()
	ok, refunds := p.enqueueLocked(s)
	p.mu.Unlock()
	applyRefunds(refunds, nil)
	return ok
}

func (p *pool) enqueueLocked(s *stream) (bool, []refund) {
	if !p.acceptsLocked() {
		return false, nil
	}
	s.up.closed = false
	s.up.pool.Store(p)
	p.waiting = append(p.waiting, s)
	p.nwaiting.Add(1)
	return true, p.dispatchLocked()
}

// acceptsLocked says whether calls may queue here: not when the pool is
// closed or its endpoint known down (then a dial probes it again once
// redialAfter has passed).
func (p *pool) acceptsLocked() bool {
	p.usedAt = time.Now()
	if p.closed || (p.liveLocked() == 0 && !p.dialErrAt.IsZero()) {
		if !p.closed && !p.dialing && time.Since(p.dialErrAt) > redialAfter {
			p.dialLocked()
		}
		return false
	}
	return true
}

// dropLocked takes a waiting call out of the queue (client gone).
func (p *pool) dropLocked(s *stream) {
	for i, w := range p.waiting {
		if w == s {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			p.nwaiting.Add(-1)
			return
		}
	}
}

// dispatchLocked starts waiting calls on connections with a free slot,
// in order, and dials when none has one.
func (p *pool) dispatchLocked() (refunds []refund) {
	for len(p.waiting) > 0 {
		uc := p.usableLocked()
		if uc == nil {
			p.growLocked()
			return refunds
		}
		s := p.waiting[0]
		sent, ok := uc.start(s)
		if !ok {
			uc.draining.Store(true)
			continue
		}
		p.waiting[0] = nil
		if len(p.waiting) == 1 {
			// Emptied in place: the next append reuses the slot
			// instead of growing a new array.
			p.waiting = p.waiting[:0]
		} else {
			p.waiting = p.waiting[1:]
		}
		p.nwaiting.Add(-1)
		if sent > 0 {
			refunds = append(refunds, refund{&s.down, sent})
		}
	}
	return refunds
}

func (p *pool) usableLocked() *upConn {
	for _, uc := range p.conns {
		if uc.ready && !uc.draining.Load() && uc.active.Load() < int32(uc.maxStreams) {
			return uc
		}
	}
	return nil
}

func (p *pool) liveLocked() int {
	n := 0
	for _, uc := range p.conns {
		if !uc.draining.Load() {
			n++
		}
	}
	return n
}

func (p *pool) growLocked() {
	if !p.dialing && !p.closed && p.liveLocked() < p.t.o.MaxConnsPerEndpoint {
		p.dialLocked()
	}
}

func (p *pool) dialLocked() {
	p.dialing = true
	p.t.wg.Add(1)
	go p.dial()
}

func (p *pool) dial() {
	defer p.t.wg.Done()
	nc, err := p.t.dial(p.addr, p.tls)
	p.mu.Lock()
	if err == nil && p.closed {
		nc.Close()
		err = errClosed
	}
	if err != nil {
		p.dialing = false
		failed := p.failedLocked()
		p.mu.Unlock()
		p.t.o.Logger.Warn("h2relay: dial failed", "endpoint", p.addr, "err", err)
		p.repick(failed, err)
		return
	}
	uc := newUpConn(p, nc)
	p.conns = append(p.conns, uc)
	p.mu.Unlock()
	uc.run()
}

func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	conns := slices.Clone(p.conns)
	failed := p.waiting
	p.waiting = nil
	for _, s := range failed {
		s.up.finishLocked()
	}
	p.mu.Unlock()
	for _, uc := range conns {
		uc.nc.Close()
	}
	for _, s := range failed {
		s.end(Outcome{Local: true}) // strait closed the pool: no fault of the endpoint
		s.failUnavailable("strait: upstream " + p.addr + " closed")
	}
}

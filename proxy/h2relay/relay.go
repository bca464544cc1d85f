package h2relay

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
)

// clockBase anchors sinceStart.
var clockBase = time.Now()

// sinceStart is a monotonic clock for call durations: one clock read,
// where time.Now takes two (wall and monotonic).
func sinceStart() time.Duration { return time.Since(clockBase) }

// Router maps a method path, "/pkg.Service/Method", to a cluster name.
// route.Table implements it.
type Router interface {
	Route(method string) (cluster string, ok bool)
}

// routes is an immutable routing table; a reload installs a new one.
type routes struct {
	router   Router
	clusters map[string]Balancer
	hedges   HedgeRouter // router, when it names hedging policies
}

// Server relays the h2c connections it accepts. Safe for concurrent use.
type Server struct {
	o      Options
	routes atomic.Pointer[routes]
	tr     *transport
	wg     sync.WaitGroup
	// replayMem is o.ReplayMemory.
	replayMem *ByteBudget

	// slots holds a token per client connection served (MaxConnections).
	slots chan struct{}

	mu       sync.Mutex
	lis      map[net.Listener]struct{}
	conns    map[*downConn]struct{}
	draining bool // Shutdown began: connections accepted now are closed
	stopped  bool
	quit     chan struct{}
}

// NewServer returns a Server routing with router to the clusters'
// balancers.
func NewServer(router Router, clusters map[string]Balancer, o Options) *Server {
	s := &Server{o: o.withDefaults(), lis: map[net.Listener]struct{}{}, conns: map[*downConn]struct{}{}, quit: make(chan struct{})}
	s.slots = make(chan struct{}, s.o.MaxConnections)
	s.SetRoutes(router, clusters)
	s.replayMem = s.o.ReplayMemory
	s.tr = &transport{o: &s.o, wg: &s.wg, pools: map[poolKey]*pool{}}
	s.wg.Add(2)
	go s.idleLoop()
	go s.shedLoop()
	if s.o.KeepaliveInterval > 0 {
		s.wg.Add(1)
		go s.tr.keepaliveLoop(s.quit)
	}
	return s
}

// SetRoutes switches to a new routing table. Calls already relayed keep
// the endpoint they started on.
func (s *Server) SetRoutes(router Router, clusters map[string]Balancer) {
	r := &routes{router: router, clusters: clusters}
	if hr, ok := router.(HedgeRouter); ok {
		r.hedges = hr
	}
	s.routes.Store(r)
}

// Route names the cluster that method goes to (for metrics labels, as
// proxy.Server.Route).
func (s *Server) Route(method string) (string, bool) {
	return s.routes.Load().router.Route(method)
}

func (s *Server) route(path string) (string, Balancer, bool) {
	r := s.routes.Load()
	name, ok := r.router.Route(path)
	if !ok {
		return "", nil, false
	}
	b, ok := r.clusters[name]
	return name, b, ok
}

// Serve accepts connections on lis until Stop; it returns nil then.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		lis.Close()
		return nil
	}
	s.lis[lis] = struct{}{}
	s.mu.Unlock()
	for {
		if !s.admit() {
			return nil
		}
		nc, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			stopped := s.stopped
			s.mu.Unlock()
			<-s.slots
			if stopped || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.ServeConn(nc)
			<-s.slots
		}()
	}
}

// admit waits until the Server may accept another connection: it
// serves fewer than MaxConnections and the Budget is not pressed. It
// returns false once the Server stops.
func (s *Server) admit() bool {
	select {
	case s.slots <- struct{}{}:
	case <-s.quit:
		return false
	}
	if !s.o.Budget.pressed() {
		return true
	}
	s.o.Budget.paused.Add(1)
	t := time.NewTicker(shedEvery)
	defer t.Stop()
	for s.o.Budget.pressed() {
		select {
		case <-t.C:
		case <-s.quit:
			<-s.slots
			return false
		}
	}
	return true
}

// ServeConn relays one connection that speaks HTTP/2 from its first
// byte (h2c with prior knowledge, or TLS after ALPN chose "h2"). It
// returns when the connection ends.
func (s *Server) ServeConn(nc net.Conn) {
	limitUnsent(nc, s.o.SocketUnsent)
	d := newDownConn(s, newConn(nc, &s.o))
	s.mu.Lock()
	if s.stopped || s.draining {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[d] = struct{}{}
	d.startFlusher(&s.wg)
	s.mu.Unlock()
	d.serve()
}

// downClosed counts a finished client stream; runs under c.mu.
func (s *Server) downClosed(c *conn) {
	d := c.down
	if d.open--; d.open == 0 {
		d.idleAt = time.Now()
	}
}

// observe reports a finished call to Options.Observe; runs under the
// client connection's mu.
func (s *Server) observe(st *stream) {
	if s.o.Observe == nil {
		return
	}
	o := Observation{Method: st.method, Cluster: st.cluster, Code: codes.Canceled, Duration: sinceStart() - st.start, Begun: st.begun}
	if st.coded {
		o.Code = st.code
	}
	if st.call != nil {
		o.Endpoint = st.call.Addr()
	}
	if st.detail != nil {
		st.detail.fill(&o, st.start)
	}
	s.o.Observe(o)
}

func (s *Server) forget(d *downConn) {
	s.mu.Lock()
	delete(s.conns, d)
	s.mu.Unlock()
}

func (s *Server) each(fn func(d *downConn)) {
	s.mu.Lock()
	ds := make([]*downConn, 0, len(s.conns))
	for d := range s.conns {
		ds = append(ds, d)
	}
	s.mu.Unlock()
	for _, d := range ds {
		fn(d)
	}
}

// idleLoop closes client and upstream connections that had no stream
// for IdleTimeout, and ends calls idle or queued for too long.
func (s *Server) idleLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.sweepPeriod())
	defer t.Stop()
	var streamsSwept time.Time
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			s.tr.reapIdle(now.Add(-s.o.IdleTimeout))
			s.tr.prune(now.Add(-s.o.IdleTimeout))
			s.each(func(d *downConn) {
				d.mu.Lock()
				switch {
				case !d.gone && d.open == 0 && now.Sub(d.idleAt) >= s.o.IdleTimeout:
					// As Shutdown does: streams the client opens
					// before it reads the GOAWAY are refused, never
					// sent upstream (the GOAWAY tells the client they
					// were not processed, and it retries them), and
					// the connection closes once the client has read
					// it: the PING's answer shows that.
					d.goAwayPingLocked(now)
				case d.gone && d.open == 0 && (d.drainAcked || now.Sub(d.goneAt) >= s.o.HandshakeTimeout):
					d.closeLocked()
				}
				d.mu.Unlock()
			})
			if s.o.StreamIdleTimeout > 0 && now.Sub(streamsSwept) >= s.o.StreamIdleTimeout/idleSweeps {
				streamsSwept = now
				s.sweepStreams()
			}
			if s.o.QueueTimeout > 0 {
				s.tr.expireQueued(sinceStart(), s.o.QueueTimeout)
			}
		}
	}
}

// drainPing is the payload of the PING that follows Shutdown's GOAWAY.
// Its acknowledgement shows that the client has read the GOAWAY: every
// stream it opened on the connection has arrived by then (a client
// writes in order), and it opens no more.
var drainPing = [8]byte{'d', 'r', 'a', 'i', 'n', 'i', 'n', 'g'}

// Shutdown stops accepting and sends every client GOAWAY and a PING; it
// refuses streams the client opened before reading the GOAWAY (with
// REFUSED_STREAM, which clients retry elsewhere) and waits for the calls
// it took to finish. A connection whose client has acknowledged the PING
// and has no call left is then closed gracefully: what is buffered goes
// out and the client closes its end first, so nothing in flight meets a
// reset. When ctx ends first, Shutdown stops everything at once.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.closeListeners()
	s.each(func(d *downConn) {
		d.mu.Lock()
		if !d.gone {
			d.goAwayPingLocked(time.Now())
		}
		d.mu.Unlock()
	})
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		settled := true
		s.each(func(d *downConn) {
			d.mu.Lock()
			if d.open == 0 && d.drainAcked {
				d.closeLocked()
			} else {
				settled = false
			}
			d.mu.Unlock()
		})
		if settled && s.noConns() {
			break
		}
		select {
		case <-ctx.Done():
			s.Stop()
			return
		case <-t.C:
		}
	}
	s.Stop()
}

// goAwayPingLocked tells the client to open no more streams, and asks
// with a PING when it has read that; d refuses streams from here on.
func (d *downConn) goAwayPingLocked(now time.Time) {
	d.gone, d.goneAt = true, now
	d.wfr.WriteGoAway(d.lastID, 0, nil)
	d.wfr.WritePing(false, drainPing)
	d.kick()
}

func (s *Server) noConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) == 0
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.lis {
		l.Close()
	}
}

// Stop closes every connection at once and waits for the relay's
// goroutines to end.
func (s *Server) Stop() {
	s.closeListeners()
	s.mu.Lock()
	first := !s.stopped
	s.stopped = true
	s.mu.Unlock()
	if first {
		close(s.quit)
	}
	s.each(func(d *downConn) { d.nc.Close() })
	s.tr.close()
	s.wg.Wait()
}

package h2relay

// OpenCounts is what a relay holds open, for tests that check every
// call gives back what it took.
type OpenCounts struct {
	ClientStreams int // open streams counted per client connection
	ClientLegs    int // streams in the client connections' maps
	UpstreamSlots int // stream slots taken on upstream connections
	UpstreamLegs  int // streams in the upstream connections' maps
	Waiting       int // calls queued for an upstream connection
}

// Open counts what srv holds open now.
func Open(srv *Server) OpenCounts {
	var n OpenCounts
	srv.each(func(d *downConn) {
		d.mu.Lock()
		n.ClientStreams += d.open
		n.ClientLegs += len(d.streams)
		d.mu.Unlock()
	})
	for _, p := range srv.tr.allPools(nil) {
		p.mu.Lock()
		n.Waiting += len(p.waiting)
		for _, uc := range p.conns {
			n.UpstreamSlots += int(uc.active.Load())
			uc.mu.Lock()
			n.UpstreamLegs += len(uc.streams)
			uc.mu.Unlock()
		}
		p.mu.Unlock()
	}
	return n
}

// Pools counts srv's upstream pools, one per endpoint (and TLS
// configuration) in use.
func Pools(srv *Server) int {
	srv.tr.mu.Lock()
	defer srv.tr.mu.Unlock()
	return len(srv.tr.pools)
}

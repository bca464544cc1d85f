package h2relay

// Waiting counts the calls queued in srv's pools for a connection, for
// tests that act while calls wait.
func Waiting(srv *Server) int {
	srv.tr.mu.Lock()
	defer srv.tr.mu.Unlock()
	n := 0
	for _, p := range srv.tr.pools {
		n += int(p.nwaiting.Load())
	}
	return n
}

// Conns counts the client connections srv serves.
func Conns(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// PlainHTTP2 returns o set to relay requests that are not gRPC calls,
// for the HTTP/2 conformance test.
func PlainHTTP2(o Options) Options {
	o.plainHTTP2 = true
	return o
}

// IdleHoldings counts, over srv's client connections, those that have a
// flusher goroutine, hold a read buffer, or hold a write buffer: an
// idle connection should have none of them.
func IdleHoldings(srv *Server) (flushers, readBufs, writeBufs int) {
	srv.each(func(d *downConn) {
		if d.flush.Load() != flushIdle {
			flushers++
		}
		if d.br.held.Load() {
			readBufs++
		}
		d.mu.Lock()
		if d.wbuf != nil {
			writeBufs++
		}
		d.mu.Unlock()
	})
	return flushers, readBufs, writeBufs
}

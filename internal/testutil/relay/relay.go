// Package relay is a loopback TCP relay that a test can cut and restore.
// Tests use it to partition one client from a server that stays up for
// everyone else, and to make a server's stop look like a crash to its
// clients (every connection drops at once).
package relay

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards every connection it accepts to a target address. While
// cut it does not listen, so clients are refused as by a dead host.
type Relay struct {
	t      testing.TB
	addr   string
	target string
	mu     sync.Mutex
	lis    net.Listener // nil while cut
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// Start relays a free loopback port to target until the test ends.
func Start(t testing.TB, target string) *Relay {
	t.Helper()
	r := &Relay{t: t, addr: "127.0.0.1:0", target: target, conns: map[net.Conn]struct{}{}}
	r.Restore()
	t.Cleanup(r.close)
	return r
}

// Addr is the host:port clients dial instead of the target.
func (r *Relay) Addr() string { return r.addr }

// Cut stops listening and closes every relayed connection.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lis != nil {
		r.lis.Close()
		r.lis = nil
	}
	for c := range r.conns {
		c.Close()
	}
}

// Restore listens again on the same address. It does nothing if the relay
// is not cut.
func (r *Relay) Restore() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lis != nil {
		return
	}
	lis, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("relay listen %s: %v", r.addr, err)
	}
	r.lis, r.addr = lis, lis.Addr().String()
	r.wg.Add(1)
	go r.accept(lis)
}

func (r *Relay) accept(lis net.Listener) {
	defer r.wg.Done()
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			continue
		}
		r.wg.Add(1)
		go r.serve(c)
	}
}

// track records c, unless the relay is cut.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lis == nil {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) serve(c net.Conn) {
	defer r.wg.Done()
	defer r.untrack(c)
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	if !r.track(up) {
		up.Close()
		return
	}
	defer r.untrack(up)
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}

func (r *Relay) untrack(c net.Conn) {
	c.Close()
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// close stops the relay and waits for its goroutines.
func (r *Relay) close() {
	r.Cut()
	r.wg.Wait()
}

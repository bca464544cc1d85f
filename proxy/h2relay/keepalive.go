package h2relay

import (
	"encoding/binary"
	"time"
)

// Upstream keep-alive finds connections whose peer vanished without a
// FIN or RST (host gone, a middlebox dropped the flow): a connection
// with streams on it that received nothing for KeepaliveInterval is
// sent a PING, and one that then receives nothing for KeepaliveTimeout
// is closed as lost.
//
// gRPC servers punish pings they find too frequent: grpc-go (and the
// C core, and Java) count a "strike" for a ping less than MinTime (5
// min by default) after the previous one, unless the server sent
// HEADERS or DATA in between, and for any ping without open streams;
// the third strike gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings". So
// the relay never pings without streams, and pings again before
// KeepaliveMinTime only after the peer acknowledged the previous ping
// and then sent HEADERS or DATA, which the peer wrote after it had
// judged that ping.
//
// One goroutine per relay sweeps every upstream connection; the read
// loops only raise flags, so the cost per frame is an atomic load.

// Keep-alive states of a connection's last ping (upConn.kaFree).
const (
	kaSent  = iota // sent, not acknowledged
	kaAcked        // acknowledged, nothing relayed since
	kaFree         // HEADERS or DATA arrived after the ack: the next ping costs no strike
)

// keepalive is the sweeper's own state of one connection.
type keepalive struct {
	lastRecv time.Time // the sweep that last saw a frame received
	pingAt   time.Time // an unanswered ping went out (zero: none)
	lastPing time.Time // the last ping went out (zero: never)
	seq      uint64
	lost     bool // closed for want of an answer
}

// sawFrame marks the connection alive; the reader calls it per frame.
func (uc *upConn) sawFrame() {
	if !uc.seen.Load() {
		uc.seen.Store(true)
	}
}

// sawStreamFrame notes HEADERS or DATA from the peer, which resets the
// peer's ping strikes once it acknowledged our last ping.
func (uc *upConn) sawStreamFrame() {
	if uc.kaFree.Load() == kaAcked {
		uc.kaFree.Store(kaFree)
	}
}

// onPingAck takes the acknowledgement of the last keep-alive ping.
func (uc *upConn) onPingAck(data [8]byte) {
	if binary.BigEndian.Uint64(data[:]) == uc.pingSeq.Load() {
		uc.kaFree.CompareAndSwap(kaSent, kaAcked)
	}
}

// keepaliveLoop sweeps the transport's connections until quit closes.
func (t *transport) keepaliveLoop(quit <-chan struct{}) {
	defer t.wg.Done()
	tick := max(min(t.o.KeepaliveInterval, t.o.KeepaliveTimeout)/4, 10*time.Millisecond)
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var pools []*pool
	var conns []*upConn
	for {
		select {
		case <-quit:
			return
		case now := <-tk.C:
			pools, conns = t.readyConns(pools[:0], conns[:0])
			for _, uc := range conns {
				uc.checkAlive(now)
			}
			clear(pools)
			clear(conns)
		}
	}
}

// readyConns appends every pool to pools and its handshaken
// connections to conns, taking one lock at a time.
func (t *transport) readyConns(pools []*pool, conns []*upConn) ([]*pool, []*upConn) {
	pools = t.allPools(pools)
	for _, p := range pools {
		p.mu.Lock()
		for _, uc := range p.conns {
			if uc.ready {
				conns = append(conns, uc)
			}
		}
		p.mu.Unlock()
	}
	return pools, conns
}

// checkAlive pings uc or closes it, as its silence calls for. Only the
// sweeper runs it, so uc.ka needs no lock.
func (uc *upConn) checkAlive(now time.Time) {
	ka := &uc.ka
	if ka.lost {
		return
	}
	if uc.seen.Swap(false) || ka.lastRecv.IsZero() {
		ka.lastRecv, ka.pingAt = now, time.Time{}
	}
	o := uc.o
	if !ka.pingAt.IsZero() {
		if now.Sub(ka.pingAt) >= o.KeepaliveTimeout {
			uc.lose(now)
		}
		return
	}
	if uc.active.Load() == 0 {
		// Pings without streams cost strikes; the silence of an idle
		// connection starts counting when it carries streams again.
		ka.lastRecv = now
		return
	}
	if now.Sub(ka.lastRecv) < o.KeepaliveInterval || !uc.pingAllowed(now) {
		return
	}
	uc.ping(now)
}

// lose closes uc; its reader then fails the calls on it as for any
// lost connection. The close runs apart because a TLS close first
// writes an alert, which a vanished peer can make wait for seconds.
func (uc *upConn) lose(now time.Time) {
	uc.ka.lost = true
	uc.o.Logger.Warn("h2relay: upstream keep-alive ping unanswered, closing the connection",
		"endpoint", uc.p.addr, "silent", now.Sub(uc.ka.lastRecv).Round(time.Millisecond))
	uc.p.t.wg.Add(1)
	go func() {
		defer uc.p.t.wg.Done()
		uc.nc.Close()
	}()
}

// pingAllowed says whether a ping now costs the peer no strike. The
// last ping was answered within KeepaliveTimeout, so waiting MinTime
// plus that keeps the pings MinTime apart on the peer's side too.
func (uc *upConn) pingAllowed(now time.Time) bool {
	ka := &uc.ka
	return ka.lastPing.IsZero() || uc.kaFree.Load() == kaFree ||
		now.Sub(ka.lastPing) >= uc.o.KeepaliveMinTime+uc.o.KeepaliveTimeout
}

func (uc *upConn) ping(now time.Time) {
	ka := &uc.ka
	ka.seq++
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], ka.seq)
	uc.pingSeq.Store(ka.seq)
	uc.kaFree.Store(kaSent)
	uc.mu.Lock()
	if !uc.dead && !uc.closing {
		uc.wfr.WritePing(false, data)
		uc.kick()
	}
	uc.mu.Unlock()
	ka.pingAt, ka.lastPing = now, now
}

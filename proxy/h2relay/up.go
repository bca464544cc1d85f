package h2relay

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

const maxStreamID = 1<<31 - 1

// maxStreamSlots caps an endpoint's MAX_CONCURRENT_STREAMS, which may be
// up to 2^32-1, where the relay compares it with an int32 count; a
// connection has fewer stream ids than that anyway.
const maxStreamSlots = 1<<31 - 1

// upConn is one connection to an endpoint. Its reader goroutine owns hr.
type upConn struct {
	*conn
	p      *pool
	hr     *headerReader
	nextID uint32 // guarded by conn.mu
	active atomic.Int32
	idleAt atomic.Int64 // unix nanoseconds when active last fell to 0

	draining   atomic.Bool // GOAWAY seen or ids exhausted: no new streams
	seen       atomic.Bool // a frame arrived since the last keep-alive sweep
	kaFree     atomic.Uint32
	pingSeq    atomic.Uint64 // payload of the last keep-alive ping
	ka         keepalive     // owned by the keep-alive sweeper
	ready      bool          // guarded by pool.mu: SETTINGS received
	maxStreams uint32        // guarded by pool.mu
}

func newUpConn(p *pool, nc net.Conn) *upConn {
	c := newConn(nc, p.t.o)
	uc := &upConn{conn: c, p: p, hr: newHeaderReader(1 << 20), nextID: 1, maxStreams: 100}
	c.up = uc
	c.startFlusher(p.t.wg)
	return uc
}

// run serves the connection on a goroutine of the transport; its
// flusher runs when there is something to write.
func (uc *upConn) run() {
	uc.p.t.wg.Add(1)
	go func() {
		defer uc.p.t.wg.Done()
		uc.serve()
	}()
}

// start sends s's request headers on a new stream, then what its
// queue and the windows allow. It fails when the connection cannot take
// new streams.
func (uc *upConn) start(s *stream) (sent int32, ok bool) {
	c := uc.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.closing || uc.nextID > maxStreamID {
		return 0, false
	}
	l := &s.up
	l.id = uc.nextID
	uc.nextID += 2
	l.sendWin, l.recvWin, l.grant = c.peerInitWin, c.o.upWindow(), c.o.upWindow()
	c.streams[l.id] = l
	s.upAt = c.handed + uint64(len(c.wbuf))
	end := len(l.queue) == 1 && l.queue[0].end && len(l.queue[0].data) == 0 && l.queue[0].fields == nil
	if end {
		l.queue = nil
		l.sentEnd = true
	}
	s.passDeadline(s.hdrs)
	c.writeHeadersLocked(l.id, s.hdrs, end)
	uc.active.Add(1)
	l.conn.Store(c)
	c.kick()
	return l.pumpLocked(nil), true
}

func (p *pool) redispatch() {
	defer p.t.wg.Done()
	p.mu.Lock()
	refunds := p.dispatchLocked()
	p.mu.Unlock()
	applyRefunds(refunds, nil)
}

func (uc *upConn) serve() {
	err := uc.handshake()
	for err == nil {
		if !uc.frameBuffered() {
			uc.rb.flush()
		}
		var f http2.Frame
		if f, err = uc.rfr.ReadFrame(); err == nil {
			uc.sawFrame()
			err = uc.handle(f)
		}
		if se, ok := streamError(err); ok {
			uc.abort(se.StreamID, se.Code, se)
			err = nil
		}
	}
	uc.rb.flush()
	uc.teardown(err)
	uc.br.release()
}

func (uc *upConn) handshake() error {
	uc.nc.SetReadDeadline(time.Now().Add(uc.o.HandshakeTimeout))
	uc.mu.Lock()
	uc.wbuf = append(uc.wbuf, http2.ClientPreface...)
	uc.writeSettingsLocked(http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	uc.mu.Unlock()
	f, err := uc.rfr.ReadFrame()
	if err != nil {
		return fmt.Errorf("upstream %s handshake: %w", uc.p.addr, err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	max, hasMax, err := uc.onSettings(sf)
	if err != nil {
		return err
	}
	if !hasMax {
		max = 1 << 20
	}
	max = min(max, maxStreamSlots)
	uc.nc.SetReadDeadline(time.Time{})
	uc.p.mu.Lock()
	uc.ready, uc.maxStreams = true, max
	uc.idleAt.Store(time.Now().UnixNano())
	uc.p.dialing = false
	uc.p.dialErrAt = time.Time{}
	refunds := uc.p.dispatchLocked()
	uc.p.mu.Unlock()
	applyRefunds(refunds, nil)
	return nil
}

func (uc *upConn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.DataFrame:
		uc.sawStreamFrame()
		return uc.onUpData(f)
	case *http2.HeadersFrame:
		uc.sawStreamFrame()
		return uc.onHeaders(f)
	case *http2.RSTStreamFrame:
		uc.onReset(f)
	case *http2.SettingsFrame:
		max, hasMax, err := uc.onSettings(f)
		if hasMax {
			uc.p.mu.Lock()
			uc.maxStreams = min(max, maxStreamSlots)
			refunds := uc.p.dispatchLocked()
			uc.p.mu.Unlock()
			applyRefunds(refunds, nil)
		}
		return err
	case *http2.PingFrame:
		if f.IsAck() {
			uc.onPingAck(f.Data)
		}
		uc.onPing(f)
	case *http2.WindowUpdateFrame:
		return uc.onWindowUpdate(f)
	case *http2.GoAwayFrame:
		uc.onGoAway(f)
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	return nil
}

// errNoTrailers describes a response that ended with DATA, not trailers.
const errNoTrailers = "ended the response without trailers"

func (uc *upConn) onUpData(f *http2.DataFrame) error {
	r, err := uc.onData(f)
	if err != nil || r.l == nil {
		return err
	}
	s := r.l.s
	if d := s.detail; d != nil {
		d.respBytes.Add(int64(len(r.data)))
	}
	if r.end && !r.over {
		// The response ended without trailers: no status, which gRPC
		// clients take for an Internal error. The endpoint broke the
		// protocol; the call ends here, with a status of the relay's.
		forwardData(r.l, r.data, false, &uc.rb)
		s.end(Outcome{Code: codes.Internal, Message: errNoTrailers})
		failDown(&s.down, codes.Internal, "strait: upstream "+uc.p.addr+" "+errNoTrailers)
		resetLeg(&s.up, http2.ErrCodeCancel) // the client may still be sending
		return nil
	}
	if !r.over {
		forwardData(r.l, r.data, r.end, &uc.rb)
		return nil
	}
	forwardData(r.l, r.data[:r.cut], false, &uc.rb)
	failDown(&s.down, codes.ResourceExhausted, fmt.Sprintf("strait: response message larger than max (limit %d)", uc.o.MaxMessageSize))
	uc.abort(r.l.id, http2.ErrCodeCancel, nil)
	uc.refund(r.l, int32(len(r.data)-r.cut), &uc.rb)
	return nil
}

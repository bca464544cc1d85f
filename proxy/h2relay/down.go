package h2relay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// downConn is a client connection. Its reader goroutine owns the fields
// below; open and lastID are read by others under conn.mu.
type downConn struct {
	*conn
	srv    *Server
	hr     *headerReader
	lastID uint32 // guarded by mu
	open   int    // guarded by mu
	idleAt time.Time
	gone   bool      // guarded by mu: GOAWAY sent, refuse new streams
	goneAt time.Time // guarded by mu: when gone was set
	exp    expiries  // guarded by mu
	// drainAcked is set, under mu, once the client acknowledged the
	// PING that followed Shutdown's GOAWAY.
	drainAcked bool

	resets, pings, settings, empties bucket
	reset                            recentResets // guarded by mu

	client string // the remote address, with Options.Detail only
}

func newDownConn(srv *Server, c *conn) *downConn {
	o := c.o
	d := &downConn{conn: c, srv: srv, hr: newHeaderReader(o.MaxHeaderListSize), idleAt: time.Now(),
		resets: newBucket(o.ResetRate), pings: newBucket(o.PingRate),
		settings: newBucket(o.SettingsRate), empties: newBucket(o.EmptyRate)}
	if o.Detail || o.Tracer != nil {
		d.client = c.nc.RemoteAddr().String()
	}
	c.down = d
	return d
}

// serve runs the connection until it ends; it returns once every leg on
// it has been closed and its peers told.
func (d *downConn) serve() {
	err := d.handshake()
	for err == nil {
		if !d.frameBuffered() {
			d.rb.flush()
		}
		var f http2.Frame
		if f, err = d.rfr.ReadFrame(); err == nil {
			err = d.handle(f)
		} else if errors.Is(err, http2.ErrFrameTooLarge) {
			err = http2.ConnectionError(http2.ErrCodeFrameSize)
		}
		if se, ok := streamError(err); ok {
			err = d.abort(se.StreamID, se.Code)
		}
	}
	d.rb.flush()
	d.teardown(err)
	d.br.release()
}

func (d *downConn) handshake() error {
	d.nc.SetReadDeadline(time.Now().Add(d.o.HandshakeTimeout))
	d.mu.Lock()
	d.writeSettingsLocked(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: d.o.MaxConcurrentStreams})
	d.mu.Unlock()
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(&d.br, preface[:]); err != nil {
		return err
	}
	if string(preface[:]) != http2.ClientPreface {
		return errors.New("h2relay: bad client preface")
	}
	f, err := d.rfr.ReadFrame()
	if err != nil {
		return err
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if err := d.handle(sf); err != nil {
		return err
	}
	return d.nc.SetReadDeadline(time.Time{})
}

func (d *downConn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.DataFrame:
		return d.onDownData(f)
	case *http2.HeadersFrame:
		return d.onHeaders(f)
	case *http2.RSTStreamFrame:
		return d.onReset(f)
	case *http2.SettingsFrame:
		if !d.settings.take() {
			return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
		}
		_, _, err := d.onSettings(f)
		return err
	case *http2.PingFrame:
		return d.onClientPing(f)
	case *http2.WindowUpdateFrame:
		if f.StreamID > d.lastID {
			return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream
		}
		return d.onWindowUpdate(f)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
		}
		return d.useless()
	case *http2.GoAwayFrame:
	case *http2.PushPromiseFrame, *http2.ContinuationFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	default:
		return d.useless()
	}
	return nil
}

// onClientPing answers a client's PING. Only a PING that follows
// another with nothing moved in between spends a token of the PING
// flood limit: gRPC clients ping once per batch of DATA they receive, to
// size their windows, so a busy honest client pings about as often as
// it is sent replies; a flood is PINGs with no stream traffic between.
func (d *downConn) onClientPing(f *http2.PingFrame) error {
	d.mu.Lock()
	moved := d.moved
	d.moved = false
	if !moved && !d.pings.take() {
		d.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	if f.IsAck() {
		if f.Data == drainPing {
			d.drainAcked = true
		}
	} else {
		d.wfr.WritePing(true, f.Data)
		d.flushSoonLocked()
	}
	d.mu.Unlock()
	return nil
}

// useless spends a token for a frame that carries no work.
func (d *downConn) useless() error {
	if !d.empties.take() {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

func (d *downConn) onDownData(f *http2.DataFrame) error {
	if len(f.Data()) == 0 && !f.StreamEnded() {
		// Padding is given back at once, so a padded frame without
		// payload costs no window either: only the flood limit bounds
		// it.
		if err := d.useless(); err != nil {
			return err
		}
	}
	r, err := d.onData(f)
	if err != nil || r.l != nil {
		if err == nil {
			err = d.relayData(r)
		}
		return err
	}
	d.mu.Lock()
	idle := f.StreamID > d.lastID
	d.mu.Unlock()
	if idle {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	return d.onClosedStream(f.StreamID, false)
}

// relayData forwards a client's DATA upstream, or ends the call when a
// message is over the size limit or the body disagrees with its
// content-length (RFC 9113 §8.1.1).
func (d *downConn) relayData(r received) error {
	s := r.l.s
	if s.detail != nil {
		s.detail.reqBytes.Add(int64(len(r.data)))
	}
	if s.bodyLen += int64(len(r.data)); s.contentLen >= 0 && (s.bodyLen > s.contentLen || r.end && s.bodyLen != s.contentLen) {
		return http2.StreamError{StreamID: r.l.id, Code: http2.ErrCodeProtocol}
	}
	if !r.over {
		forwardData(r.l, r.data, r.end, &d.rb)
		return nil
	}
	if !d.resets.take() {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	failDown(r.l, codes.ResourceExhausted, fmt.Sprintf("strait: request message larger than max (limit %d)", d.o.MaxMessageSize))
	resetLeg(&s.up, http2.ErrCodeCancel)
	s.end(Outcome{Local: true})
	d.refund(r.l, int32(len(r.data)), &d.rb)
	return nil
}

func (d *downConn) onReset(f *http2.RSTStreamFrame) error {
	if !d.resets.take() {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	d.mu.Lock()
	l := d.streams[f.StreamID]
	if l == nil {
		idle := f.StreamID > d.lastID
		d.mu.Unlock()
		if idle {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	l.finishLocked()
	d.mu.Unlock()
	resetLeg(&l.s.up, http2.ErrCodeCancel)
	l.s.end(Outcome{Local: true})
	return nil
}

// abort ends a stream the client broke: it is reset, and so is its
// upstream half. A client can break streams on purpose (a WINDOW_UPDATE
// of 0, DATA after END_STREAM, a stream depending on itself, trailers
// without END_STREAM, a wrong content-length) to have the relay reset
// them for it, so each such reset spends a token of the rapid-reset
// budget as the client's own resets do. Refusals do not: the relay
// chose them, and a client that opened a stream it will refuse (over
// the cap, after a GOAWAY, under overload) retries it elsewhere.
func (d *downConn) abort(id uint32, code http2.ErrCode) error {
	if code != http2.ErrCodeRefusedStream && !d.resets.take() {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	d.mu.Lock()
	l := d.streams[id]
	if l != nil {
		l.finishLocked()
	}
	d.writeResetLocked(id, code)
	d.kick()
	d.mu.Unlock()
	if l != nil {
		resetLeg(&l.s.up, http2.ErrCodeCancel)
		l.s.end(Outcome{Local: true})
	}
	return nil
}

// teardown closes the connection and cancels every call on it.
func (d *downConn) teardown(err error) {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		d.o.Logger.Debug("h2relay: client connection ended", "remote", d.nc.RemoteAddr().String(), "err", err)
	}
	d.mu.Lock()
	legs := d.endLocked(err, d.lastID)
	d.stopTimersLocked()
	d.mu.Unlock()
	for _, l := range legs {
		resetLeg(&l.s.up, http2.ErrCodeCancel)
		l.s.end(Outcome{Local: true})
	}
	d.srv.forget(d)
}

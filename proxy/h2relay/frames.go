package h2relay

import (
	"errors"

	"golang.org/x/net/http2"
)

// received is a DATA frame accepted on a leg.
type received struct {
	l    *leg
	data []byte
	end  bool
	cut  int  // with over: where the oversized message starts
	over bool // a message exceeds the size limit
}

// onData applies a DATA frame's receive-window accounting and finds its
// leg. A nil leg means the stream is unknown (closed or never opened);
// its bytes are given back at once.
func (c *conn) onData(f *http2.DataFrame) (received, error) {
	n := int32(f.Length)
	data := f.Data()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recvWin -= n; c.recvWin < 0 {
		return received{}, http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	if c.up != nil && c.creditConnLocked(n) {
		// An upstream connection is shared by many clients' calls: its
		// window goes back as soon as bytes are held for a stream, so
		// a client slow to read holds only its own stream's window
		// (which bounds what is held for it), never the connection's.
		c.rb.add(c)
	}
	l := c.streams[f.StreamID]
	if l == nil {
		c.refundLocked(nil, n, &c.rb)
		return received{}, nil
	}
	if l.recvEnd {
		c.refundLocked(nil, n, &c.rb)
		return received{}, http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeStreamClosed}
	}
	if l.recvWin -= n; l.recvWin < 0 {
		c.refundLocked(nil, n, &c.rb)
		return received{}, http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
	}
	c.refundLocked(l, n-int32(len(data)), &c.rb) // padding
	c.moved = c.moved || len(data) > 0
	l.quiet = 0
	r := received{l: l, data: data, end: f.StreamEnded()}
	r.cut, r.over = l.msgs.feed(data, c.o.MaxMessageSize)
	if r.end && !r.over {
		l.recvEndLocked()
	}
	return r, nil
}

// onSettings applies the peer's SETTINGS and acknowledges them. It
// returns the peer's MAX_CONCURRENT_STREAMS when present.
func (c *conn) onSettings(f *http2.SettingsFrame) (maxStreams uint32, hasMax bool, err error) {
	if f.IsAck() {
		return 0, false, nil
	}
	var refunds []refund
	c.mu.Lock()
	err = f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			return c.setInitialWindowLocked(int32(s.Val), &refunds)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		case http2.SettingHeaderTableSize:
			c.hdr.setMaxTableSize(s.Val)
		case http2.SettingMaxConcurrentStreams:
			maxStreams, hasMax = s.Val, true
		case http2.SettingMaxHeaderListSize:
			c.peerMaxHeaders.Store(s.Val)
		}
		return nil
	})
	if err == nil {
		c.wfr.WriteSettingsAck()
		c.rb.add(c)
	}
	c.mu.Unlock()
	applyRefunds(refunds, &c.rb)
	return maxStreams, hasMax, err
}

// setInitialWindowLocked moves every stream's send window by the change.
func (c *conn) setInitialWindowLocked(v int32, refunds *[]refund) error {
	delta := v - c.peerInitWin
	c.peerInitWin = v
	for _, l := range c.streams {
		if int64(l.sendWin)+int64(delta) > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		l.sendWin += delta
		if delta > 0 && len(l.queue) > 0 {
			*refunds = append(*refunds, refund{l.peer(), l.pumpLocked(&c.rb)})
		}
	}
	return nil
}

// onWindowUpdate opens a send window and writes what it lets through.
func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	var refunds []refund
	c.mu.Lock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if int64(c.sendWin)+inc > maxWindow {
			c.mu.Unlock()
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		// A leg waits on the connection's window only while that window
		// is spent: pumping stops at the first window that runs out, and
		// every update that reopens this one pumps all legs. Otherwise
		// the update has no one to wake, which under gRPC load is nearly
		// always (peers send one with each window-sizing PING).
		spent := c.sendWin <= 0
		c.sendWin += int32(inc)
		if spent {
			refunds = c.pumpAllLocked(refunds, &c.rb)
		}
	} else if l := c.streams[f.StreamID]; l != nil {
		if int64(l.sendWin)+inc > maxWindow {
			c.mu.Unlock()
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
		}
		l.sendWin += int32(inc)
		refunds = append(refunds, refund{l.peer(), l.pumpLocked(&c.rb)})
	}
	c.mu.Unlock()
	applyRefunds(refunds, &c.rb)
	return nil
}

// onPing answers a PING, in the next write (see pingAckDelay).
func (c *conn) onPing(f *http2.PingFrame) {
	if f.IsAck() {
		return
	}
	c.mu.Lock()
	c.wfr.WritePing(true, f.Data)
	c.flushSoonLocked()
	c.mu.Unlock()
}

// pumpAllLocked pumps every leg with something queued.
func (c *conn) pumpAllLocked(refunds []refund, b *batch) []refund {
	for _, l := range c.streams {
		if len(l.queue) > 0 {
			refunds = append(refunds, refund{l.peer(), l.pumpLocked(b)})
		}
	}
	return refunds
}

type refund struct {
	l *leg
	n int32
}

func applyRefunds(rs []refund, b *batch) {
	for _, r := range rs {
		refundTo(r.l, r.n, b)
	}
}

// streamError finds a stream error (on a stream, not the connection)
// in err. It lives apart from the read loops because errors.As moves
// its target to the heap: inline, that cost an allocation per frame.
func streamError(err error) (http2.StreamError, bool) {
	if err == nil {
		return http2.StreamError{}, false
	}
	var se http2.StreamError
	ok := errors.As(err, &se) && se.StreamID != 0
	return se, ok
}

package h2relay

import "golang.org/x/net/http2"

// resetMemory is how many of the streams the relay reset last a client
// connection remembers.
const resetMemory = 16

// recentResets holds the ids of the streams the relay reset last on a
// client connection. Frames the client sent before it saw the reset are
// ignored on those (RFC 9113 §5.1, closed); a frame on any other closed
// stream is the client's error. Remembering a fixed number bounds the
// "while" the RFC leaves to the endpoint without a timer or a map: a
// client that resets or has streams reset faster than it sends on them
// only turns its late frames into the errors they would otherwise be.
type recentResets struct {
	ids  [resetMemory]uint32
	next uint8
}

func (r *recentResets) add(id uint32) {
	r.ids[r.next%resetMemory] = id
	r.next++
}

func (r *recentResets) has(id uint32) bool {
	for _, x := range r.ids {
		if x == id && id != 0 {
			return true
		}
	}
	return false
}

// writeResetLocked writes RST_STREAM for id and, on a client
// connection, remembers that the relay reset it.
func (c *conn) writeResetLocked(id uint32, code http2.ErrCode) {
	c.wfr.WriteRSTStream(id, code)
	if c.down != nil {
		c.down.reset.add(id)
	}
}

// onClosedStream answers a HEADERS or DATA frame for a stream the
// client opened that is no longer open. One the relay reset is ignored
// (HEADERS spends a token of the empty-frame limit: it costs a header
// decode and moves nothing); HEADERS on any other is a connection error,
// since the client ended or skipped the stream itself (RFC 9113 §5.1,
// §5.1.1); DATA on one is a stream error, the lesser answer the RFC
// allows.
func (d *downConn) onClosedStream(id uint32, headers bool) error {
	d.mu.Lock()
	ours := d.reset.has(id)
	d.mu.Unlock()
	switch {
	case ours && headers:
		return d.useless()
	case ours:
		return nil
	case headers:
		return http2.ConnectionError(http2.ErrCodeStreamClosed)
	}
	return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
}

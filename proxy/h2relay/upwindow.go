package h2relay

// upWindowStart is the receive window an upstream stream starts with
// when Options.StreamWindow is larger. Every call on an upstream
// connection shares it with every other, so what the endpoint sends
// for a client that does not read goes through before the replies of
// everyone else: a stream's window grows to StreamWindow only while its
// client takes what arrives for it, and a slow client's streams pull no
// more than this through the shared connection.
const upWindowStart = 64 << 10

// upWindow is the window an upstream stream starts with.
func (o *Options) upWindow() int32 { return min(o.StreamWindow, upWindowStart) }

// streamWindow is the receive window l is sized to: StreamWindow on a
// client connection, what the stream has grown to upstream.
func (c *conn) streamWindow(l *leg) int32 {
	if c.up != nil {
		return l.grant
	}
	return c.o.StreamWindow
}

// growLocked doubles an upstream stream's window, up to StreamWindow,
// and returns the bytes to add to its next WINDOW_UPDATE.
func (c *conn) growLocked(l *leg) int32 {
	if c.up == nil || l.grant >= c.o.StreamWindow {
		return 0
	}
	extra := min(l.grant, c.o.StreamWindow-l.grant)
	l.grant += extra
	return extra
}

// refundCaughtUp gives n bytes back to an upstream stream whose client
// took them at once: none is queued for it and its connection's write
// buffer is near empty. Such a stream's window may grow.
func refundCaughtUp(src *leg, n int32, b *batch) {
	c := src.conn.Load()
	if c == nil || n <= 0 {
		return
	}
	c.mu.Lock()
	c.refundStreamLocked(src, n, b, true)
	c.mu.Unlock()
}

// caughtUpLocked says whether what arrives for dst goes out without
// waiting: nothing queued on it, and its connection's write buffer
// under a quarter of Options.WriteBuffer.
func (dst *leg) caughtUpLocked() bool {
	c := dst.conn.Load()
	return c != nil && len(dst.queue) == 0 && len(c.wbuf) < c.o.WriteBuffer/4
}
